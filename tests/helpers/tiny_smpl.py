"""A tiny SMPL-format model (24 joints, a cube of 8 vertices per joint) in the official .npz layout.

Licensed SMPL files are never available to tests; this file has SMPL's keys,
shapes and conventions (Y-up template, kintree_table with root 4294967295) so the
real loading path (model_files -> BodyModel) runs on it.
"""

from pathlib import Path

import numpy as np

from addon.core.skeleton import PARENTS

SKELETON_Y_UP = np.array([
    [0.0, -0.22, 0.03], [0.06, -0.31, 0.02], [-0.06, -0.31, 0.02], [0.0, -0.11, 0.0],
    [0.11, -0.68, 0.02], [-0.11, -0.68, 0.02], [0.0, 0.03, 0.03], [0.07, -1.08, -0.02],
    [-0.07, -1.08, -0.02], [0.0, 0.08, 0.03], [0.12, -1.14, 0.1], [-0.12, -1.14, 0.1],
    [0.0, 0.29, 0.0], [0.08, 0.2, 0.01], [-0.08, 0.2, 0.01], [0.01, 0.38, 0.05],
    [0.19, 0.23, -0.02], [-0.19, 0.23, -0.02], [0.45, 0.21, -0.04], [-0.45, 0.21, -0.04],
    [0.71, 0.22, -0.04], [-0.71, 0.22, -0.04], [0.8, 0.21, -0.05], [-0.8, 0.21, -0.05],
])
_CUBE = np.array([[(i >> 0) & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], dtype=float) - 0.5
_CUBE_TRIANGLES = np.array(
    [[0, 2, 3], [0, 3, 1], [4, 5, 7], [4, 7, 6], [0, 1, 5], [0, 5, 4],
     [2, 6, 7], [2, 7, 3], [0, 4, 6], [0, 6, 2], [1, 3, 7], [1, 7, 5]]
)


def tiny_smpl_arrays(seed: int = 0, pose_correctives: bool = True) -> dict[str, np.ndarray]:
    """SMPL-named arrays: 192 vertices, cube edge 4 cm, each cube skinned to its joint
    (and blended half-half with the parent for the cube's upper half, to exercise LBS)."""
    rng = np.random.default_rng(seed)
    vertices = (SKELETON_Y_UP[:, None, :] + 0.04 * _CUBE[None]).reshape(-1, 3)
    faces = (np.arange(24)[:, None, None] * 8 + _CUBE_TRIANGLES[None]).reshape(-1, 3)
    weights = np.zeros((len(vertices), 24))
    for j in range(24):
        rows = slice(8 * j, 8 * j + 8)
        weights[rows, j] = 1.0
        if PARENTS[j] >= 0:
            upper = 8 * j + np.flatnonzero(_CUBE[:, 1] > 0)
            weights[upper, j] = 0.5
            weights[upper, PARENTS[j]] = 0.5
    regressor = np.zeros((24, len(vertices)))
    for j in range(24):
        regressor[j, 8 * j : 8 * j + 8] = 1.0 / 8.0
    kintree = np.stack([np.array(PARENTS, dtype=np.int64), np.arange(24)])
    kintree[0, 0] = 4294967295
    return {
        "v_template": vertices,
        "shapedirs": rng.normal(scale=0.01, size=(len(vertices), 3, 10)),
        "posedirs": rng.normal(scale=0.01, size=(len(vertices), 3, 207)) if pose_correctives
        else np.zeros((len(vertices), 3, 207)),
        "J_regressor": regressor,
        "weights": weights,
        "f": faces.astype(np.int64),
        "kintree_table": kintree,
    }


def write_tiny_smpl(folder: Path, seed: int = 0, pose_correctives: bool = True) -> Path:
    """Write SMPL_NEUTRAL.npz (official key layout) into ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "SMPL_NEUTRAL.npz"
    np.savez(path, **tiny_smpl_arrays(seed, pose_correctives))
    return path
