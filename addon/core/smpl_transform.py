"""Moving an SMPL body rigidly: the one place that gets SMPL's root offset right.

SMPL rotates the body about its rest pelvis J_0 (not the origin) and adds
``transl`` last, so the posed pelvis sits at J_0 + transl. Applying a rigid
transform x -> R x + t to the posed body therefore needs

    global_orient' = R @ global_orient
    transl'        = R (J_0 + transl) + t - J_0.
"""

from __future__ import annotations

import numpy as np

from .rotations import axis_angle_to_matrix, matrix_to_axis_angle


def transform_smpl(
    global_orient: np.ndarray,
    transl: np.ndarray,
    rest_pelvis: np.ndarray,
    rotation: np.ndarray,
    translation: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SMPL root parameters after moving the posed body by x -> rotation @ x + translation.

    global_orient: (..., 3) axis-angle radians; transl: (..., 3) metres;
    rest_pelvis: (3,) J_0 of the body's betas (template frame, metres);
    rotation: (3, 3); translation: (3,) metres (None: zero).
    Returns (global_orient', transl') with the input shapes.
    """
    R = np.asarray(rotation, dtype=np.float64)
    t = np.zeros(3) if translation is None else np.asarray(translation, dtype=np.float64)
    p = np.asarray(rest_pelvis, dtype=np.float64)
    orient = matrix_to_axis_angle(R @ axis_angle_to_matrix(np.asarray(global_orient, dtype=np.float64)))
    moved = (np.asarray(transl, dtype=np.float64) + p) @ R.T + t - p
    return orient, moved
