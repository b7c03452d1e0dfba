"""A short procedural motion for the demo: a person standing by the bed, waving.

Poses follow the Motion convention (AMASS: Y-up template, Z-up world).
"""

from __future__ import annotations

import numpy as np

from .motion.motion import Motion
from .rotations import axis_angle_to_matrix, matrix_to_axis_angle
from .skeleton import JOINT_INDEX


def _about(axis: str, radians: np.ndarray) -> np.ndarray:
    """Axis-angle (N, 3) for rotations about a template axis ("x", "y" or "z")."""
    out = np.zeros((np.size(radians), 3))
    out[:, "xyz".index(axis)] = radians
    return out


def waving_motion(
    position_xy: tuple[float, float] = (2.4, 1.6),
    facing_yaw_deg: float = -45.0,
    seconds: float = 2.0,
    fps: float = 30.0,
    pelvis_height: float = 0.93,
    betas: np.ndarray | None = None,
) -> Motion:
    """Standing with the left arm down and the right hand waving above the shoulder.

    facing_yaw_deg: rotation about world +Z of a body that faces -Y at 0 degrees.
    pelvis_height: metres of the pelvis above the floor (the caller can re-ground).
    """
    frames = int(round(seconds * fps))
    t = np.arange(frames) / fps
    yaw = axis_angle_to_matrix(np.array([0.0, 0.0, np.radians(facing_yaw_deg)]))
    upright = axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))  # Y-up template -> Z-up world
    global_orient = np.tile(matrix_to_axis_angle(yaw @ upright), (frames, 1))
    body_pose = np.zeros((frames, 23, 3))

    def set_joint(name: str, axis_angle: np.ndarray) -> None:
        body_pose[:, JOINT_INDEX[name] - 1] = axis_angle

    set_joint("left_shoulder", _about("z", np.full(frames, -np.radians(72.0))))
    set_joint("left_elbow", _about("y", np.full(frames, np.radians(15.0))))
    # The right arm lies along -X in the template: a negative turn about +Z raises it.
    set_joint("right_shoulder", _about("z", np.full(frames, -np.radians(40.0))))
    # The forearm swings up and down about the same axis, twice a second.
    set_joint("right_elbow", _about("z", -np.radians(55.0) + np.radians(25.0) * np.sin(2 * np.pi * 2.0 * t)))
    set_joint("left_knee", _about("x", np.full(frames, np.radians(4.0))))
    set_joint("right_knee", _about("x", np.full(frames, np.radians(4.0))))
    set_joint("neck", _about("y", np.radians(8.0) * np.sin(2 * np.pi * 0.5 * t)))
    transl = np.tile([position_xy[0], position_xy[1], pelvis_height], (frames, 1))
    return Motion(
        global_orient=global_orient,
        body_pose=body_pose,
        transl=transl,
        betas=np.zeros(10) if betas is None else betas,
        fps=fps,
        role="patient",
        name="demo_wave",
    )


def grounded(motion: Motion, lowest_z: float) -> Motion:
    """The motion moved vertically so that ``lowest_z`` (the body's lowest point, metres) lands on z = 0."""
    moved = motion.copy()
    moved.transl = moved.transl - np.array([0.0, 0.0, lowest_z])
    return moved
