"""Whole-body poses built by the tests: standing, lying, bending, as features and joints on the stand-in body."""

import numpy as np

from addon.core.body.model import load_body_model
from addon.core.motion.motion import Motion
from addon.core.motion.representation import encode_motion, fk_joints_from_features
from addon.core.rotations import axis_angle_to_matrix, matrix_to_axis_angle

REST = load_body_model(None).rest_joints()  # (24, 3) template frame, metres
STANDING = np.array([np.pi / 2, 0.0, 0.0])  # global_orient of an upright body facing -y (Z-up world)
LYING = np.array([0.0, 0.0, -np.pi / 2])  # on the back, head towards +x


def motion(orient: np.ndarray, pelvis: np.ndarray, frames: int = 6, body_pose: np.ndarray | None = None,
           fps: float = 10.0) -> Motion:
    """A Motion holding one pose: global_orient ``orient`` (3,) or (T, 3) axis-angle, the pelvis at
    ``pelvis`` (3,) or (T, 3) metres, ``body_pose`` (23, 3) (default: zeros)."""
    pose = np.zeros((23, 3)) if body_pose is None else body_pose
    return Motion(global_orient=np.broadcast_to(orient, (frames, 3)).copy(), body_pose=np.tile(pose, (frames, 1, 1)),
                  transl=np.broadcast_to(pelvis, (frames, 3)) - REST[0], betas=np.zeros(10), fps=fps)


def features_of(m: Motion) -> np.ndarray:
    """(T, 264) features of a Motion on REST."""
    return encode_motion(m, REST)


def joints_of(m: Motion) -> np.ndarray:
    """(T, 22, 3) metres: forward kinematics of a Motion on REST."""
    return fk_joints_from_features(features_of(m).astype(np.float64), REST)


def turned(orient: np.ndarray, axis: np.ndarray, degrees: float) -> np.ndarray:
    """Axis-angle ``orient`` turned by ``degrees`` about the world ``axis`` (3,), applied after it."""
    extra = axis_angle_to_matrix(np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis) * np.radians(degrees))
    return matrix_to_axis_angle(extra @ axis_angle_to_matrix(np.asarray(orient, dtype=np.float64)))


def lowest_standing_pelvis() -> float:
    """The pelvis height (m) of the upright rest pose with its lowest joint on the floor."""
    return float(REST[0, 1] - REST[:22, 1].min())
