"""Lying bodies levelled: a generated person lying down gets a back as flat as what it lies on.

The bundled model lays people down with the trunk pitched head-down by about 30 degrees and the
legs raised with it (patients in bed: head 0.46 m, pelvis 0.78 m, feet 1.35 m above the floor,
where the procedural clips it learned from have 0.72, 0.71 and 0.81 m); the head then hangs
below the mattress and the feet float. A lying body's back rests on a flat bed or floor, so
:func:`level_lying` turns the root of every lying frame about the pelvis, about the horizontal
axis across the trunk, by the angle between the trunk (pelvis -> neck) and the floor plane.

Lying is judged from the pose: the trunk at least LYING_FROM_DEG from vertical and the feet
not below the pelvis by more than LEGS_UNDER_M (a person bending over a bed has a horizontal
trunk too, on legs that stand under it). The correction fades in over LYING_FROM_DEG ..
LYING_FULL_DEG and LEGS_UNDER_M .. LEGS_STAND_M, so that sitting up, getting up and falling
pass through it smoothly, and is eased over SMOOTH_FRAMES frames.
"""

from __future__ import annotations

import numpy as np

from ..rotations import axis_angle_to_matrix
from ..skeleton import JOINT_INDEX
from ..time_series import centred_mean, smoothstep

LYING_FROM_DEG = 50.0  # trunk this far from vertical: the levelling starts
LYING_FULL_DEG = 70.0  # ... and is whole from here
LEGS_UNDER_M = 0.25  # feet at most this far below the pelvis: legs along the body, lying
LEGS_STAND_M = 0.45  # feet this far below it: legs under the body (standing, kneeling, crawling)
SMOOTH_FRAMES = 2  # the correction angle is averaged over this many frames either side
LYING = 0.5  # lying_weight from here on: the frame lies (what grounding, seating and the corrections go by)

_PELVIS, _NECK = JOINT_INDEX["pelvis"], JOINT_INDEX["neck"]
_FEET = [JOINT_INDEX["left_foot"], JOINT_INDEX["right_foot"]]


def lying_weight(joints: np.ndarray) -> np.ndarray:
    """(T, 22, 3) joints (m) -> (T,) in [0, 1]: how far each frame is a lying pose (module docstring)."""
    trunk = joints[:, _NECK] - joints[:, _PELVIS]
    # Measured from head-up: a trunk pitched head-down past the floor plane is lying too.
    from_vertical = np.degrees(np.arccos(np.clip(trunk[:, 2] / np.maximum(np.linalg.norm(trunk, axis=-1), 1e-9),
                                                 -1.0, 1.0)))
    legs_under = joints[:, _PELVIS, 2] - joints[:, _FEET, 2].min(axis=-1)
    return smoothstep(from_vertical, LYING_FROM_DEG, LYING_FULL_DEG) * \
        (1.0 - smoothstep(legs_under, LEGS_UNDER_M, LEGS_STAND_M))


def level_lying(rotations: np.ndarray, world: np.ndarray, joints: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's pose, (local rotations (T, 22, 3, 3) with joint 0 the root's world rotation,
    world rotations (T, 22, 3, 3), joints (T, 22, 3) m) as forward kinematics gives them -> the
    same three with every lying frame turned about its pelvis until the trunk lies level
    (weighted by :func:`lying_weight`). The pelvis stays where it is; the other local rotations
    are unchanged. float64."""
    rotations, world, joints = (np.asarray(a, dtype=np.float64) for a in (rotations, world, joints))
    weight = lying_weight(joints)
    if not weight.any():
        return rotations, world, joints
    trunk = joints[:, _NECK] - joints[:, _PELVIS]  # (T, 3)
    length = np.maximum(np.linalg.norm(trunk, axis=-1), 1e-9)
    pitch = np.arcsin(np.clip(trunk[:, 2] / length, -1.0, 1.0))  # elevation above the floor plane, rad
    across = np.cross(trunk, [0.0, 0.0, 1.0])  # horizontal, perpendicular to the trunk
    across /= np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-9)
    # Turning by -pitch about ``across`` (trunk x up) brings the trunk down to the floor plane.
    angle = centred_mean(-pitch * weight, 2 * SMOOTH_FRAMES + 1)
    correction = axis_angle_to_matrix(across * angle[:, None])  # (T, 3, 3)
    levelled = rotations.copy()
    levelled[:, 0] = correction @ rotations[:, 0]
    pelvis = joints[:, _PELVIS, None]
    turned = np.einsum("tij,tkj->tki", correction, joints - pelvis) + pelvis
    return levelled, correction[:, None] @ world, turned
