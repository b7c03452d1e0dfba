"""Find and read the user's licensed SMPL / SMPL-H model files, safely, into checked numpy arrays.

Files are never trusted: ``.npz`` is read with ``allow_pickle=False`` and
``.pkl`` through :mod:`.safe_pickle`. Every array is checked against the
others (V vertices, J joints, S shape and P pose directions) and errors name
the file and the key.

Normalised arrays (SMPL's names; V vertices, J joints = 24 SMPL / 52 SMPL-H):
    v_template (V, 3) float64 metres, Y up
    shapedirs (V, 3, S) float64 metres per unit beta
    posedirs (V, 3, P) float64, P = 9 (J - 1) pose-corrective directions
    J_regressor (J, V) float64, dense
    weights (V, J) float64 skinning weights
    f (F, 3) int64 triangle vertex indices
    kintree_table (2, J) int64: row 0 parents (root -1), row 1 joint ids 0..J-1
    hands_componentsl/r, hands_meanl/r: float64, passed through when present (SMPL-H)
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np

from .safe_pickle import load_safe_pickle

Gender = Literal["neutral", "male", "female"]
ModelKind = Literal["smpl", "smplh"]
GENDERS: tuple[Gender, ...] = ("neutral", "male", "female")
MODEL_KINDS: tuple[ModelKind, ...] = ("smpl", "smplh")
NUM_MODEL_JOINTS: dict[ModelKind, int] = {"smpl": 24, "smplh": 52}

REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f", "kintree_table")
OPTIONAL_KEYS = ("hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr")

# The official downloads: SMPL for Python v1.0.0 ("basicModel_*"/"basicmodel_*"),
# v1.1.0, SMPLify's neutral model, smplx's "SMPL_NEUTRAL.pkl" renames, MANO's
# SMPL-H "SMPLH_*.pkl" and AMASS's merged "smplh/<gender>/model.npz".
_BASIC_MODEL_TOKEN = {"neutral": "neutral", "male": "m", "female": "f"}


def candidate_names(gender: Gender, kind: ModelKind) -> list[str]:
    """Relative paths tried by :func:`find_model_file`, most preferred first (matched ignoring case).

    ``.npz`` comes before ``.pkl``: reading it involves no unpickling at all.
    """
    upper = gender.upper()
    names: list[str] = []
    if kind == "smpl":
        token = _BASIC_MODEL_TOKEN[gender]
        for folder in ("", "smpl/", "models/"):
            names += [f"{folder}SMPL_{upper}.npz", f"{folder}SMPL_{upper}.pkl"]
            names += [f"{folder}basicmodel_{token}_lbs_10_207_0_v{v}.pkl" for v in ("1.1.0", "1.0.0")]
    else:
        for folder in ("", "smplh/", "models/"):
            names += [f"{folder}SMPLH_{upper}.npz", f"{folder}SMPLH_{upper}.pkl"]
        names += [f"smplh/{gender}/model.npz", f"{gender}/model.npz"]
    return names


def _existing_ignoring_case(root: Path, relative: str) -> Path | None:
    """``root / relative`` if it is a file, matching each part's name ignoring case."""
    current = root
    for part in relative.split("/"):
        exact = current / part
        if exact.exists():
            current = exact
            continue
        if not current.is_dir():
            return None
        matches = sorted(p for p in current.iterdir() if p.name.lower() == part.lower())
        if not matches:
            return None
        current = matches[0]
    return current if current.is_file() else None


def find_model_file(model_dir: str | PathLike[str], gender: Gender, kind: ModelKind) -> Path:
    """The model file for ``gender`` and ``kind`` inside ``model_dir``.

    Raises ValueError for an unknown gender/kind, FileNotFoundError naming the
    folder and every name tried when nothing matches.
    """
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
    if kind not in MODEL_KINDS:
        raise ValueError(f"model kind must be one of {MODEL_KINDS}, got {kind!r}")
    root = Path(model_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"SMPL model folder does not exist: {root}")
    names = candidate_names(gender, kind)
    for name in names:
        found = _existing_ignoring_case(root, name)
        if found is not None:
            return found
    raise FileNotFoundError(
        f"no {kind.upper()} {gender} model file in {root}; tried (ignoring case): {', '.join(names)}"
    )


def load_model_arrays(path: str | PathLike[str], kind: ModelKind | None = None) -> dict[str, np.ndarray]:
    """The checked, normalised arrays (see the module docstring) of a ``.npz`` or ``.pkl`` model file.

    kind: require 24 (``'smpl'``) or 52 (``'smplh'``) joints; None accepts either.
    Raises ValueError naming the file and the key for anything missing or inconsistent.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        raw = _read_npz(path)
    elif suffix == ".pkl":
        raw = load_safe_pickle(path)
    else:
        raise ValueError(f"{path}: SMPL model files are .npz or .pkl, not '{path.suffix}'")
    return normalise_model_arrays(raw, str(path), kind)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The model keys of an ``.npz``; object arrays are refused (loading them means unpickling)."""
    try:
        npz = np.load(path, allow_pickle=False)
    except OSError:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected an .npz archive of named arrays, found a single array")
    arrays: dict[str, np.ndarray] = {}
    with npz:
        for key in REQUIRED_KEYS + OPTIONAL_KEYS:
            if key not in npz.files:
                continue
            try:
                arrays[key] = npz[key]
            except ValueError as exc:
                if "allow_pickle" not in str(exc):
                    raise ValueError(f"{path}: key '{key}' is unreadable ({exc})") from exc
                raise ValueError(
                    f"{path}: key '{key}' is an object array (pickled Python objects), which is never "
                    f"loaded because unpickling can run code; re-save the file with plain numeric arrays, "
                    f"e.g. np.savez(..., {key}=np.asarray(value, dtype=np.float64))"
                ) from None
    return arrays


def normalise_model_arrays(
    raw: Mapping[str, Any], source: str, kind: ModelKind | None = None
) -> dict[str, np.ndarray]:
    """Check ``raw`` SMPL-named arrays against each other and return fresh normalised copies.

    source: the file (or "stand-in") named in error messages. Extra keys are dropped.
    """
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise ValueError(f"{source}: missing key '{missing[0]}' (an SMPL model needs {', '.join(REQUIRED_KEYS)})")

    def fail(key: str, problem: str) -> ValueError:
        return ValueError(f"{source}: key '{key}' {problem}")

    v_template = _float_array(raw, "v_template", source)
    if v_template.ndim != 2 or v_template.shape[1] != 3 or len(v_template) == 0:
        raise fail("v_template", f"must be (V, 3), got {v_template.shape}")
    V = len(v_template)

    J_regressor = _float_array(raw, "J_regressor", source)
    if J_regressor.ndim != 2 or J_regressor.shape[1] != V:
        raise fail("J_regressor", f"must be (J, {V}), got {J_regressor.shape}")
    J = len(J_regressor)
    allowed_joints = (NUM_MODEL_JOINTS[kind],) if kind else tuple(NUM_MODEL_JOINTS.values())
    if J not in allowed_joints:
        expected = " or ".join(map(str, allowed_joints))
        raise fail("J_regressor", f"has {J} joints; expected {expected} (SMPL 24, SMPL-H 52)")

    shapedirs = _float_array(raw, "shapedirs", source)
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (V, 3) or shapedirs.shape[2] == 0:
        raise fail("shapedirs", f"must be ({V}, 3, S), got {shapedirs.shape}")

    posedirs = _float_array(raw, "posedirs", source)
    P = 9 * (J - 1)
    if posedirs.ndim == 2 and posedirs.shape == (P, V * 3):
        # The layout smplx keeps in memory: row p is direction p over x0 y0 z0 x1 ...
        posedirs = np.ascontiguousarray(posedirs.T.reshape(V, 3, P))
    if posedirs.shape != (V, 3, P):
        raise fail("posedirs", f"must be ({V}, 3, {P}) or ({P}, {V * 3}), got {posedirs.shape}")

    weights = _float_array(raw, "weights", source)
    if weights.shape != (V, J):
        raise fail("weights", f"must be ({V}, {J}), got {weights.shape}")

    faces = _int_array(raw, "f", source)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise fail("f", f"must be (F, 3), got {faces.shape}")
    if len(faces) and (faces.min() < 0 or faces.max() >= V):
        raise fail("f", f"indexes vertices outside 0..{V - 1}")

    kintree = _int_array(raw, "kintree_table", source)
    if kintree.shape != (2, J):
        raise fail("kintree_table", f"must be (2, {J}), got {kintree.shape}")
    kintree[0, 0] = -1  # the root's parent is stored as 2**32 - 1 (uint32 -1) in the official files
    if not np.array_equal(kintree[1], np.arange(J)):
        raise fail("kintree_table", "row 1 must list the joints 0..J-1 in order")
    if any(not 0 <= kintree[0, j] < j for j in range(1, J)):
        raise fail("kintree_table", "must list every parent before its child (row 0)")

    result = {
        "v_template": v_template, "shapedirs": shapedirs, "posedirs": posedirs,
        "J_regressor": J_regressor, "weights": weights, "f": faces, "kintree_table": kintree,
    }
    for key in OPTIONAL_KEYS:
        if key in raw:
            result[key] = _float_array(raw, key, source)
    return result


def _numeric(raw: Mapping[str, Any], key: str, source: str) -> np.ndarray:
    value = raw[key]
    if type(value).__module__.startswith("scipy.sparse"):
        value = value.toarray()  # a caller's in-memory sparse matrix (files arrive dense already)
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{source}: key '{key}' must be a numeric array, got dtype {array.dtype}")
    return array


def _float_array(raw: Mapping[str, Any], key: str, source: str) -> np.ndarray:
    """A float64 copy of ``raw[key]``, finite."""
    array = _numeric(raw, key, source).astype(np.float64)  # astype copies: callers never alias the input
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{source}: key '{key}' contains NaN or infinite values")
    return array


def _int_array(raw: Mapping[str, Any], key: str, source: str) -> np.ndarray:
    """An int64 copy of ``raw[key]``; float storage is accepted only for whole numbers."""
    array = _numeric(raw, key, source)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
        raise ValueError(f"{source}: key '{key}' must hold whole numbers")
    return array.astype(np.int64)
