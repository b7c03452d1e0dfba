"""SMPL joints as COCO-17 keypoints, pinhole projection, and the mean keypoint distance.

The annotations of a Teton sequence are COCO-17 keypoints (see ``docs/teton_sequence.md``);
HMR2.0 predicts SMPL. Comparing the two (occlusion duplicates, thesis section 5.1;
matching tracks to annotations, draft eq. 4.3; refinement) needs one correspondence:

* the 12 body points map to SMPL joints directly: shoulders to SMPL's shoulder joints
  16/17, elbows 18/19, wrists 20/21, hips 1/2, knees 4/5, ankles 7/8. SMPL's hip joints
  sit a few centimetres inside COCO's (which are annotated on the skin), an offset of a few
  pixels at room distances; it is the same for every person, so comparisons stay fair.
* the 5 face points (nose, eyes, ears) have no SMPL joint; all of them map to the head
  joint 15, an approximation good to about 10 cm. :data:`COCO_BODY_ONLY` masks them out
  where the comparison should rest on reliable points only (the default everywhere here).
"""

from __future__ import annotations

import numpy as np

from ..camera import project_camera_points
from ..skeleton import JOINT_INDEX, NUM_JOINTS

COCO_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_COCO = 17
# COCO keypoint k is read from SMPL joint SMPL_FOR_COCO[k] (face points: the head, see above).
SMPL_FOR_COCO: tuple[int, ...] = (
    *(JOINT_INDEX["head"],) * 5,
    JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"],
    JOINT_INDEX["left_elbow"], JOINT_INDEX["right_elbow"],
    JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"],
    JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"],
    JOINT_INDEX["left_knee"], JOINT_INDEX["right_knee"],
    JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"],
)
# (17,) bool: True for the 12 body points whose SMPL joint is a real correspondence.
COCO_BODY_ONLY: np.ndarray = np.array([False] * 5 + [True] * 12)
COCO_BODY_ONLY.setflags(write=False)

# Points closer to the camera plane than this (metres) have no projection.
_MIN_DEPTH = 1e-6


def smpl_joints_to_coco(joints: np.ndarray) -> np.ndarray:
    """(..., 24, 3) SMPL joints -> (..., 17, 3) in COCO order (same units and frame).

    Works for numpy arrays and torch tensors (plain indexing).
    """
    if tuple(joints.shape[-2:]) != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be (..., {NUM_JOINTS}, 3), got {tuple(joints.shape)}")
    return joints[..., list(SMPL_FOR_COCO), :]


def project_opencv(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points (..., 3) to pixels (..., 2); NaN behind the
    camera, which every distance here ignores (see :func:`..camera.project_camera_points`)."""
    return project_camera_points(points, K, min_depth=_MIN_DEPTH)


def keypoint_distance(
    annotated: np.ndarray,
    predicted: np.ndarray,
    *,
    min_confidence: float = 0.0,
    body_only: bool = True,
) -> np.ndarray:
    """Mean pixel distance between annotated and predicted COCO keypoints, broadcasting.

    annotated: (..., 17, 3) pixels x, y and confidence in [0, 1].
    predicted: (..., 17, 2) pixels (e.g. projected SMPL joints); NaN rows are skipped.
    min_confidence: a keypoint counts where its confidence is > this (0: every annotated one).
    body_only: use only the 12 body points (:data:`COCO_BODY_ONLY`).
    Returns (...) pixels: the mean over the counted keypoints of ||annotated - predicted||_2,
    NaN where no keypoint counts (no evidence either way).
    """
    annotated = np.asarray(annotated, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if annotated.shape[-2:] != (NUM_COCO, 3):
        raise ValueError(f"annotated keypoints must be (..., 17, 3), got {annotated.shape}")
    if predicted.shape[-2:] != (NUM_COCO, 2):
        raise ValueError(f"predicted keypoints must be (..., 17, 2), got {predicted.shape}")
    # 1. Per-keypoint Euclidean distances (pixels), broadcast over the leading axes.
    distance = np.linalg.norm(annotated[..., :2] - predicted, axis=-1)
    # 2. Which keypoints count: confident, finite, and (optionally) body points.
    counts = (annotated[..., 2] > min_confidence) & np.isfinite(distance)
    if body_only:
        counts = counts & COCO_BODY_ONLY
    # 3. Mean over the counted keypoints; NaN where none counts.
    number = counts.sum(-1)
    total = np.where(counts, distance, 0.0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(number > 0, total / np.maximum(number, 1), np.nan)
