"""The bundled stand-in body (``addon/assets/standin_body.npz``): where it is and how to load it.

The file holds SMPL's arrays under SMPL's names, so whatever reads an SMPL
model reads it too (smplx: ``smplx.SMPL(data_struct=Struct(**arrays))``).
It is made by ``tools/build_standin_body.py`` from
:func:`addon.core.body.standin_build.build_standin_arrays`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STANDIN_PATH = Path(__file__).resolve().parents[2] / "assets" / "standin_body.npz"
FORMAT_VERSION = 1
NUM_JOINTS = 24
NUM_POSE_BASIS = 207  # 23 joints x 9 rotation-matrix entries: SMPL's pose-corrective basis
STANDIN_KEYS: tuple[str, ...] = (
    "v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f", "kintree_table",
    "shape_direction_names", "format_version",
)
_FLOAT_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights")
_INT_KEYS = ("f", "kintree_table", "format_version")


def _expected_shapes(vertex_count: int, shape_count: int, face_count: int) -> dict[str, tuple[int, ...]]:
    return {
        "v_template": (vertex_count, 3),
        "shapedirs": (vertex_count, 3, shape_count),
        "posedirs": (vertex_count, 3, NUM_POSE_BASIS),
        "J_regressor": (NUM_JOINTS, vertex_count),
        "weights": (vertex_count, NUM_JOINTS),
        "f": (face_count, 3),
        "kintree_table": (2, NUM_JOINTS),
        "shape_direction_names": (shape_count,),
        "format_version": (),
    }


def load_standin_arrays(path: str | Path = STANDIN_PATH) -> dict[str, np.ndarray]:
    """Load and check the stand-in body: SMPL-named arrays, floats as float64, indices int64.

    Returns v_template (V, 3) metres Y-up; shapedirs (V, 3, S) metres per unit
    beta; posedirs (V, 3, 207); J_regressor (24, V); weights (V, 24); f (F, 3)
    int64; kintree_table (2, 24) int64; shape_direction_names (S,) str;
    format_version () int64.
    Raises ValueError naming the file and the key when a key is missing, a
    shape is wrong, a face index is out of range or the format is unknown.
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as stored:
        missing = [key for key in STANDIN_KEYS if key not in stored.files]
        if missing:
            raise ValueError(f"{path}: missing key {missing[0]!r} (stand-in body needs {', '.join(STANDIN_KEYS)})")
        arrays = {key: stored[key] for key in STANDIN_KEYS}
    # 1. Shapes, sized from v_template, f and the names (the rest must agree).
    for key in ("v_template", "f", "shape_direction_names"):
        if arrays[key].ndim < 1:
            raise ValueError(f"{path}: key {key!r} must be an array, got a scalar")
    expected = _expected_shapes(len(arrays["v_template"]), len(arrays["shape_direction_names"]), len(arrays["f"]))
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise ValueError(f"{path}: key {key!r} has shape {arrays[key].shape}, expected {shape}")
    # 2. Kinds and values.
    for key in _FLOAT_KEYS:
        if not np.issubdtype(arrays[key].dtype, np.floating):
            raise ValueError(f"{path}: key {key!r} must hold floats, got {arrays[key].dtype}")
        arrays[key] = arrays[key].astype(np.float64)
    for key in _INT_KEYS:
        if not np.issubdtype(arrays[key].dtype, np.integer):
            raise ValueError(f"{path}: key {key!r} must hold integers, got {arrays[key].dtype}")
        arrays[key] = arrays[key].astype(np.int64)
    arrays["shape_direction_names"] = arrays["shape_direction_names"].astype(str)
    if int(arrays["format_version"]) != FORMAT_VERSION:
        raise ValueError(f"{path}: key 'format_version' is {int(arrays['format_version'])}, this code reads {FORMAT_VERSION}")
    faces = arrays["f"]
    if faces.size and (faces.min() < 0 or faces.max() >= len(arrays["v_template"])):
        raise ValueError(f"{path}: key 'f' indexes vertices outside 0..{len(arrays['v_template']) - 1}")
    return arrays
