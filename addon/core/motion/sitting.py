"""Which frames of a body sit: the pose test that generation's seating and the evaluation share.

A person-frame sits when it does not lie (``motion.level.lying_weight`` below LYING), the pelvis
is between SIT_PELVIS_MIN_M and SIT_PELVIS_MAX_M above the floor and the knees are at most
THIGH_DROP_M below it. Standing, walking and kneeling have the knees about half a metre below the
pelvis, a sitter's thighs are near level (the procedural sitters' knees: 0.0-0.1 m below it, the
bundled model's: 0.2-0.35 m), and a body sitting on the floor has its pelvis about 0.1 m up.
"""

from __future__ import annotations

import numpy as np

from .level import LYING, lying_weight

SIT_PELVIS_MIN_M = 0.3  # a sitting pelvis is this high at least (sitting on the floor: about 0.1 m)
SIT_PELVIS_MAX_M = 0.85  # ... and at most this high (standing and walking: 0.9 m and more)
THIGH_DROP_M = 0.35  # knees at most this far below the pelvis
_PELVIS, _LEFT_HIP, _RIGHT_HIP = 0, 1, 2
_KNEES = (4, 5)


def sitting_frames(joints: np.ndarray) -> np.ndarray:
    """(P, T, 22, 3) joints (m, Z up, floor z = 0) -> (P, T) bool: the frames whose pose sits
    (module docstring)."""
    joints = np.asarray(joints, dtype=np.float64)
    lying = np.stack([lying_weight(person) for person in joints]) >= LYING
    pelvis = joints[..., _PELVIS, 2]
    knees = joints[..., list(_KNEES), 2].mean(axis=-1)
    return ~lying & (pelvis >= SIT_PELVIS_MIN_M) & (pelvis <= SIT_PELVIS_MAX_M) & (knees >= pelvis - THIGH_DROP_M)


def heading(joints: np.ndarray) -> np.ndarray:
    """(..., 22, 3) joints -> (...) radians from +x, counter-clockwise: the way the body faces
    (the hips' left-to-right line turned a quarter to the front)."""
    left = np.asarray(joints)[..., _LEFT_HIP, :2] - np.asarray(joints)[..., _RIGHT_HIP, :2]
    return np.arctan2(-left[..., 0], left[..., 1])
