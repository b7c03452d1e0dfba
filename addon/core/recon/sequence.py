"""Reading and writing Teton sequences, format version 1 (``docs/teton_sequence.md``).

A sequence folder holds ``sequence.json``, ``detections.npz``, per key frame
``depth/<k>_metric.npy``, ``depth/<k>_disparity.npy`` and ``masks/<k>.npy``, and
optionally ``ground_truth.npz`` (synthetic sequences). :func:`read_sequence` checks
everything when it reads (every field, shape, dtype, range, and every key-frame
file) and raises :class:`SequenceError` naming the file, relative to the sequence
folder, and the field. Arrays are never unpickled (``allow_pickle=False``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..camera import intrinsics_from_fov
from ..motion.motion import ROLES

FORMAT = "teton-sequence"
VERSION = 1
DEFAULT_HORIZONTAL_FOV_DEG = 90.0
FURNITURE_LABELS: tuple[str, ...] = ("bed", "chair", "sofa", "table", "wheelchair", "cabinet")
STRUCTURE_LABELS: tuple[str, ...] = ("floor", "wall", "ceiling", "person", "background")

SEQUENCE_JSON = "sequence.json"
DETECTIONS_NPZ = "detections.npz"
GROUND_TRUTH_NPZ = "ground_truth.npz"


class SequenceError(ValueError):
    """A sequence file is missing or wrong; the message starts with the file (relative path)."""


def metric_path(k: int) -> str:
    """Relative path of key frame k's metric depth."""
    return f"depth/{k}_metric.npy"


def disparity_path(k: int) -> str:
    """Relative path of key frame k's relative disparity."""
    return f"depth/{k}_disparity.npy"


def mask_path(k: int) -> str:
    """Relative path of key frame k's label mask."""
    return f"masks/{k}.npy"


# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (OpenCV): focal lengths fx, fy and principal point cx, cy."""

    fx: float
    fy: float
    cx: float
    cy: float

    def matrix(self) -> np.ndarray:
        """(3, 3) float64 K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class SequenceMeta:
    """``sequence.json``: the fields of the format document, lists as tuples.

    image_size: (W, H) pixels. intrinsics: None when the file says ``null``.
    key_frames: ascending distinct frame indices with depth and masks.
    """

    format: str
    version: int
    fps: float
    num_frames: int
    image_size: tuple[int, int]
    intrinsics: Intrinsics | None
    key_frames: tuple[int, ...]
    class_names: tuple[str, ...]
    mask_labels: tuple[str, ...]
    action_names: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``sequence.json``."""
        intrinsics = None
        if self.intrinsics is not None:
            intrinsics = {name: float(getattr(self.intrinsics, name)) for name in ("fx", "fy", "cx", "cy")}
        return {
            "format": self.format,
            "version": self.version,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "image_size": list(self.image_size),
            "intrinsics": intrinsics,
            "key_frames": list(self.key_frames),
            "class_names": list(self.class_names),
            "mask_labels": list(self.mask_labels),
            "action_names": list(self.action_names),
        }


# (key, trailing shape after N, dtype) of every detections.npz array, in the document's order.
DETECTION_FIELDS: tuple[tuple[str, tuple[int, ...], type], ...] = (
    ("frame", (), np.int32),
    ("track_id", (), np.int32),
    ("class_id", (), np.int32),
    ("bbox", (4,), np.float32),
    ("keypoints", (17, 3), np.float32),
    ("action_id", (), np.int32),
    ("global_orient", (3,), np.float32),
    ("body_pose", (23, 3), np.float32),
    ("betas", (10,), np.float32),
    ("cam_t", (3,), np.float32),
)


@dataclass(frozen=True, eq=False)
class Detections:
    """``detections.npz``: N rows, one per detected person per frame.

    frame, track_id, class_id, action_id: (N,) int32. bbox: (N, 4) float32 x0, y0, x1, y1
    pixels. keypoints: (N, 17, 3) float32 COCO-17 x, y pixels and confidence.
    global_orient: (N, 3), body_pose: (N, 23, 3) float32 axis-angle radians (camera frame).
    betas: (N, 10) float32. cam_t: (N, 3) float32 metres, SMPL transl in the camera frame.
    """

    frame: np.ndarray
    track_id: np.ndarray
    class_id: np.ndarray
    bbox: np.ndarray
    keypoints: np.ndarray
    action_id: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    cam_t: np.ndarray

    def __len__(self) -> int:
        return int(np.shape(self.frame)[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields by their npz key."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def select(self, rows: np.ndarray) -> "Detections":
        """The rows picked by an index or boolean array, same dtypes."""
        return Detections(**{key: value[rows] for key, value in self.arrays().items()})

    @classmethod
    def empty(cls) -> "Detections":
        """No rows (N = 0)."""
        return cls(**{key: np.zeros((0, *tail), dtype) for key, tail, dtype in DETECTION_FIELDS})


@dataclass(frozen=True)
class KeyFrameDepth:
    """One key frame's depth: metric (h, w) float32 metres, disparity (H, W) float32 relative."""

    metric: np.ndarray
    disparity: np.ndarray


@dataclass(frozen=True, eq=False)
class Sequence:
    """A read (and checked) sequence; key-frame arrays load on demand.

    folder: the sequence folder. metric_shape: (h, w) of every metric depth map.
    """

    folder: Path
    meta: SequenceMeta
    detections: Detections
    metric_shape: tuple[int, int]

    def _key(self, k: int) -> int:
        if k not in self.meta.key_frames:
            raise ValueError(f"frame {k} is not a key frame of {self.folder} (key frames: {list(self.meta.key_frames)})")
        return int(k)

    def metric_depth(self, k: int) -> np.ndarray:
        """(h, w) float32 metres: key frame k's low-resolution metric depth."""
        return _load_metric(self.folder, metric_path(self._key(k)), self.metric_shape)

    def disparity(self, k: int) -> np.ndarray:
        """(H, W) float32: key frame k's relative disparity (inverse depth up to scale and offset)."""
        return _load_disparity(self.folder, disparity_path(self._key(k)), self.meta)

    def mask(self, k: int) -> np.ndarray:
        """(H, W) uint8: key frame k's label ids into ``meta.mask_labels``."""
        return _load_mask(self.folder, mask_path(self._key(k)), self.meta)

    def intrinsics(self) -> np.ndarray:
        """(3, 3) float64 K in pixels; from :data:`DEFAULT_HORIZONTAL_FOV_DEG` when the file has none."""
        if self.meta.intrinsics is not None:
            return self.meta.intrinsics.matrix()
        width, height = self.meta.image_size
        return intrinsics_from_fov(width, height, DEFAULT_HORIZONTAL_FOV_DEG)

    def ground_truth(self) -> dict[str, np.ndarray] | None:
        """The arrays of ``ground_truth.npz`` by key, or None when the sequence has none."""
        if not (self.folder / GROUND_TRUTH_NPZ).is_file():
            return None
        return _load_ground_truth(self.folder, self.meta, len(self.detections))


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def read_sequence(folder: str | os.PathLike) -> Sequence:
    """Read and check a whole sequence folder; raise SequenceError at the first problem.

    Checks, in order: sequence.json (every field's type and value), detections.npz
    (keys, shapes, dtypes, finite values, ranges against the metadata), every key
    frame's three files (present, shape, dtype, finite / positive depth, mask ids in
    range), and ground_truth.npz when present.
    """
    root = Path(folder)
    if not root.is_dir():
        raise SequenceError(f"{root}: not a sequence folder (no such directory)")
    meta = _read_meta(root)
    detections = _read_detections(root, meta)
    metric_shape: tuple[int, int] | None = None
    for k in meta.key_frames:
        metric = _load_metric(root, metric_path(k), metric_shape)
        metric_shape = (int(metric.shape[0]), int(metric.shape[1]))
        _load_disparity(root, disparity_path(k), meta)
        _load_mask(root, mask_path(k), meta)
    if metric_shape is None:  # no key frames: nothing to describe
        metric_shape = (0, 0)
    sequence = Sequence(folder=root, meta=meta, detections=detections, metric_shape=metric_shape)
    if (root / GROUND_TRUTH_NPZ).is_file():
        _load_ground_truth(root, meta, len(detections))
    return sequence


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _str_list(data: dict, key: str, where: str) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SequenceError(f"{where}: '{key}' must be a list of non-empty strings, got {value!r}")
    if len(set(value)) != len(value):
        raise SequenceError(f"{where}: '{key}' has repeated names: {value!r}")
    return tuple(value)


def parse_meta(data: Any, where: str = SEQUENCE_JSON) -> SequenceMeta:
    """Check a ``sequence.json`` object and return it as a SequenceMeta (SequenceError otherwise)."""
    if not isinstance(data, dict):
        raise SequenceError(f"{where}: expected a JSON object, got {type(data).__name__}")
    known = [field.name for field in fields(SequenceMeta)]
    missing = [key for key in known if key not in data]
    if missing:
        raise SequenceError(f"{where}: missing field '{missing[0]}'")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SequenceError(f"{where}: unknown field '{unknown[0]}' (the format has {known})")
    # 1. Identity.
    if data["format"] != FORMAT:
        raise SequenceError(f"{where}: 'format' must be {FORMAT!r}, got {data['format']!r}")
    if not _is_int(data["version"]) or data["version"] != VERSION:
        raise SequenceError(f"{where}: 'version' must be {VERSION}, got {data['version']!r}")
    # 2. Timing.
    fps = data["fps"]
    if not _is_number(fps) or fps <= 0:
        raise SequenceError(f"{where}: 'fps' must be a finite number > 0, got {fps!r}")
    num_frames = data["num_frames"]
    if not _is_int(num_frames) or num_frames <= 0:
        raise SequenceError(f"{where}: 'num_frames' must be an int > 0, got {num_frames!r}")
    # 3. Image and camera.
    size = data["image_size"]
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(s) and s > 0 for s in size)):
        raise SequenceError(f"{where}: 'image_size' must be [W, H] with ints > 0, got {size!r}")
    intrinsics = data["intrinsics"]
    if intrinsics is not None:
        names = ("fx", "fy", "cx", "cy")
        if not isinstance(intrinsics, dict) or set(intrinsics) != set(names):
            raise SequenceError(f"{where}: 'intrinsics' must be null or an object with exactly {list(names)}, got {intrinsics!r}")
        for name in names:
            if not _is_number(intrinsics[name]):
                raise SequenceError(f"{where}: 'intrinsics.{name}' must be a finite number, got {intrinsics[name]!r}")
        for name in ("fx", "fy"):
            if intrinsics[name] <= 0:
                raise SequenceError(f"{where}: 'intrinsics.{name}' must be > 0, got {intrinsics[name]!r}")
        intrinsics = Intrinsics(**{name: float(intrinsics[name]) for name in names})
    # 4. Key frames.
    key_frames = data["key_frames"]
    if not isinstance(key_frames, list) or not all(_is_int(k) for k in key_frames):
        raise SequenceError(f"{where}: 'key_frames' must be a list of ints, got {key_frames!r}")
    for previous, k in zip([-1, *key_frames], key_frames):
        if not 0 <= k < num_frames:
            raise SequenceError(f"{where}: 'key_frames' has frame {k}, expected 0 <= frame < {num_frames} (num_frames)")
        if k <= previous:
            raise SequenceError(f"{where}: 'key_frames' must be distinct and ascending, got {key_frames!r}")
    # 5. Vocabularies.
    class_names = _str_list(data, "class_names", where)
    for name in class_names:
        if name not in ROLES:
            raise SequenceError(f"{where}: 'class_names' has {name!r}, expected roles from {list(ROLES)}")
    mask_labels = _str_list(data, "mask_labels", where)
    if "floor" not in mask_labels:
        raise SequenceError(f"{where}: 'mask_labels' must contain 'floor', got {list(mask_labels)}")
    if len(mask_labels) > 256:
        raise SequenceError(f"{where}: 'mask_labels' has {len(mask_labels)} labels, uint8 masks allow 256")
    action_names = _str_list(data, "action_names", where)
    return SequenceMeta(
        format=FORMAT,
        version=VERSION,
        fps=float(fps),
        num_frames=int(num_frames),
        image_size=(int(size[0]), int(size[1])),
        intrinsics=intrinsics,
        key_frames=tuple(int(k) for k in key_frames),
        class_names=class_names,
        mask_labels=mask_labels,
        action_names=action_names,
    )


def _read_meta(root: Path) -> SequenceMeta:
    path = root / SEQUENCE_JSON
    if not path.is_file():
        raise SequenceError(f"{SEQUENCE_JSON}: missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SequenceError(f"{SEQUENCE_JSON}: not valid JSON ({error})") from None
    except UnicodeDecodeError as error:
        raise SequenceError(f"{SEQUENCE_JSON}: not UTF-8 text ({error})") from None
    return parse_meta(data)


def _describe(array: np.ndarray) -> str:
    return f"{array.dtype} array of shape {array.shape}"


def _shape_text(trailing: tuple[int, ...], lead: str = "N") -> str:
    return "(" + ", ".join([lead, *(str(s) for s in trailing)]) + (",)" if not trailing else ")")


def _first_row(bad: np.ndarray) -> int:
    """Index along axis 0 of the first row holding a True."""
    return int(np.argmax(bad.reshape(len(bad), -1).any(axis=1)))


def check_detections(arrays: Mapping[str, Any], meta: SequenceMeta, where: str = DETECTIONS_NPZ) -> Detections:
    """Check detection arrays against the format and the metadata; return them as Detections.

    arrays: every key of :data:`DETECTION_FIELDS` (no others). Raises SequenceError
    naming ``where`` and the key.
    """
    keys = [key for key, _, _ in DETECTION_FIELDS]
    for key in keys:
        if key not in arrays:
            raise SequenceError(f"{where}: missing key '{key}'")
    unknown = sorted(set(arrays) - set(keys))
    if unknown:
        raise SequenceError(f"{where}: unknown key '{unknown[0]}' (the format has {keys})")
    # 1. Types, shapes and dtypes; N from 'frame'.
    frame = arrays["frame"]
    if not isinstance(frame, np.ndarray) or frame.ndim != 1:
        got = _describe(frame) if isinstance(frame, np.ndarray) else type(frame).__name__
        raise SequenceError(f"{where}: 'frame' must be an (N,) int32 array, got {got}")
    n = len(frame)
    for key, trailing, dtype in DETECTION_FIELDS:
        value = arrays[key]
        if not isinstance(value, np.ndarray):
            raise SequenceError(f"{where}: '{key}' must be a numpy array, got {type(value).__name__}")
        if value.shape != (n, *trailing):
            raise SequenceError(f"{where}: '{key}' has shape {value.shape}, expected {_shape_text(trailing)} with N = {n}")
        if value.dtype != dtype:
            raise SequenceError(f"{where}: '{key}' has dtype {value.dtype}, expected {np.dtype(dtype).name}")
        if value.dtype.kind == "f" and n and not np.isfinite(value).all():
            row = _first_row(~np.isfinite(value))
            raise SequenceError(f"{where}: '{key}' has a non-finite value (NaN or inf) at row {row}")
    # 2. Ranges against the metadata.
    ranges = (
        ("frame", 0, meta.num_frames, "num_frames"),
        ("track_id", -1, None, None),
        ("class_id", 0, len(meta.class_names), "len(class_names)"),
        ("action_id", -1, len(meta.action_names), "len(action_names)"),
    )
    for key, low, high, bound in ranges:
        value = arrays[key]
        bad = (value < low) | (value >= high) if high is not None else value < low
        if bad.any():
            row = int(np.argmax(bad))
            limit = f"{low} <= {key} < {high} ({bound})" if high is not None else f"{key} >= {low}"
            raise SequenceError(f"{where}: '{key}' has value {int(value[row])} at row {row}, expected {limit}")
    bbox = arrays["bbox"]
    bad = (bbox[:, 2] < bbox[:, 0]) | (bbox[:, 3] < bbox[:, 1])
    if bad.any():
        row = int(np.argmax(bad))
        raise SequenceError(f"{where}: 'bbox' row {row} is {bbox[row].tolist()}, expected x0 <= x1 and y0 <= y1")
    confidence = arrays["keypoints"][..., 2]
    bad = (confidence < 0) | (confidence > 1)
    if bad.any():
        row = _first_row(bad)
        raise SequenceError(f"{where}: 'keypoints' confidence outside [0, 1] at row {row}")
    bad = arrays["cam_t"][:, 2] <= 0
    if bad.any():
        row = int(np.argmax(bad))
        raise SequenceError(f"{where}: 'cam_t' row {row} has z = {float(arrays['cam_t'][row, 2])}, expected > 0 (in front of the camera)")
    # 3. One row per person per frame.
    known = arrays["track_id"] >= 0
    pairs = np.stack([frame[known], arrays["track_id"][known]], axis=1)
    if len(pairs):
        unique, counts = np.unique(pairs, axis=0, return_counts=True)
        if (counts > 1).any():
            f, t = unique[int(np.argmax(counts > 1))]
            raise SequenceError(f"{where}: 'track_id' {int(t)} has more than one row in frame {int(f)}")
    return Detections(**{key: _read_only(np.array(arrays[key])) for key in keys})


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _open_npz(root: Path, name: str) -> dict[str, np.ndarray]:
    """Every array of an .npz, read without unpickling; SequenceError naming the key otherwise."""
    path = root / name
    if not path.is_file():
        raise SequenceError(f"{name}: missing")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise SequenceError(f"{name}: cannot be read as an .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise SequenceError(f"{name}: expected an .npz archive, got a single array")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
                # Object arrays land here: np.load refuses to unpickle them.
                raise SequenceError(f"{name}: '{key}' cannot be read without unpickling or is corrupt ({error})") from None
    return arrays


def _read_detections(root: Path, meta: SequenceMeta) -> Detections:
    return check_detections(_open_npz(root, DETECTIONS_NPZ), meta)


def _load_npy(root: Path, relative: str, what: str) -> np.ndarray:
    path = root / relative
    if not path.is_file():
        raise SequenceError(f"{relative}: missing ({what})")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise SequenceError(f"{relative}: cannot be read as a .npy array without unpickling ({error})") from None
    if not isinstance(array, np.ndarray):
        raise SequenceError(f"{relative}: expected a .npy array, got an .npz archive")
    return array


def _check_image(array: np.ndarray, relative: str, dtype: type, shape: tuple[int, int] | None, symbol: str) -> None:
    if array.dtype != dtype:
        raise SequenceError(f"{relative}: has dtype {array.dtype}, expected {np.dtype(dtype).name}")
    if shape is None:
        if array.ndim != 2 or min(array.shape) < 1:
            raise SequenceError(f"{relative}: has shape {array.shape}, expected {symbol} with h, w >= 1")
    elif array.shape != shape:
        raise SequenceError(f"{relative}: has shape {array.shape}, expected {symbol} = {shape}")


def _pixel(bad: np.ndarray) -> str:
    v, u = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return f"pixel (u={u}, v={v})"


def _load_metric(root: Path, relative: str, shape: tuple[int, int] | None) -> np.ndarray:
    """(h, w) float32 metres, finite and > 0; ``shape``: the shape every key frame must share."""
    array = _load_npy(root, relative, "metric depth of a key frame")
    _check_image(array, relative, np.float32, shape, "(h, w) as in the other key frames" if shape else "(h, w)")
    bad = ~np.isfinite(array)
    if bad.any():
        raise SequenceError(f"{relative}: non-finite depth (NaN or inf) at {_pixel(bad)}")
    bad = array <= 0
    if bad.any():
        raise SequenceError(f"{relative}: depth {float(array[bad][0])} <= 0 m at {_pixel(bad)}")
    return array


def _image_shape(meta: SequenceMeta) -> tuple[int, int]:
    width, height = meta.image_size
    return (height, width)


def _load_disparity(root: Path, relative: str, meta: SequenceMeta) -> np.ndarray:
    """(H, W) float32, finite."""
    array = _load_npy(root, relative, "relative disparity of a key frame")
    _check_image(array, relative, np.float32, _image_shape(meta), "(H, W)")
    bad = ~np.isfinite(array)
    if bad.any():
        raise SequenceError(f"{relative}: non-finite disparity (NaN or inf) at {_pixel(bad)}")
    return array


def _load_mask(root: Path, relative: str, meta: SequenceMeta) -> np.ndarray:
    """(H, W) uint8 with ids < len(mask_labels)."""
    array = _load_npy(root, relative, "label mask of a key frame")
    _check_image(array, relative, np.uint8, _image_shape(meta), "(H, W)")
    bad = array >= len(meta.mask_labels)
    if bad.any():
        raise SequenceError(
            f"{relative}: label id {int(array[bad][0])} at {_pixel(bad)} is out of range, "
            f"expected < {len(meta.mask_labels)} (len(mask_labels))"
        )
    return array


# Ground truth: key -> (shape with symbols P, T, N, F, K, H, W; dtype kind: f float, i int32, U str, b bool).
GROUND_TRUTH_FIELDS: tuple[tuple[str, tuple[str | int, ...], str], ...] = (
    ("camera_to_world", (4, 4), "f"),
    ("K", (3, 3), "f"),
    ("disparity_scale", (), "f"),
    ("disparity_offset", (), "f"),
    ("floor_normal_camera", (3,), "f"),
    ("camera_height", (), "f"),
    ("person_track", ("P",), "i"),
    ("person_role", ("P",), "U"),
    ("person_betas", ("P", 10), "f"),
    ("person_global_orient", ("P", "T", 3), "f"),
    ("person_body_pose", ("P", "T", 23, 3), "f"),
    ("person_transl", ("P", "T", 3), "f"),
    ("person_visible", ("P", "T"), "b"),
    ("detection_person", ("N",), "i"),
    ("detection_duplicate", ("N",), "b"),
    ("furniture_labels", ("F",), "U"),
    ("furniture_center", ("F", 3), "f"),
    ("furniture_size", ("F", 3), "f"),
    ("furniture_yaw_deg", ("F",), "f"),
    ("true_depth", ("K", "H", "W"), "f"),
)


def check_ground_truth(arrays: Mapping[str, Any], meta: SequenceMeta, num_detections: int, where: str = GROUND_TRUTH_NPZ) -> dict[str, np.ndarray]:
    """Check ground-truth arrays (keys, shapes, dtypes, finite, rigid camera); return them."""
    keys = [key for key, _, _ in GROUND_TRUTH_FIELDS]
    for key in keys:
        if key not in arrays:
            raise SequenceError(f"{where}: missing key '{key}'")
    unknown = sorted(set(arrays) - set(keys))
    if unknown:
        raise SequenceError(f"{where}: unknown key '{unknown[0]}' (the format has {keys})")
    width, height = meta.image_size
    sizes: dict[str, int] = {"T": meta.num_frames, "N": num_detections, "K": len(meta.key_frames), "H": height, "W": width}
    for key, symbols, kind in GROUND_TRUTH_FIELDS:
        value = arrays[key]
        if not isinstance(value, np.ndarray):
            raise SequenceError(f"{where}: '{key}' must be a numpy array, got {type(value).__name__}")
        text = "(" + ", ".join(str(s) for s in symbols) + ("," if len(symbols) == 1 else "") + ")"
        if value.ndim != len(symbols):
            raise SequenceError(f"{where}: '{key}' has shape {value.shape}, expected {text}")
        for symbol, size in zip(symbols, value.shape):
            expected = sizes.setdefault(symbol, size) if isinstance(symbol, str) else symbol
            if size != expected:
                raise SequenceError(f"{where}: '{key}' has shape {value.shape}, expected {text} with {symbol} = {expected}")
        good_kind = value.dtype == np.int32 if kind == "i" else value.dtype.kind == kind
        if not good_kind:
            wanted = {"f": "a float dtype", "i": "int32", "U": "a str dtype", "b": "bool"}[kind]
            raise SequenceError(f"{where}: '{key}' has dtype {value.dtype}, expected {wanted}")
        if kind == "f" and not np.isfinite(value).all():
            raise SequenceError(f"{where}: '{key}' has a non-finite value (NaN or inf)")
    pose = arrays["camera_to_world"].astype(np.float64)
    rotation = pose[:3, :3]
    if not (np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-5) and np.linalg.det(rotation) > 0
            and np.allclose(pose[3], [0, 0, 0, 1])):
        raise SequenceError(f"{where}: 'camera_to_world' is not a rigid transform (rotation, translation, last row 0 0 0 1)")
    people = sizes.get("P", 0)
    owner = arrays["detection_person"]
    bad = (owner < -1) | (owner >= people)
    if bad.any():
        row = int(np.argmax(bad))
        raise SequenceError(f"{where}: 'detection_person' has value {int(owner[row])} at row {row}, expected -1 <= value < {people} (P)")
    if (arrays["true_depth"] <= 0).any():
        raise SequenceError(f"{where}: 'true_depth' has a depth <= 0 m")
    return {key: np.array(arrays[key]) for key in keys}


def _load_ground_truth(root: Path, meta: SequenceMeta, num_detections: int) -> dict[str, np.ndarray]:
    return check_ground_truth(_open_npz(root, GROUND_TRUTH_NPZ), meta, num_detections)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def write_sequence(
    folder: str | os.PathLike,
    meta: SequenceMeta,
    detections: Detections,
    depth: Mapping[int, KeyFrameDepth],
    masks: Mapping[int, np.ndarray],
    ground_truth: Mapping[str, np.ndarray] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a sequence folder atomically and return its path.

    depth, masks: one entry per key frame (exactly ``meta.key_frames``).
    ground_truth: the arrays of ``ground_truth.npz`` (synthetic sequences), or None.
    Everything is written into a sibling ``<folder>.tmp-XXXX``, read back with
    :func:`read_sequence` (so a written sequence is always valid) and renamed into place.
    overwrite: replace an existing folder (otherwise FileExistsError).
    """
    target = Path(folder)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists (pass overwrite=True to replace it)")
    # 1. Check what must be true before touching the disk.
    parse_meta(meta.to_json())
    check_detections(detections.arrays(), meta)
    for name, table in (("depth/", depth), ("masks/", masks)):
        if sorted(table) != list(meta.key_frames):
            raise SequenceError(f"{name}: one entry per key frame expected, got frames {sorted(table)} for key frames {list(meta.key_frames)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
    try:
        # 2. Every file into the scratch folder.
        (scratch / SEQUENCE_JSON).write_text(json.dumps(meta.to_json(), indent=2) + "\n", encoding="utf-8")
        np.savez(scratch / DETECTIONS_NPZ, **detections.arrays())
        (scratch / "depth").mkdir()
        (scratch / "masks").mkdir()
        for k in meta.key_frames:
            np.save(scratch / metric_path(k), depth[k].metric, allow_pickle=False)
            np.save(scratch / disparity_path(k), depth[k].disparity, allow_pickle=False)
            np.save(scratch / mask_path(k), masks[k], allow_pickle=False)
        if ground_truth is not None:
            np.savez_compressed(scratch / GROUND_TRUTH_NPZ, **{key: np.asarray(value) for key, value in ground_truth.items()})
        # 3. Read it back: the writer never leaves an invalid sequence.
        read_sequence(scratch)
        # 4. Into place.
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f"{target.name}.old-", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(scratch, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return target
