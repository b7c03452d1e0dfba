"""Tracking per-frame predictions into people, and matching tracks to annotations.

Thesis draft, section 4.1: predictions P_i^(t) of frame t are assigned greedily to the
latest known tracks Q_j^(t-1) (eq. 4.1) under the cost eq. 4.2 (3D joint distance plus a
class term); the tracks are then matched greedily to the annotated tracks under eq. 4.3.
``identity_switches`` is the standard MOT ID-switch count, for evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .keypoints import NUM_COCO, keypoint_distance

MatchHorizon = Literal["track", "union"]


def greedy_assignment(cost: np.ndarray) -> list[tuple[int, int]]:
    """Eq. 4.1's greedy rule: repeatedly take the globally cheapest (row, column) pair
    whose row and column are both still free, until rows or columns run out.

    cost: (R, C); +inf entries are never taken. Ties go to the lower flat index
    (row-major), so the result is deterministic. Returns the (row, column) pairs in the
    order taken (cheapest first).
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be (R, C), got {cost.shape}")
    pairs: list[tuple[int, int]] = []
    if cost.size == 0:
        return pairs
    rows_free = np.ones(cost.shape[0], dtype=bool)
    cols_free = np.ones(cost.shape[1], dtype=bool)
    # Visiting every entry in ascending cost and skipping taken rows/columns is the same
    # as re-taking the argmin of the shrinking matrix, in O(RC log RC) instead of O((RC)^2).
    for flat in np.argsort(cost, axis=None, kind="stable"):
        r, c = divmod(int(flat), cost.shape[1])
        if not np.isfinite(cost[r, c]):
            break  # sorted: everything after is +inf (or NaN) too
        if rows_free[r] and cols_free[c]:
            pairs.append((r, c))
            rows_free[r] = cols_free[c] = False
            if not rows_free.any() or not cols_free.any():
                break
    return pairs


@dataclass
class _Track:
    """The latest state Q_j of one track: what the next frame's predictions are compared to."""

    joints: np.ndarray  # (J, 3) metres, the last assigned prediction
    last_frame: int
    class_counts: dict[int, int]

    def add(self, joints: np.ndarray, frame: int, class_id: int) -> None:
        self.joints, self.last_frame = joints, frame
        self.class_counts[class_id] = self.class_counts.get(class_id, 0) + 1

    @property
    def class_id(self) -> int:
        # The most frequent class so far (ties: the lowest id), so one mislabelled
        # detection does not flip the track's class for the frames after it.
        best = max(self.class_counts.values())
        return min(c for c, count in self.class_counts.items() if count == best)


def tracking_cost(
    joints: np.ndarray,
    class_id: np.ndarray,
    track_joints: np.ndarray,
    track_class: np.ndarray,
    *,
    alpha: float = 1.0,
    beta: float = 0.5,
) -> np.ndarray:
    """Eq. 4.2 between M predictions and A tracks:

        L_track(P, Q) = alpha * mean_j ||P_j - Q_j||_2 + beta * ||onehot(P) - onehot(Q)||_inf.

    joints: (M, J, 3) metres; class_id: (M,) int; track_joints: (A, J, 3); track_class: (A,).
    The thesis writes ||P_3D kpts - Q_3D kpts||_2; the mean per-joint distance used here
    (metres, MPJPE) is that norm's per-joint counterpart, independent of J, so alpha and
    beta keep their meaning (beta: metres a class disagreement is worth at alpha = 1).
    The inf-norm of a one-hot difference is 1 exactly when the classes differ.
    Returns (M, A).
    """
    # 1. alpha * mean 3D joint distance, every prediction against every track.
    distance = np.linalg.norm(joints[:, None] - track_joints[None], axis=-1).mean(-1)
    # 2. beta * [class differs]: the inf-norm of the one-hot difference.
    differs = np.asarray(class_id)[:, None] != np.asarray(track_class)[None, :]
    return alpha * distance + beta * differs


def track(
    frames: np.ndarray,
    joints3d: np.ndarray,
    class_id: np.ndarray,
    *,
    alpha: float = 1.0,
    beta: float = 0.5,
    max_cost: float = 2.0,
    max_gap: int = 10,
    keep: np.ndarray | None = None,
    gap_weight: float = 0.1,
) -> np.ndarray:
    """Track ids for per-frame predictions (thesis draft eq. 4.1-4.2).

    frames: (N,) int frame index per prediction (any order).
    joints3d: (N, J, 3) metres, the predicted joints, all in one frame (world or camera).
    class_id: (N,) int predicted class (staff / patient / person).
    alpha, beta: the weights of eq. 4.2 (:func:`tracking_cost`); beta = 0 ignores classes.
    max_cost: a (prediction, track) pair costing more is never assigned; the prediction
        starts a new track instead (someone entering while another left far away). The
        default, 2 m-equivalent, covers walking (1.5 m/s) through a full ``max_gap`` of 10
        frames at 10 fps plus HMR2.0's depth error (tenths of a metre) and a class penalty.
    max_gap: a track last seen more than ``max_gap + 1`` frames ago, i.e. absent for more
        than ``max_gap`` frames, is not continued.
    keep: (N,) bool, rows to track (e.g. :func:`.duplicates.remove_occlusion_duplicates`);
        the others get id -1. None: all.
    gap_weight: cost added per frame a track has been absent (metres-equivalent). Without
        it, a spurious second track next to a person (from a duplicate or a wrong class)
        stays alive for max_gap frames and steals every other detection; with it the track
        that saw the person last keeps them (an addition to eq. 4.2).
    Returns (N,) int64 track ids 0, 1, ... in order of creation; -1 for rows not kept.

    Per frame t, in ascending order:
      1. the active tracks Q_j^(t-1): last seen within the gap limit;
      2. the cost matrix eq. 4.2 between the frame's predictions and those tracks,
         gated by ``max_cost``;
      3. eq. 4.1: greedily take the globally cheapest (prediction, track) pair until
         predictions or tracks run out;
      4. each assigned track becomes Q_j^(t) = the assigned prediction; its class is the
         majority of the classes assigned to it so far;
      5. every unassigned prediction starts a new track.
    """
    frames = np.asarray(frames)
    n = len(frames)
    joints3d = np.asarray(joints3d, dtype=np.float64)
    class_id = np.asarray(class_id)
    if frames.shape != (n,) or not np.issubdtype(frames.dtype, np.integer):
        raise ValueError(f"frames must be (N,) integers, got {frames.shape} {frames.dtype}")
    if joints3d.ndim != 3 or joints3d.shape[0] != n or joints3d.shape[2] != 3:
        raise ValueError(f"joints3d must be ({n}, J, 3) to match frames, got {joints3d.shape}")
    if class_id.shape != (n,) or not np.issubdtype(class_id.dtype, np.integer):
        raise ValueError(f"class_id must be ({n},) integers, got {class_id.shape} {class_id.dtype}")
    keep = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if keep.shape != (n,):
        raise ValueError(f"keep must be ({n},) bool, got {keep.shape}")
    if not np.isfinite(joints3d[keep]).all():
        raise ValueError("joints3d must be finite for the kept rows")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")

    ids = np.full(n, -1, dtype=np.int64)
    tracks: list[_Track] = []
    for t in np.unique(frames[keep]):
        rows = np.flatnonzero((frames == t) & keep)
        # 1. Active tracks: absent for at most max_gap frames.
        active = [k for k, q in enumerate(tracks) if t - q.last_frame - 1 <= max_gap]
        assigned: list[tuple[int, int]] = []
        if active:
            # 2. Eq. 4.2 against the latest state of each active track, gated.
            cost = tracking_cost(
                joints3d[rows], class_id[rows],
                np.stack([tracks[k].joints for k in active]),
                np.array([tracks[k].class_id for k in active]),
                alpha=alpha, beta=beta,
            )
            # The gap penalty ranks candidates; it does not gate them (max_gap does that).
            absent = np.array([t - tracks[k].last_frame - 1 for k in active], dtype=np.float64)
            cost = np.where(cost <= max_cost, cost + gap_weight * absent[None, :], np.inf)
            # 3. Eq. 4.1: greedy minimum-cost pairs.
            assigned = greedy_assignment(cost)
        taken = np.zeros(len(rows), dtype=bool)
        for r, a in assigned:
            # 4. The track's latest state becomes the assigned prediction.
            row, k = rows[r], active[a]
            tracks[k].add(joints3d[row], int(t), int(class_id[row]))
            ids[row] = k
            taken[r] = True
        for r in np.flatnonzero(~taken):
            # 5. A new track for every unassigned prediction.
            row = rows[r]
            ids[row] = len(tracks)
            tracks.append(_Track(joints3d[row], int(t), {int(class_id[row]): 1}))
    return ids


@dataclass(frozen=True)
class MatchCosts:
    """Eq. 4.3 for every (track, annotated track) pair.

    tracks: (A,) int track ids (rows); annotations: (G,) int annotated ids (columns);
    cost: (A, G) pixels (distances summed over frames, gamma per unmatched frame).
    """

    tracks: np.ndarray
    annotations: np.ndarray
    cost: np.ndarray


def match_costs(
    track_ids: np.ndarray,
    annotated_ids: np.ndarray,
    frames: np.ndarray,
    keypoints2d_pred: np.ndarray,
    keypoints2d_annot: np.ndarray,
    gamma: float,
    *,
    horizon: MatchHorizon = "track",
    min_confidence: float = 0.0,
) -> MatchCosts:
    """The matrix of eq. 4.3 (thesis draft):

        L_match(T, G) = sum_t  { ||a_T^(t) - b_G^(t)||   if G has a detection in frame t
                               { gamma                   otherwise

    over the frames t of track T; ||.|| is the mean body-keypoint pixel distance between
    T's predicted 2D keypoints and G's annotated ones in that frame
    (:func:`.keypoints.keypoint_distance`; a frame where no keypoint is confident costs gamma).
    horizon: ``"track"``: t runs over T's frames (as above); ``"union"``: additionally
        gamma for every frame where G is annotated and T is missing (gamma as the
        punishment for not detecting the person, both ways).

    track_ids: (N,) int, -1 for rows in no track.
    annotated_ids: (N,) int annotated track id per row, -1 for none.
    frames: (N,) int frame per row.
    keypoints2d_pred: (N, 17, 2) pixels, the row's prediction (projected SMPL joints as COCO).
    keypoints2d_annot: (N, 17, 3) pixels + confidence, the row's annotation.
    gamma: pixels per frame, >= 0.
    """
    track_ids, annotated_ids, frames = (np.asarray(a) for a in (track_ids, annotated_ids, frames))
    n = len(frames)
    for name, array in (("track_ids", track_ids), ("annotated_ids", annotated_ids), ("frames", frames)):
        if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name} must be ({n},) integers, got {array.shape} {array.dtype}")
    pred = np.asarray(keypoints2d_pred, dtype=np.float64)
    annot = np.asarray(keypoints2d_annot, dtype=np.float64)
    if pred.shape != (n, NUM_COCO, 2):
        raise ValueError(f"keypoints2d_pred must be ({n}, 17, 2), got {pred.shape}")
    if annot.shape != (n, NUM_COCO, 3):
        raise ValueError(f"keypoints2d_annot must be ({n}, 17, 3), got {annot.shape}")
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    if horizon not in ("track", "union"):
        raise ValueError(f"horizon must be 'track' or 'union', got {horizon!r}")
    if n and frames.min() < 0:
        raise ValueError("frames must be >= 0")

    tracks = np.unique(track_ids[track_ids >= 0])
    annotations = np.unique(annotated_ids[annotated_ids >= 0])
    cost = np.zeros((len(tracks), len(annotations)))
    num_frames = int(frames.max()) + 1 if n else 0
    for g, annotation in enumerate(annotations):
        # 1. The row annotating G in each frame (-1: G has no detection there).
        g_rows = np.flatnonzero(annotated_ids == annotation)
        if len(np.unique(frames[g_rows])) != len(g_rows):
            raise ValueError(f"annotated_ids: track {annotation} has two rows in one frame")
        row_of_g = np.full(num_frames, -1)
        row_of_g[frames[g_rows]] = g_rows
        for a, track_id in enumerate(tracks):
            rows = np.flatnonzero(track_ids == track_id)
            partner = row_of_g[frames[rows]]
            present = partner >= 0
            # 2. Where G has a detection: the keypoint distance (gamma if it has no evidence).
            distance = keypoint_distance(
                annot[partner[present]], pred[rows[present]], min_confidence=min_confidence
            )
            total = np.where(np.isnan(distance), gamma, distance).sum()
            # 3. gamma for each of T's frames where G has none.
            total += gamma * np.count_nonzero(~present)
            if horizon == "union":
                # 4. ... and for each of G's frames where T is missing.
                missing = ~np.isin(frames[g_rows], frames[rows])
                total += gamma * np.count_nonzero(missing)
            cost[a, g] = total
    return MatchCosts(tracks=tracks, annotations=annotations, cost=cost)


def match_tracks_to_annotations(
    track_ids: np.ndarray,
    annotated_ids: np.ndarray,
    frames: np.ndarray,
    keypoints2d_pred: np.ndarray,
    keypoints2d_annot: np.ndarray,
    gamma: float,
    *,
    horizon: MatchHorizon = "track",
    min_confidence: float = 0.0,
    max_cost: float = np.inf,
) -> dict[int, int]:
    """Track id -> annotated track id, greedily over the eq. 4.3 matrix (:func:`match_costs`).

    Each track and each annotated track is used at most once (the greedy rule of
    :func:`greedy_assignment`); tracks left over, or whose cheapest remaining pair costs
    more than ``max_cost`` pixels, are absent from the result.
    """
    costs = match_costs(
        track_ids, annotated_ids, frames, keypoints2d_pred, keypoints2d_annot, gamma,
        horizon=horizon, min_confidence=min_confidence,
    )
    gated = np.where(costs.cost <= max_cost, costs.cost, np.inf)
    return {int(costs.tracks[a]): int(costs.annotations[g]) for a, g in greedy_assignment(gated)}


def identity_switches(pred_ids: np.ndarray, true_ids: np.ndarray, frames: np.ndarray) -> int:
    """The MOT identity-switch count (Bernardin & Stiefelhagen 2008, CLEAR MOT).

    pred_ids: (N,) int predicted track per detection row, -1 for none.
    true_ids: (N,) int true identity per row, -1 for spurious rows.
    frames: (N,) int.
    Going through each true identity's rows in frame order, a switch is counted each time
    its predicted track differs from the last predicted track it had (rows with either id
    -1 are skipped, so a missed frame is not a switch, but coming back under another
    track is).
    """
    pred_ids, true_ids, frames = (np.asarray(a) for a in (pred_ids, true_ids, frames))
    n = len(frames)
    if pred_ids.shape != (n,) or true_ids.shape != (n,) or frames.shape != (n,):
        raise ValueError(
            f"pred_ids, true_ids and frames must all be (N,), got {pred_ids.shape}, {true_ids.shape}, {frames.shape}"
        )
    last: dict[int, int] = {}
    switches = 0
    for row in np.lexsort((np.arange(n), frames)):
        truth, pred = int(true_ids[row]), int(pred_ids[row])
        if truth < 0 or pred < 0:
            continue
        if truth in last and last[truth] != pred:
            switches += 1
        last[truth] = pred
    return switches
