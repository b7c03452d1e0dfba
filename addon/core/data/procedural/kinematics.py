"""Quaternion blending and forward kinematics for the procedural scripts (their bodies and foot
lock are :mod:`...motion.planted_feet`'s, their two-bone IK :func:`...motion.joint_ik.two_bone_ik`).

Frames: joint rotations live in SMPL's template frame (Y up, the body faces +z, its left is
+x); the world is Z up. A person's root rotation is Rz(yaw) @ Y_UP_TO_Z_UP @ tilt, with
``tilt`` a template-frame rotation (identity when upright, a quarter turn when lying).
Quaternions are (w, x, y, z) as in :mod:`...rotations`.
"""

from __future__ import annotations

import numpy as np

from ...axes import Y_UP_TO_Z_UP
from ...motion.planted_feet import ARMS, FOOT_JOINT_Z, LEGS, Body, foot_targets, rot_z
from ...rotations import axis_angle_to_matrix, axis_angle_to_quaternion, matrix_to_quaternion
from ...skeleton import JOINT_INDEX, NUM_JOINTS, forward_kinematics

J = JOINT_INDEX


def quats(rotvecs: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 4) quaternions."""
    return axis_angle_to_quaternion(np.asarray(rotvecs, dtype=np.float64))


def slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation of (..., 4) quaternions by w (broadcasts against (...,))."""
    q1 = np.where((q0 * q1).sum(-1, keepdims=True) < 0, -q1, q1)
    w = np.asarray(w, dtype=np.float64)[..., None]
    dot = np.clip((q0 * q1).sum(-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(dot)
    small = omega < 1e-6
    s = np.sin(np.where(small, 1.0, omega))
    a = np.where(small, 1.0 - w, np.sin((1.0 - w) * omega) / s)
    b = np.where(small, w, np.sin(w * omega) / s)
    q = a * q0 + b * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def root_rotation(yaw: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    """(T,) yaw, (T, 3, 3) tilt -> (T, 3, 3) world root rotations."""
    return rot_z(yaw) @ Y_UP_TO_Z_UP @ tilt


def pose_fk(body: Body, yaw: np.ndarray, local: np.ndarray, pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (T, 24, 3, 3) and joints (T, 24, 3) of a person.

    yaw: (T,) radians. local: (T, 24, 3, 3) with local[:, 0] the tilt. pelvis: (T, 3) m.
    """
    rotations = local.copy()
    rotations[:, 0] = root_rotation(yaw, local[:, 0])
    return forward_kinematics(rotations, body.rest, pelvis - body.rest[0])


def to_axis_angle_pose(local: np.ndarray, yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 24, 3, 3) local with the tilt in slot 0, (T,) yaw -> (global_orient (T, 3), body_pose (T, 23, 3))."""
    from ...rotations import matrix_to_axis_angle

    rotations = local.copy()
    rotations[:, 0] = root_rotation(yaw, local[:, 0])
    axis_angle = matrix_to_axis_angle(rotations)
    return axis_angle[:, 0], axis_angle[:, 1:]


def pose_matrix(spec: dict[str, tuple[float, float, float]]) -> np.ndarray:
    """{joint name: axis-angle (3,) radians} -> (24, 3, 3) local rotations (identity elsewhere);
    the key "tilt" fills slot 0."""
    rotvecs = np.zeros((NUM_JOINTS, 3))
    for name, value in spec.items():
        rotvecs[0 if name == "tilt" else J[name]] = value
    return axis_angle_to_matrix(rotvecs)


def matrix_quats(matrices: np.ndarray) -> np.ndarray:
    return matrix_to_quaternion(matrices)
