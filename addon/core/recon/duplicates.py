"""Masking HMR2.0 predictions that duplicate an occluding person (thesis section 5.1).

HMR2.0 runs on the crop of each annotated bounding box. When one person occludes
another, the crop of the occluded person is dominated by the occluder, and HMR predicts
the occluder a second time. The thesis handles it so: within a frame, the pairwise
keypoint distances over the bipartite graph {annotated 2D keypoints} x {projected SMPL
joints} are computed, and poses closest to *another* individual's annotated keypoints are
masked out.
"""

from __future__ import annotations

import numpy as np

from .keypoints import NUM_COCO, keypoint_distance


def occlusion_cost(
    keypoints: np.ndarray, projected: np.ndarray, *, min_confidence: float = 0.3
) -> np.ndarray:
    """The bipartite cost of one frame: C[a, p] = mean body-keypoint pixel distance
    between detection a's annotated keypoints and detection p's projected SMPL joints.

    keypoints: (M, 17, 3) annotated COCO keypoints (x, y pixels, confidence).
    projected: (M, 17, 2) pixels, each detection's SMPL joints as COCO keypoints, projected.
    Returns (M, M) pixels; NaN where annotation a has no keypoint above ``min_confidence``.
    """
    return keypoint_distance(
        keypoints[:, None], projected[None, :], min_confidence=min_confidence, body_only=True
    )


def remove_occlusion_duplicates(
    frame: np.ndarray,
    keypoints: np.ndarray,
    projected: np.ndarray,
    *,
    min_confidence: float = 0.3,
    margin_px: float = 0.0,
) -> np.ndarray:
    """Which detections keep their HMR2.0 prediction.

    frame: (N,) int frame index of each detection row.
    keypoints: (N, 17, 3) annotated COCO keypoints (x, y pixels, confidence in [0, 1]).
    projected: (N, 17, 2) pixels, the row's predicted SMPL joints mapped to COCO
        (:func:`.keypoints.smpl_joints_to_coco`) and projected (:func:`.keypoints.project_opencv`).
    min_confidence: annotated keypoints with confidence <= this are ignored.
    margin_px: a prediction is dropped only when another annotation is closer by more
        than this many pixels (0: the thesis' plain "closer").
    Returns keep: (N,) bool.

    The rule, per frame with detections 1..M (cost C from :func:`occlusion_cost`):
    prediction p is an occlusion duplicate, and masked out, when
        min_{a != p} C[a, p] + margin_px < C[p, p],
    i.e. its projection lies closer to another person's annotated keypoints than to the
    keypoints of the person whose crop it was predicted from (HMR predicted the occluding
    person twice). The occluder's own prediction, closest to its own annotation, is kept.
    A detection without confident annotated body keypoints (C[p, p] is NaN) cannot be
    judged and is kept; annotations without keypoints never count as "another person".
    """
    frame = np.asarray(frame)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    projected = np.asarray(projected, dtype=np.float64)
    n = len(frame)
    if frame.shape != (n,):
        raise ValueError(f"frame must be (N,), got {frame.shape}")
    if keypoints.shape != (n, NUM_COCO, 3):
        raise ValueError(f"keypoints must be ({n}, 17, 3) to match frame, got {keypoints.shape}")
    if projected.shape != (n, NUM_COCO, 2):
        raise ValueError(f"projected must be ({n}, 17, 2) to match frame, got {projected.shape}")
    if not margin_px >= 0:
        raise ValueError(f"margin_px must be >= 0, got {margin_px!r}")

    keep = np.ones(n, dtype=bool)
    for value in np.unique(frame):
        rows = np.flatnonzero(frame == value)
        if len(rows) < 2:
            continue
        # 1. Bipartite cost of the frame: annotations (rows of C) x predictions (columns).
        cost = occlusion_cost(keypoints[rows], projected[rows], min_confidence=min_confidence)
        own = np.diag(cost).copy()
        # 2. The nearest *other* annotation of each prediction (the diagonal excluded).
        others = cost.copy()
        np.fill_diagonal(others, np.nan)
        others = np.where(np.isnan(others), np.inf, others)
        nearest_other = others.min(axis=0)
        # 3. Closer to someone else's keypoints than to its own: HMR predicted the occluder.
        duplicate = np.isfinite(own) & (nearest_other + margin_px < own)
        keep[rows[duplicate]] = False
    return keep
