"""Read and write AMASS-style ``.npz`` motion files, with no axis conversion either way.

Two layouts are read:

* AMASS as shipped: ``poses`` (T, 72) SMPL or (T, 156) SMPL-H, ``trans`` (T, 3),
  ``betas`` (S,), ``mocap_framerate``, ``gender``, and ``dmpls`` (ignored: DMPL
  soft-tissue coefficients, which no SMPL body here uses).
* "AMASS processed", written by some tools: ``root_orient`` (T, 3), ``pose_body``
  (T, 63), optional ``pose_hand`` (T, 90), ``trans``, ``betas``, ``gender``,
  ``mocap_frame_rate``.

The frame rate may be under ``mocap_framerate`` or ``mocap_frame_rate``. Our own
optional keys: ``role``, ``labels`` (T,) int, ``name``. Files are always loaded with
``allow_pickle=False``: an ``.npz`` can carry pickles, and unpickling runs code.

SMPL-H joint layout (52 joints x 3 = 156): root (1), body (21, SMPL joints 1..21),
left hand (15), right hand (15). SMPL's 24 joints (72) end with ``left_hand`` and
``right_hand`` (joints 22, 23), which SMPL-H replaces by the two finger chains.
"""

from __future__ import annotations

import os
import secrets
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .motion import GENDERS, ROLES, Motion, MotionError

PathLike = str | os.PathLike

FRAMERATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
SMPL_POSES = 72  # 24 joints x 3
SMPLH_POSES = 156  # 52 joints x 3
_BODY = slice(3, 66)  # SMPL joints 1..21, the same in SMPL and SMPL-H
_HANDS = slice(66, 156)  # SMPL-H fingers, left 15 then right 15


class MotionFileError(MotionError):
    """A motion file is missing a key or holds a wrong value; the message names file and key.

    A ValueError (through MotionError), so ``except MotionError`` catches file problems too.
    """


def read_amass_npz(path: PathLike) -> Motion:
    """Load an AMASS-layout (or "AMASS processed") ``.npz`` into a Motion, unchanged.

    Values come through as stored (float64): no axis conversion, since AMASS is
    already Z up with ``global_orient`` applied to the Y-up template.
    SMPL-H files: ``body_pose`` joints 1..21 come from ``poses[:, 3:66]``; SMPL's
    joints 22/23 (``left_hand``/``right_hand``) do not exist in SMPL-H, whose fingers
    hang off the wrists instead, so they get zero rotation (the SMPL hand then
    follows its wrist rigidly) and the fingers go to ``hand_pose`` (T, 30, 3).
    Raises MotionFileError naming the file and the key for every problem in the
    file; OSError (FileNotFoundError, PermissionError) when it cannot be opened at all.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:  # OSError (no file, no access) passes through
        raise MotionFileError(f"{path}: not a readable .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a plain .npy loads as one array
        raise MotionFileError(f"{path}: not an .npz archive of named arrays (found a single array)")
    with archive:
        keys = set(archive.files)
        load = _Loader(path, archive)
        if "poses" in keys:
            poses = load.floats("poses", ndim=2)
            T = poses.shape[0]
            if poses.shape[1] == SMPL_POSES:
                global_orient, body_pose, hand_pose = poses[:, :3], poses[:, 3:].reshape(T, 23, 3), None
            elif poses.shape[1] == SMPLH_POSES:
                global_orient, body_pose = poses[:, :3], _smplh_body(poses[:, _BODY])
                hand_pose = poses[:, _HANDS].reshape(T, 30, 3)
            else:
                raise load.error(
                    "poses",
                    f"expected shape (T, {SMPL_POSES}) SMPL or (T, {SMPLH_POSES}) SMPL-H, got {poses.shape}"
                    + (" (SMPL-X files are not supported)" if poses.shape[1] == 165 else ""),
                )
            pose_key = "poses"
        elif "root_orient" in keys or "pose_body" in keys:
            global_orient = load.floats("root_orient", shape=(None, 3))
            T = global_orient.shape[0]
            body = load.floats("pose_body", shape=(T, 63), length_of="root_orient")
            body_pose = _smplh_body(body)
            hand_pose = None
            if "pose_hand" in keys:
                hand_pose = load.floats("pose_hand", shape=(T, 90), length_of="root_orient").reshape(T, 30, 3)
            pose_key = "root_orient"
        else:
            raise MotionFileError(
                f"{path}: missing key 'poses' (AMASS) or 'root_orient' + 'pose_body' (AMASS processed); "
                f"keys found: {sorted(keys)}"
            )
        transl = load.floats("trans", shape=(T, 3), length_of=pose_key)
        betas = load.floats("betas", ndim=1)
        fps = load.framerate()
        gender = load.choice("gender", GENDERS, default=None)
        role = load.choice("role", ROLES, default="person")
        labels = load.labels("labels", T) if "labels" in keys else None
        name = load.text("name") if "name" in keys else ""
    try:
        return Motion(global_orient, body_pose, transl, betas, fps, role, gender, hand_pose, labels, name)
    except MotionError as error:  # the checks above should make this unreachable
        raise MotionFileError(f"{path}: {error}") from None


def write_amass_npz(path: PathLike, motion: Motion) -> None:
    """Write ``motion`` to ``path`` (exactly that name, no suffix added) in the AMASS layout.

    Keys: ``poses`` (T, 72), or (T, 156) SMPL-H when the motion has ``hand_pose``;
    ``trans``, ``betas``, ``mocap_framerate`` and ``mocap_frame_rate`` (both, so every
    reader finds one), ``gender`` as a numpy unicode string, and ours: ``role``,
    ``name``, ``labels`` (when present). No pickles: it re-reads with
    ``allow_pickle=False``. Atomic: written to a temporary file in the same folder,
    then renamed over ``path``, so a failure leaves any old file untouched.
    """
    path = Path(path)
    try:
        motion.validate()
    except MotionError as error:
        raise MotionFileError(f"{path}: cannot write an invalid motion: {error}") from None
    T = motion.num_frames
    if motion.hand_pose is None:
        poses = motion.poses_72()
    else:
        # SMPL-H has no joints 22/23, so non-zero values there would be silently lost.
        extra = motion.body_pose[:, 21:]
        if np.any(extra != 0):
            raise MotionFileError(
                f"{path}: body_pose joints 22/23 (left_hand/right_hand) must be zero when the motion has "
                f"hand_pose, because SMPL-H files have no such joints (max |value| {np.abs(extra).max():.3g}); "
                "zero them or drop hand_pose"
            )
        body, hands = motion.body_pose[:, :21].reshape(T, 63), motion.hand_pose.reshape(T, 90)
        poses = np.concatenate([motion.global_orient, body, hands], axis=1)
    fps = np.array(motion.fps, dtype=np.float64)
    arrays: dict[str, np.ndarray] = {
        "poses": poses,
        "trans": motion.transl,
        "betas": motion.betas,
        "mocap_framerate": fps,
        "mocap_frame_rate": fps,
        "gender": np.array(motion.gender, dtype=np.str_),
        "role": np.array(motion.role, dtype=np.str_),
        "name": np.array(motion.name, dtype=np.str_),
    }
    if motion.labels is not None:
        arrays["labels"] = motion.labels
    for key, array in arrays.items():
        # np.savez would pickle object arrays silently; ours must re-read without pickles.
        if array.dtype == object:
            raise MotionFileError(f"{path}: key '{key}' would need pickle (object array)")
    _write_atomically(path, arrays)


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # Same folder as the target, so os.replace is a rename on one file system.
    # os.open with O_EXCL (not mkstemp) so the file gets the usual umask permissions.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **arrays)  # a file object: savez would append ".npz" to a name
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _smplh_body(body_63: np.ndarray) -> np.ndarray:
    """(T, 63) SMPL joints 1..21 -> (T, 23, 3) with joints 22/23 zero (SMPL-H has none)."""
    T = body_63.shape[0]
    body_pose = np.zeros((T, 23, 3), dtype=np.float64)
    body_pose[:, :21] = body_63.reshape(T, 21, 3)
    return body_pose


class _Loader:
    """Reads one key at a time from an open archive, raising MotionFileError that names file and key."""

    def __init__(self, path: Path, archive: Any) -> None:
        self.path = path
        self.archive = archive

    def error(self, key: str, problem: str) -> MotionFileError:
        return MotionFileError(f"{self.path}: key '{key}': {problem}")

    def raw(self, key: str) -> np.ndarray:
        if key not in self.archive.files:
            raise MotionFileError(f"{self.path}: missing key '{key}'; keys found: {sorted(self.archive.files)}")
        try:
            return self.archive[key]
        except ValueError as error:
            if "allow_pickle" in str(error):
                problem = "is an object array that needs pickle; refusing to unpickle (unpickling can run code)"
                raise self.error(key, problem) from None
            raise self.error(key, f"cannot be read ({error})") from None

    def floats(
        self,
        key: str,
        ndim: int | None = None,
        shape: tuple[int | None, ...] | None = None,
        length_of: str | None = None,
    ) -> np.ndarray:
        """float64 copy of ``key``, shape-checked (None in ``shape`` = any), finite per frame."""
        array = self.raw(key)
        if array.dtype.kind not in "iuf":
            raise self.error(key, f"expected numbers, got dtype {array.dtype}")
        array = array.astype(np.float64)
        if shape is not None:
            frames = shape[0]
            if length_of is not None and frames is not None and array.ndim >= 1 and array.shape[0] != frames:
                problem = f"has {array.shape[0]} frames but '{length_of}' has {frames} (length mismatch)"
                raise self.error(key, problem)
            if array.ndim != len(shape) or any(w is not None and g != w for g, w in zip(array.shape, shape)):
                wanted = "(" + ", ".join("T" if i == 0 else str(w) for i, w in enumerate(shape)) + ")"
                raise self.error(key, f"expected shape {wanted}, got {array.shape}")
        elif ndim is not None and array.ndim != ndim:
            raise self.error(key, f"expected a {ndim}-D array, got shape {array.shape}")
        finite = np.isfinite(array)
        if not finite.all():
            if array.ndim >= 2:
                frame = int(np.argmax(~finite.reshape(array.shape[0], -1).all(axis=1)))
                raise self.error(key, f"non-finite value (NaN or inf), first at frame {frame}")
            raise self.error(key, f"non-finite value (NaN or inf) at index {int(np.argmax(~finite))}")
        if array.ndim >= 1 and array.shape[0] == 0 and key != "betas":
            raise self.error(key, "has zero frames")
        return array

    def scalar(self, key: str) -> float:
        array = self.raw(key)
        if array.size != 1 or array.dtype.kind not in "iuf":
            raise self.error(key, f"expected a single number, got {array.dtype} array of shape {array.shape}")
        return float(array.reshape(()))

    def framerate(self) -> float:
        present = [key for key in FRAMERATE_KEYS if key in self.archive.files]
        if not present:
            raise MotionFileError(
                f"{self.path}: missing frame rate: neither key '{FRAMERATE_KEYS[0]}' nor '{FRAMERATE_KEYS[1]}'"
            )
        values = {key: self.scalar(key) for key in present}
        if len(set(values.values())) > 1:
            first, second = FRAMERATE_KEYS
            raise MotionFileError(f"{self.path}: keys '{first}' and '{second}' disagree: {values}")
        key, fps = next(iter(values.items()))
        if not np.isfinite(fps) or fps <= 0:
            raise self.error(key, f"frame rate must be a finite number > 0, got {fps}")
        return fps

    def text(self, key: str) -> str:
        """A str from a 0-d (or one-element) unicode or bytes array."""
        array = self.raw(key)
        if array.size != 1 or array.dtype.kind not in "US":
            raise self.error(key, f"expected a string, got {array.dtype} array of shape {array.shape}")
        value = array.reshape(()).item()
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise self.error(key, f"bytes are not UTF-8: {value!r}") from None
        return str(value)

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None) -> str:
        """``key`` as one of ``allowed`` (case and surrounding blanks ignored); required when default is None."""
        if key not in self.archive.files and default is not None:
            return default
        value = self.text(key)
        normalised = value.strip().lower()
        if normalised not in allowed:
            raise self.error(key, f"expected one of {allowed}, got {value!r}")
        return normalised

    def labels(self, key: str, T: int) -> np.ndarray:
        array = self.raw(key)
        if array.dtype.kind not in "iu":
            raise self.error(key, f"expected integer action ids, got dtype {array.dtype}")
        if array.shape != (T,):
            raise self.error(key, f"expected shape (T,) = ({T},), got {array.shape}")
        if T and (array.min() < -1 or array.max() > np.iinfo(np.int32).max):
            raise self.error(key, "ids must be in [-1, 2**31 - 1] (-1 = none)")
        return array.astype(np.int32)
