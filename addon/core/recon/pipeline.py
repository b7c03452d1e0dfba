"""Reconstruction: a Teton sequence in, a floor-aligned bundle out (thesis 5.1-5.3, draft 4.1-4.3).

Each step is a pure function in its own module; this file only chains them:

    1. depth restoration over all key frames (depth.py, thesis 5.1)
    2. back-projection of the static room, people excluded (backproject.py, draft eq. 4.4-4.5)
    3. floor plane, alignment camera -> world (floor.py, eq. 5.2-5.5)
    4. room points down-sampled to a budget; furniture boxes (furniture.py)
    5. people: camera-frame joints, occlusion duplicates removed (duplicates.py),
       roots moved to the world (eq. 5.5-5.6 via smpl_transform), tracking (eq. 4.1-4.2),
       matching to annotated tracks (eq. 4.3), smoothing (eq. 5.1), optional refinement
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from ..motion.motion import ROLES
from ..rotations import axis_angle_to_matrix
from ..skeleton import forward_kinematics
from ..smpl_transform import transform_smpl
from .backproject import PointCloud, point_cloud, voxel_downsample
from .bundle import Bundle
from .depth import fit_disparity_affine, restore_metric_depth
from .duplicates import remove_occlusion_duplicates
from .floor import align_smpl_roots, camera_to_world, fit_floor_plane, floor_alignment, transform_points
from .furniture import furniture_boxes
from .keypoints import project_opencv, smpl_joints_to_coco
from .palette import label_colors
from .sequence import Sequence
from .smoothing import lam_for_cutoff, smooth_track
from .tracking import match_tracks_to_annotations, track

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ReconstructionConfig:
    """Settings of :func:`reconstruct` (defaults follow the thesis where it gives numbers).

    point_budget: room points kept after voxel down-sampling.
    disparity_method: robust fit of eq. 5.1's depth restoration.
    smoothing_cutoff_hz: eq. 5.1's lambda, expressed as the cutoff of the equivalent filter.
    refine: SMPLify-style refinement of each track to its 2D keypoints (slow; off by default).
    min_track_frames: shorter tracks are dropped as spurious.
    track_depth_weight: how much the camera depth axis counts in the tracking distance.
    """

    point_budget: int = 200_000
    disparity_method: Literal["huber", "ransac"] = "huber"
    floor_inlier_threshold: float = 0.10
    remove_duplicates: bool = True
    track_alpha: float = 1.0
    track_beta: float = 0.5
    track_max_cost: float = 2.0
    track_max_gap: int = 10
    track_depth_weight: float = 0.25
    match_gamma: float = 200.0
    smoothing: bool = True
    smoothing_cutoff_hz: float = 2.0
    refine: bool = False
    refine_iterations: int = 5
    min_track_frames: int = 3
    seed: int = 0


@dataclass
class ReconstructionReport:
    """What the steps found, for evaluation and the log.

    fit: the disparity affine map; floor_normal_camera: (3,) unit; R, t: camera -> world;
    restored_depth: per key frame (H, W) metres; detection_tracks: (N,) track id per
    detection row (-1 dropped); kept: (N,) rows surviving the duplicate rule;
    raw_people: per person the unsmoothed world track (global_orient, body_pose, transl, valid, rows).
    """

    fit: object = None
    floor_normal_camera: np.ndarray | None = None
    R: np.ndarray | None = None
    t: np.ndarray | None = None
    restored_depth: list = None
    detection_tracks: np.ndarray | None = None
    kept: np.ndarray | None = None
    raw_people: list = None


class ReconstructionError(ValueError):
    """The sequence cannot be reconstructed (e.g. no floor visible); the message says why."""


def _room_cloud(sequence: Sequence, config: ReconstructionConfig, rng, progress: Progress):
    meta, K = sequence.meta, sequence.intrinsics()
    labels = list(meta.mask_labels)
    person_id = labels.index("person") if "person" in labels else -1
    disparities = [sequence.disparity(k) for k in meta.key_frames]
    metrics = [sequence.metric_depth(k) for k in meta.key_frames]
    masks = [sequence.mask(k) for k in meta.key_frames]
    progress("depth", 0.1)
    # 1. One (alpha, beta) for all key frames: the camera and the depth model are shared.
    fit = fit_disparity_affine(disparities, metrics, method=config.disparity_method, rng=rng)
    depths = [restore_metric_depth(d, fit) for d in disparities]
    progress("points", 0.3)
    # 2. People move: their pixels would smear through the room, so they are left out.
    static = [mask != person_id for mask in masks]
    cloud = point_cloud(depths, None, masks, K=K, valid=static)
    return cloud, fit, K, depths


def _align_floor(cloud: PointCloud, labels: list[str], config: ReconstructionConfig, rng):
    if "floor" not in labels:
        raise ReconstructionError("sequence.json: 'mask_labels' has no 'floor' label")
    floor_points = cloud.points[cloud.labels == labels.index("floor")]
    if len(floor_points) < 3:
        raise ReconstructionError("no floor points: the floor mask is empty in every key frame")
    # 3. Eq. 5.2-5.5: RANSAC plane (10 cm inliers), Rodrigues onto +Z, floor at z = 0.
    plane = fit_floor_plane(floor_points, rng, inlier_threshold=config.floor_inlier_threshold)
    R, t = floor_alignment(plane)
    return plane, R, t


def _people(sequence: Sequence, body, R, t, K, config: ReconstructionConfig, progress: Progress, report: ReconstructionReport) -> list[dict]:
    det, meta = sequence.detections, sequence.meta
    report.raw_people = []
    if len(det) == 0:
        report.detection_tracks, report.kept = np.zeros(0, int), np.zeros(0, bool)
        return []
    T = meta.num_frames
    betas = det.betas.astype(np.float64)
    rest = body.rest_joints_batch(betas)
    pose = np.concatenate([det.global_orient[:, None], det.body_pose], axis=1).astype(np.float64)
    local = axis_angle_to_matrix(pose)
    _, joints_camera = forward_kinematics(local, rest, det.cam_t.astype(np.float64))
    # 5a. The thesis' occlusion rule: a prediction closer to someone else's keypoints is a duplicate.
    projected = project_opencv(smpl_joints_to_coco(joints_camera), K)  # (N, 17, 2) pixels
    keep = np.ones(len(det), bool)
    if config.remove_duplicates:
        keep = remove_occlusion_duplicates(det.frame, det.keypoints, projected)
    # 5b. Roots into the world frame (eq. 5.5 for positions, R @ O for orientations, see floor.py).
    orient_w, transl_w = align_smpl_roots(det.global_orient.astype(np.float64), det.cam_t.astype(np.float64), rest[:, 0], R, t)
    # 5c. Eq. 4.1-4.2: greedy tracking on joints and classes. The 3D distance is measured in
    # the camera frame with the depth axis down-weighted: a monocular estimate errs mostly
    # along the viewing ray (tens of centimetres at 5 m), which would otherwise split tracks.
    tracking_space = joints_camera * np.array([1.0, 1.0, config.track_depth_weight])
    ids = track(
        det.frame, tracking_space, det.class_id, alpha=config.track_alpha, beta=config.track_beta,
        max_cost=config.track_max_cost, max_gap=config.track_max_gap, keep=keep,
    )
    report.detection_tracks, report.kept = ids, keep
    # 5d. Eq. 4.3: name tracks after annotated tracks where the annotation has them.
    names: dict[int, int] = {}
    if (det.track_id >= 0).any():
        names = match_tracks_to_annotations(
            ids, det.track_id, det.frame, projected,
            det.keypoints, config.match_gamma,
        )
    people = []
    track_list = [k for k in np.unique(ids) if k >= 0]
    for n, k in enumerate(track_list):
        rows = np.flatnonzero(ids == k)
        rows = rows[np.unique(det.frame[rows], return_index=True)[1]]  # one row per frame
        if len(rows) < config.min_track_frames:
            continue
        frames = det.frame[rows]
        track_betas = np.median(betas[rows], axis=0)
        # SMPL's pelvis is J_0(betas) + transl: keep each row's pelvis under the track's shape.
        pelvis = rest[rows, 0] + transl_w[rows]
        j0 = body.rest_joints(track_betas)[0]
        valid = np.zeros(T, bool)
        valid[frames] = True
        orient, body_pose, transl = np.zeros((T, 3)), np.zeros((T, 23, 3)), np.zeros((T, 3))
        orient[frames], body_pose[frames], transl[frames] = orient_w[rows], det.body_pose[rows], pelvis - j0
        actions = np.full(T, -1, np.int32)
        actions[frames] = det.action_id[rows]
        classes = Counter(meta.class_names[c] for c in det.class_id[rows])
        role = classes.most_common(1)[0][0]
        report.raw_people.append(
            {"global_orient": orient.copy(), "body_pose": body_pose.copy(), "transl": transl.copy(), "valid": valid.copy(), "rows": rows, "betas": track_betas}
        )
        if config.smoothing:
            # Eq. 5.1 on rotations (6D) and translations; gaps are filled smoothly.
            lam = lam_for_cutoff(config.smoothing_cutoff_hz, meta.fps)
            smoothed = smooth_track(orient, body_pose, transl, lam, valid)
            orient, body_pose, transl = smoothed.global_orient, smoothed.body_pose, smoothed.transl
        else:
            orient, body_pose, transl = _hold_gaps(orient, body_pose, transl, valid)
        if config.refine:
            orient, body_pose, transl = _refine(orient, body_pose, transl, track_betas, body, rows, frames, det, R, t, K, valid, config)
        people.append(
            {
                "role": role if role in ROLES else "person",
                "track": names.get(int(k), int(k)),
                "betas": track_betas,
                "global_orient": orient,
                "body_pose": body_pose,
                "transl": transl,
                "valid": valid,
                "actions": actions,
                "rows": rows,
            }
        )
        progress("people", 0.6 + 0.3 * (n + 1) / max(len(track_list), 1))
    return people


def _hold_gaps(orient, body_pose, transl, valid):
    """Without smoothing, missing frames repeat the nearest observed frame."""
    observed = np.flatnonzero(valid)
    nearest = observed[np.clip(np.searchsorted(observed, np.arange(len(valid))), 0, len(observed) - 1)]
    return orient[nearest], body_pose[nearest], transl[nearest]


def _refine(orient, body_pose, transl, betas, body, rows, frames, det, R, t, K, valid, config):
    """SMPLify-style refinement in the camera frame, then back to the world."""
    from .refine import refine_track

    rest = body.rest_joints(betas)
    inverse = R.T
    orient_c, transl_c = transform_smpl(orient, transl, rest[0], inverse, -inverse @ t)
    keypoints = np.zeros((len(valid), 17, 3))
    keypoints[frames] = det.keypoints[rows]
    orient_c, body_pose, transl_c, _ = refine_track(
        orient_c, body_pose, transl_c, rest, keypoints, K, valid=valid, iterations=config.refine_iterations
    )
    orient, transl = transform_smpl(orient_c, transl_c, rest[0], R, t)
    return orient, body_pose, transl


def reconstruct(
    sequence: Sequence,
    body,
    config: ReconstructionConfig = ReconstructionConfig(),
    progress: Progress | None = None,
    details: ReconstructionReport | None = None,
) -> Bundle:
    """The whole reconstruction of a read sequence; ``body`` is a core.body BodyModel.

    progress(stage, fraction in [0, 1]) is called along the way; ``details``, when given,
    is filled with the intermediate findings (see :class:`ReconstructionReport`).
    Raises ReconstructionError when the sequence cannot be lifted (e.g. no floor).
    """
    notify = progress or (lambda stage, fraction: None)
    found = details if details is not None else ReconstructionReport()
    rng = np.random.default_rng(config.seed)
    meta = sequence.meta
    labels = list(meta.mask_labels)
    cloud, fit, K, depths = _room_cloud(sequence, config, rng, notify)
    plane, R, t = _align_floor(cloud, labels, config, rng)
    found.fit, found.floor_normal_camera, found.R, found.t, found.restored_depth = fit, plane.normal, R, t, depths
    notify("floor", 0.45)
    world = PointCloud(points=transform_points(cloud.points, R, t), colors=None, labels=cloud.labels)
    world = voxel_downsample(world, point_budget=config.point_budget)
    boxes = furniture_boxes(world.points, world.labels, labels)
    notify("furniture", 0.55)
    people = _people(sequence, body, R, t, K, config, notify, found)
    furniture_points = np.concatenate([world.points[index] for _, index in boxes]) if boxes else np.zeros((0, 3))
    owners = np.concatenate([np.full(len(index), i, np.int32) for i, (_, index) in enumerate(boxes)]) if boxes else np.zeros(0, np.int32)
    P = len(people)
    bundle = Bundle(
        fps=meta.fps,
        image_size=tuple(meta.image_size),
        K=K,
        camera_to_world=camera_to_world(R, t),
        points=world.points.astype(np.float32),
        colors=label_colors(world.labels, labels),
        point_labels=world.labels.astype(np.int16),
        mask_labels=labels,
        action_names=list(meta.action_names),
        person_roles=[p["role"] for p in people],
        person_tracks=[p["track"] for p in people],
        person_names=[f"{p['role'].title()} {p['track']}" for p in people],
        person_betas=np.array([p["betas"] for p in people]).reshape(P, -1) if P else np.zeros((0, 10)),
        person_global_orient=np.array([p["global_orient"] for p in people]).reshape(P, meta.num_frames, 3),
        person_body_pose=np.array([p["body_pose"] for p in people]).reshape(P, meta.num_frames, 23, 3),
        person_transl=np.array([p["transl"] for p in people]).reshape(P, meta.num_frames, 3),
        person_valid=np.array([p["valid"] for p in people]).reshape(P, meta.num_frames),
        person_actions=np.array([p["actions"] for p in people], dtype=np.int32).reshape(P, meta.num_frames),
        furniture_labels=[box.label for box, _ in boxes],
        furniture_center=np.array([box.center for box, _ in boxes]).reshape(-1, 3),
        furniture_size=np.array([box.size for box, _ in boxes]).reshape(-1, 3),
        furniture_yaw_deg=np.array([box.yaw_deg for box, _ in boxes]),
        furniture_points=furniture_points.astype(np.float32),
        furniture_point_owner=owners,
        source=str(sequence.folder),
    )
    bundle.validate("reconstruction")
    notify("done", 1.0)
    return bundle
