"""The [[data]] sources of a config -> FeatureClips: one reader per kind, plus toy clips for smoke runs.

Readers return Clips (data/); each is resampled to the run's fps by its reader, encoded with the
one rest skeleton (features.py), and its scene cloud subsampled to ``max_scene_points`` with a
generator seeded from (seed, source index). Clips with more persons than the run trains are
skipped and counted.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.bundles import read_bundle_clips
from ..data.clip import Clip, DatasetError, resample_clip
from ..data.humanml3d import read_humanml3d
from ..data.interhuman import read_interhuman
from ..motion.motion import Motion
from ..rotations import axis_angle_to_matrix, matrix_to_axis_angle
from .clips_npz import read_clips_npz
from .config import DataSource, TrainConfig
from .features import FeatureClip, encode_clip, subsample_points
from .randomness import numpy_generator

log = logging.getLogger("isynth.train")


@dataclass(frozen=True)
class LoadedSource:
    """The clips of one source and what was left out. skipped: clips with too many persons."""

    source: DataSource
    clips: list[FeatureClip]
    skipped: int


def load_source(
    source: DataSource,
    index: int,
    *,
    fps: float,
    rest_joints: np.ndarray,
    max_persons: int,
    max_scene_points: int,
    seed: int,
    mirror: bool,
) -> LoadedSource:
    """Read one [[data]] table (index = its position in the config, which seeds its subsampling).

    mirror: when on-the-fly mirroring is enabled, HumanML3D's own mirrored copies ("M" ids)
    are not read, so no motion is seen twice as often as the others.
    """
    if source.kind == "clips_npz":
        clips = read_clips_npz(source.path, fps, rest_joints)
    else:
        clips = [encode_clip(clip, rest_joints) for clip in _read_clips(source, fps, rest_joints, seed, mirror)]
    rng = numpy_generator(seed, "scene", index)
    subsampled: dict[int, np.ndarray] = {}  # clips of one bundle share their room's array
    kept, skipped = [], 0
    for clip in clips:
        if clip.num_persons > max_persons:
            skipped += 1
            continue
        if clip.scene_points is not None and len(clip.scene_points) > max_scene_points:
            key = id(clip.scene_points)
            if key not in subsampled:
                subsampled[key] = subsample_points(clip.scene_points, max_scene_points, rng)
            clip = dataclasses.replace(clip, scene_points=subsampled[key])
        kept.append(clip)
    log.info("data: %d clips from %s (%d skipped: more than %d persons)",
             len(kept), source.describe(), skipped, max_persons)
    return LoadedSource(source=source, clips=kept, skipped=skipped)


def load_sources(config: TrainConfig, rest_joints: np.ndarray) -> list[LoadedSource]:
    """Every [[data]] table of ``config``, loaded with its settings, in config order."""
    return [load_source(source, index, fps=config.fps, rest_joints=rest_joints, max_persons=config.max_persons,
                        max_scene_points=config.max_scene_points, seed=config.seed, mirror=config.mirror)
            for index, source in enumerate(config.sources)]


def _read_clips(source: DataSource, fps: float, rest_joints: np.ndarray, seed: int, mirror: bool) -> list[Clip]:
    if source.kind == "humanml3d":
        return read_humanml3d(source.path, source.split, fps, rest_joints, include_mirrored=not mirror)
    if source.kind == "interhuman":
        return read_interhuman(source.path, source.split, fps, rest_joints)
    if source.kind == "bundles":
        path = Path(source.path)
        files = sorted(path.glob("*.npz")) if path.is_dir() else [path]
        if not files or not files[0].is_file():
            raise DatasetError(f"{path}: no bundle .npz files found")
        return [clip for file in files for clip in read_bundle_clips(file, fps)]
    if source.kind == "synthetic":
        return toy_clips(source.count, source.frames, source.persons, fps, seed)
    if source.kind == "procedural":
        return procedural_clips(source.count, source.data_seed, source.split, fps)
    raise DatasetError(f"unknown data source kind {source.kind!r}")


def procedural_clips(count: int, data_seed: int, split: str, fps: float) -> list[Clip]:
    """``count`` procedural care clips of ``split`` (core/data/procedural), resampled to ``fps``."""
    from ..data.procedural.dataset import FPS, make_clips

    def progress(done: int, total: int) -> None:
        if done % 500 == 0 or done == total:
            log.info("data: %d/%d procedural %s clips", done, total, split)

    clips = [pc.clip for pc in make_clips(count, data_seed, split, progress=progress)]
    return clips if fps == FPS else [resample_clip(clip, fps) for clip in clips]


# ---------------------------------------------------------------------------------------------
# toy clips

_SPEEDS = (("slowly", 0.4), ("quickly", 1.2))
# Walking direction in the template frame (Y up, the body faces +z, its left is +x), so a caption
# stays true of the clip's mirror image once mirror_text swaps "left" and "right".
_DIRECTIONS = (
    ("forward", (0.0, 0.0, 1.0)),
    ("backwards", (0.0, 0.0, -1.0)),
    ("sideways to the left", (1.0, 0.0, 0.0)),
    ("sideways to the right", (-1.0, 0.0, 0.0)),
)


def toy_clips(count: int, frames: int, persons: int, fps: float, seed: int) -> list[Clip]:
    """``count`` procedural clips of ``persons`` people swinging their joints while walking.

    Not motion capture: each joint's rotation is a sine of its own frequency, phase and
    amplitude (no FK, no physics). The caption names the walking speed and the direction
    relative to the body, which the clip really has, so text conditioning has something to
    learn. Deterministic in ``seed``; for smoke runs and tests.
    """
    clips = []
    for index in range(count):
        rng = numpy_generator(seed, "toy", index)
        speed_name, speed = _SPEEDS[int(rng.integers(len(_SPEEDS)))]
        direction_name, direction = _DIRECTIONS[int(rng.integers(len(_DIRECTIONS)))]
        facing = float(rng.uniform(0.0, 2.0 * math.pi))
        motions = [
            toy_motion(rng, frames, fps, speed, np.array(direction), facing, offset=np.array([0.0, 1.2 * p, 0.0]),
                       name=f"toy:{index}/{p}")
            for p in range(persons)
        ]
        text = f"{'a person walks' if persons == 1 else f'{persons} people walk'} {direction_name} {speed_name}"
        clips.append(Clip(motions=motions, texts=[text], source=f"toy:{index}", split="train"))
    return clips


def toy_motion(
    rng: np.random.Generator,
    frames: int,
    fps: float,
    speed: float,
    direction: np.ndarray,
    facing: float,
    offset: np.ndarray,
    name: str,
) -> Motion:
    """One person: sinusoidal local rotations (radians); the root upright and turned ``facing``
    radians about z; the pelvis 0.9 m above the floor (plus ``offset``, metres), moving at
    ``speed`` m/s along ``direction`` (template frame, turned with the root)."""
    t = np.arange(frames)[:, None, None] / fps  # (T, 1, 1) seconds
    frequency = rng.uniform(0.5, 1.5, (1, 23, 3)) * (1.0 + speed)
    phase = rng.uniform(0.0, 2.0 * np.pi, (1, 23, 3))
    amplitude = rng.uniform(0.05, 0.4, (1, 23, 3))
    body_pose = amplitude * np.sin(2.0 * np.pi * frequency * t + phase)
    # Upright in the Z-up world (pi/2 about x: template +y -> world +z), then turned about z.
    root = axis_angle_to_matrix(np.array([0.0, 0.0, facing])) @ axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))
    global_orient = np.repeat(matrix_to_axis_angle(root)[None], frames, axis=0)
    transl = offset + np.array([0.0, 0.0, 0.9]) + speed * t[:, 0] * (root @ direction)
    role = ("staff", "patient", "person")[int(rng.integers(3))]
    return Motion(global_orient=global_orient, body_pose=body_pose, transl=transl, betas=np.zeros(10),
                  fps=fps, role=role, name=name)
