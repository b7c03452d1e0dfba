"""``clips_npz``: our own folder format for ready-made training clips, one ``.npz`` per clip.

Written by the procedural data set (and anything else that makes clips); read with
``np.load(allow_pickle=False)``, so strings are stored as numpy unicode arrays, never objects.

    <folder>/<name>.npz     read in sorted file-name order; sub-folders are ignored
      format        ()        str    "isynth-clip"
      version       ()        int    1
      fps           ()        float  frames per second
      roles         (P,)      str    "staff" | "patient" | "person", P in 1..4
      texts         (K,)      str    captions of the whole clip, K >= 0
      scene_points  (N, 3)    float  optional: metres, Z-up world (floor z = 0)
    and the motion, as EITHER
      features      (P, T, 264) float  representation.py's features, un-normalised
      rest_joints   (24, 3)     float  the skeleton they were encoded with (checked on reading)
    OR AMASS-style SMPL parameters per person (Z-up world, as motion/amass.py):
      poses         (P, T, 72)  float  axis-angle: global_orient, then body joints 1..23
      trans         (P, T, 3)   float  metres
      betas         (P, S)      float  optional (zeros)

Features are only usable with the rest skeleton they were made with: reading compares the
file's ``rest_joints`` with the training body's (1e-5 m) and refuses a mismatch. SMPL parameters
are resampled to the training fps and encoded at reading; features must already be at it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..data.clip import Clip, DatasetError, resample_clip
from ..motion.motion import Motion
from .features import FeatureClip, encode_clip

FORMAT = "isynth-clip"
VERSION = 1
_REST_TOLERANCE_M = 1e-5


def write_clip_npz(path: str | os.PathLike, clip: Clip | FeatureClip, rest_joints: np.ndarray | None = None) -> Path:
    """Write one clip file; a ``Clip`` as SMPL parameters, a ``FeatureClip`` as features.

    rest_joints: (24, 3) metres, required for a FeatureClip (the skeleton of its features).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "texts": np.array(list(clip.texts), dtype=np.str_).reshape(-1),
    }
    if isinstance(clip, FeatureClip):
        if rest_joints is None:
            raise ValueError("write_clip_npz: a FeatureClip needs the rest_joints its features were encoded with")
        arrays.update(
            fps=np.array(clip.fps),
            roles=np.array(clip.roles, dtype=np.str_),
            features=clip.features,
            rest_joints=np.asarray(rest_joints, dtype=np.float64),
        )
    else:
        arrays.update(
            fps=np.array(clip.fps),
            roles=np.array([m.role for m in clip.motions], dtype=np.str_),
            poses=np.stack([m.poses_72() for m in clip.motions]),
            trans=np.stack([m.transl for m in clip.motions]),
            betas=np.stack([m.betas for m in clip.motions]),
        )
    if clip.scene_points is not None:
        arrays["scene_points"] = np.asarray(clip.scene_points, dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def read_clips_npz(folder: str | os.PathLike, fps: float, rest_joints: np.ndarray) -> list[FeatureClip]:
    """Every ``*.npz`` of ``folder`` as a FeatureClip at ``fps``; DatasetError names the file and key."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: clips_npz folder not found")
    return [read_clip_npz(path, fps, rest_joints) for path in sorted(folder.glob("*.npz"))]


def read_clip_npz(path: Path, fps: float, rest_joints: np.ndarray) -> FeatureClip:
    """One clip file (module docstring) -> FeatureClip at ``fps``, encoded with ``rest_joints`` (24, 3)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: not a readable .npz without pickles ({error})") from None
    _expect(path, data, "format", FORMAT)
    _expect(path, data, "version", VERSION)
    clip_fps = _scalar(path, data, "fps")
    roles = _strings(path, data, "roles")
    texts = tuple(t for t in _strings(path, data, "texts") if t.strip())
    scene = data.get("scene_points")
    source = f"clips_npz:{path.stem}"
    try:
        if "features" in data:
            _check_rest(path, data, rest_joints)
            if abs(clip_fps - fps) > 1e-9:
                raise DatasetError(
                    f"{path}: 'fps' is {clip_fps} but training runs at {fps}; features cannot be resampled"
                )
            return FeatureClip(data["features"], roles, texts, clip_fps, scene, source)
        motions = _motions(path, data, roles, clip_fps, source)
        clip = Clip(motions=motions, texts=list(texts), scene_points=scene, source=source, split="train")
        return encode_clip(resample_clip(clip, fps), rest_joints)
    except DatasetError as error:
        message = str(error)
        raise (error if message.startswith(str(path)) else DatasetError(f"{path}: {message}")) from None
    except ValueError as error:  # a Motion field
        raise DatasetError(f"{path}: {error}") from None


def _motions(path: Path, data: dict, roles: tuple[str, ...], fps: float, source: str) -> list[Motion]:
    for key in ("poses", "trans"):
        if key not in data:
            raise DatasetError(f"{path}: missing key '{key}' (or give 'features')")
    poses, trans = np.asarray(data["poses"], dtype=np.float64), np.asarray(data["trans"], dtype=np.float64)
    persons = len(roles)
    if poses.ndim != 3 or poses.shape[0] != persons or poses.shape[2] != 72:
        raise DatasetError(f"{path}: 'poses': expected ({persons}, T, 72), got {poses.shape}")
    if trans.shape != poses.shape[:2] + (3,):
        raise DatasetError(f"{path}: 'trans': expected {poses.shape[:2] + (3,)}, got {trans.shape}")
    betas = np.asarray(data.get("betas", np.zeros((persons, 10))), dtype=np.float64)
    if betas.ndim != 2 or betas.shape[0] != persons:
        raise DatasetError(f"{path}: 'betas': expected ({persons}, S), got {betas.shape}")
    frames = poses.shape[1]
    return [
        Motion(
            global_orient=poses[p, :, :3],
            body_pose=poses[p, :, 3:].reshape(frames, 23, 3),
            transl=trans[p],
            betas=betas[p],
            fps=fps,
            role=roles[p],
            name=f"{source}/{p}",
        )
        for p in range(persons)
    ]


def _check_rest(path: Path, data: dict, rest_joints: np.ndarray) -> None:
    if "rest_joints" not in data:
        raise DatasetError(f"{path}: 'features' need the 'rest_joints' (24, 3) they were encoded with")
    stored = np.asarray(data["rest_joints"], dtype=np.float64)
    if stored.shape != (24, 3):
        raise DatasetError(f"{path}: 'rest_joints': expected (24, 3), got {stored.shape}")
    gap = float(np.abs(stored - np.asarray(rest_joints, dtype=np.float64)).max())
    if gap > _REST_TOLERANCE_M:
        raise DatasetError(
            f"{path}: 'rest_joints' differ from the training body's by {gap:.4f} m; re-encode the clip for this body"
        )


def _expect(path: Path, data: dict, key: str, value: object) -> None:
    if key not in data:
        raise DatasetError(f"{path}: missing key '{key}'")
    if data[key].shape != () or data[key].item() != value:
        raise DatasetError(f"{path}: '{key}' is {json.dumps(data[key].tolist())}, expected {value!r}")


def _scalar(path: Path, data: dict, key: str) -> float:
    if key not in data:
        raise DatasetError(f"{path}: missing key '{key}'")
    value = data[key]
    if value.shape != () or value.dtype.kind not in "fiu" or not np.isfinite(value) or float(value) <= 0:
        raise DatasetError(f"{path}: '{key}': expected one positive number, got {value!r}")
    return float(value)


def _strings(path: Path, data: dict, key: str) -> tuple[str, ...]:
    if key not in data:
        raise DatasetError(f"{path}: missing key '{key}'")
    value = data[key]
    if value.ndim != 1 or (value.size and value.dtype.kind != "U"):
        raise DatasetError(f"{path}: '{key}': expected a 1-D array of strings, got {value.dtype} {value.shape}")
    return tuple(str(v) for v in value)
