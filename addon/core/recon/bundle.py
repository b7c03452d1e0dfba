"""The reconstruction bundle: one .npz (no pickles) from reconstruction to the Blender import.

World frame: metres, Z up, floor z = 0 (DESIGN.md). Cameras: OpenCV (x right, y
down, z forward); ``camera_to_world`` maps OpenCV camera coordinates to the world.
People follow the Motion convention (AMASS: Y-up template, world root rotation).

Keys (P persons, T frames, N room points, F furniture items, M furniture points):

    meta_json            () str     JSON: format, version, fps, num_frames, image_size [W, H],
                                    mask_labels, action_names, furniture_labels (F), persons
                                    [{"role", "track", "name"}] (P), source
    points               (N, 3) float32   room points, world
    colors               (N, 3) uint8
    point_labels         (N,) int16       index into mask_labels (-1 unknown)
    K                    (3, 3) float64   intrinsics, pixels
    camera_to_world      (4, 4) float64
    furniture_center     (F, 3) float64   gravity-aligned oriented boxes, world
    furniture_size       (F, 3) float64   full extents along the box axes
    furniture_yaw_deg    (F,) float64     box rotation about +Z
    furniture_points     (M, 3) float32   the furniture's own points
    furniture_point_owner (M,) int32      which furniture item each point belongs to
    person_betas         (P, 10) float64
    person_global_orient (P, T, 3) float64
    person_body_pose     (P, T, 23, 3) float64
    person_transl        (P, T, 3) float64
    person_valid         (P, T) bool      the person was observed (or interpolated) there
    person_actions       (P, T) int32     index into action_names, -1 none
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..motion.motion import ROLES

FORMAT = "isynth-reconstruction"
VERSION = 1


class BundleError(ValueError):
    """A bundle file is malformed; the message names the file and the key."""


@dataclass
class Bundle:
    """In-memory bundle; see the module docstring for every field's shape and frame."""

    fps: float
    image_size: tuple[int, int]
    K: np.ndarray
    camera_to_world: np.ndarray
    points: np.ndarray
    colors: np.ndarray
    point_labels: np.ndarray
    mask_labels: list[str]
    person_roles: list[str]
    person_betas: np.ndarray
    person_global_orient: np.ndarray
    person_body_pose: np.ndarray
    person_transl: np.ndarray
    person_valid: np.ndarray
    person_actions: np.ndarray
    action_names: list[str] = field(default_factory=list)
    person_tracks: list[int] = field(default_factory=list)
    person_names: list[str] = field(default_factory=list)
    furniture_labels: list[str] = field(default_factory=list)
    furniture_center: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    furniture_size: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    furniture_yaw_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    furniture_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    furniture_point_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    source: str = ""

    @property
    def num_persons(self) -> int:
        return len(self.person_roles)

    @property
    def num_frames(self) -> int:
        return int(self.person_valid.shape[1]) if self.person_valid.ndim == 2 else 0

    def validate(self, where: str = "bundle") -> None:
        """Check shapes, dtypes, finiteness and references; raises BundleError naming the key."""
        P, T = len(self.person_roles), self.person_valid.shape[1] if self.person_valid.ndim == 2 else -1
        F = len(self.furniture_labels)
        expected = {
            "points": (None, 3),
            "colors": (len(self.points), 3),
            "point_labels": (len(self.points),),
            "K": (3, 3),
            "camera_to_world": (4, 4),
            "person_betas": (P, None),
            "person_global_orient": (P, T, 3),
            "person_body_pose": (P, T, 23, 3),
            "person_transl": (P, T, 3),
            "person_valid": (P, T),
            "person_actions": (P, T),
            "furniture_center": (F, 3),
            "furniture_size": (F, 3),
            "furniture_yaw_deg": (F,),
            "furniture_points": (None, 3),
            "furniture_point_owner": (len(self.furniture_points),),
        }
        for key, shape in expected.items():
            value = np.asarray(getattr(self, key))
            if value.ndim != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
                want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
                raise BundleError(f"{where}: '{key}' has shape {value.shape}, expected {want}")
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise BundleError(f"{where}: '{key}' contains NaN or infinite values")
        if not self.fps > 0:
            raise BundleError(f"{where}: 'meta_json.fps' must be > 0, got {self.fps}")
        for role in self.person_roles:
            if role not in ROLES:
                raise BundleError(f"{where}: 'meta_json.persons.role' {role!r} is not one of {ROLES}")
        if len(self.point_labels) and (self.point_labels.max() >= len(self.mask_labels) or self.point_labels.min() < -1):
            raise BundleError(f"{where}: 'point_labels' refers to labels outside mask_labels ({len(self.mask_labels)})")
        if len(self.furniture_point_owner) and (
            self.furniture_point_owner.min() < 0 or self.furniture_point_owner.max() >= F
        ):
            raise BundleError(f"{where}: 'furniture_point_owner' refers to furniture outside 0..{F - 1}")
        if self.person_actions.size and self.person_actions.max() >= len(self.action_names):
            raise BundleError(f"{where}: 'person_actions' refers to actions outside action_names")
        rotation = np.asarray(self.camera_to_world)[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-5):
            raise BundleError(f"{where}: 'camera_to_world' is not a rigid transform")


def _meta(bundle: Bundle) -> dict:
    P = bundle.num_persons
    return {
        "format": FORMAT,
        "version": VERSION,
        "fps": float(bundle.fps),
        "num_frames": bundle.num_frames,
        "image_size": [int(v) for v in bundle.image_size],
        "mask_labels": list(bundle.mask_labels),
        "action_names": list(bundle.action_names),
        "furniture_labels": list(bundle.furniture_labels),
        "persons": [
            {
                "role": bundle.person_roles[i],
                "track": int(bundle.person_tracks[i]) if i < len(bundle.person_tracks) else i,
                "name": bundle.person_names[i] if i < len(bundle.person_names) else f"{bundle.person_roles[i]} {i + 1}",
            }
            for i in range(P)
        ],
        "source": bundle.source,
    }


_ARRAY_KEYS = {
    "points": np.float32,
    "colors": np.uint8,
    "point_labels": np.int16,
    "K": np.float64,
    "camera_to_world": np.float64,
    "furniture_center": np.float64,
    "furniture_size": np.float64,
    "furniture_yaw_deg": np.float64,
    "furniture_points": np.float32,
    "furniture_point_owner": np.int32,
    "person_betas": np.float64,
    "person_global_orient": np.float64,
    "person_body_pose": np.float64,
    "person_transl": np.float64,
    "person_valid": np.bool_,
    "person_actions": np.int32,
}


def write_bundle(path: str | os.PathLike, bundle: Bundle) -> None:
    """Validate and write ``bundle`` atomically (a temporary file renamed when complete)."""
    path = Path(path)
    bundle.validate(str(path))
    arrays = {key: np.asarray(getattr(bundle, key), dtype=dtype) for key, dtype in _ARRAY_KEYS.items()}
    arrays["meta_json"] = np.array(json.dumps(_meta(bundle)))
    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, **arrays)

    atomic_write(path, write)


def read_bundle(path: str | os.PathLike) -> Bundle:
    """Read and validate a bundle; every problem raises BundleError naming the file and key."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BundleError(f"{path}: not a readable .npz bundle ({error})") from None
    with archive:
        missing = [key for key in ("meta_json", *_ARRAY_KEYS) if key not in archive.files]
        if missing:
            raise BundleError(f"{path}: missing key(s) {missing}")
        try:
            arrays = {key: archive[key] for key in ("meta_json", *_ARRAY_KEYS)}
        except ValueError as error:
            raise BundleError(f"{path}: an array needs pickle to load, which is refused ({error})") from None
    try:
        meta = json.loads(str(arrays["meta_json"]))
    except json.JSONDecodeError as error:
        raise BundleError(f"{path}: 'meta_json' is not valid JSON ({error})") from None
    if meta.get("format") != FORMAT:
        raise BundleError(f"{path}: 'meta_json.format' is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise BundleError(f"{path}: 'meta_json.version' {meta.get('version')!r} is not supported (this reads {VERSION})")
    try:
        persons = meta["persons"]
        bundle = Bundle(
            fps=float(meta["fps"]),
            image_size=tuple(int(v) for v in meta["image_size"]),
            mask_labels=list(meta["mask_labels"]),
            action_names=list(meta.get("action_names", [])),
            furniture_labels=list(meta.get("furniture_labels", [])),
            person_roles=[p["role"] for p in persons],
            person_tracks=[int(p.get("track", i)) for i, p in enumerate(persons)],
            person_names=[str(p.get("name", "")) for p in persons],
            source=str(meta.get("source", "")),
            **{key: arrays[key] for key in _ARRAY_KEYS},
        )
    except (KeyError, TypeError) as error:
        raise BundleError(f"{path}: 'meta_json' lacks or mistypes field {error}") from None
    bundle.validate(str(path))
    return bundle
