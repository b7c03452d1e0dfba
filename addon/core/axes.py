"""The one place that converts between Y-up and Z-up frames.

World frame of this project (and Blender): metres, Z up, floor z = 0.
SMPL's template and HumanML3D are Y up (a person stands along +Y, faces +Z);
AMASS and InterHuman are already Z up. Converting Y-up -> Z-up is a +90 degree
rotation about X: (x, y, z) -> (x, -z, y).
"""

from __future__ import annotations

import numpy as np

from .rotations import axis_angle_to_matrix, matrix_to_axis_angle

Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
Z_UP_TO_Y_UP = Y_UP_TO_Z_UP.T


def points_y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """(..., 3) points or directions, Y-up -> Z-up."""
    return points @ Y_UP_TO_Z_UP.T


def points_z_up_to_y_up(points: np.ndarray) -> np.ndarray:
    """(..., 3) points or directions, Z-up -> Y-up."""
    return points @ Z_UP_TO_Y_UP.T


def global_orient_y_up_to_z_up(global_orient: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle root orientation of a Y-up body -> the same body in Z-up.

    The root rotation is pre-multiplied by the frame change: R' = C R. Root
    translation needs care too: SMPL rotates about the pelvis, not the origin, so
    convert ``transl`` together with the rest pelvis via :func:`transl_y_up_to_z_up`.
    """
    return matrix_to_axis_angle(Y_UP_TO_Z_UP @ axis_angle_to_matrix(global_orient))


def transl_y_up_to_z_up(transl: np.ndarray, rest_pelvis: np.ndarray) -> np.ndarray:
    """(..., 3) SMPL ``transl`` for the Z-up frame.

    SMPL places the pelvis at R @ 0 + rest_pelvis + transl (the root rotates about
    its own rest position). Rotating the posed body by C about the origin needs
    transl' = C (transl + p) - p, with p the rest pelvis (3,).
    """
    p = np.asarray(rest_pelvis, dtype=np.float64)
    return (np.asarray(transl) + p) @ Y_UP_TO_Z_UP.T - p
