"""Training clips as features: ``FeatureClip``, encoding a ``Clip``, mirroring features, statistics.

Every person of every clip is encoded ONCE, when the data set is built, with ONE rest skeleton
(the body's, ``BodyModel.rest_joints()``): the same skeleton the checkpoint stores and decodes
with, so bone lengths are normalised across data sets (per-person betas do not change the
features). Crops are then cut from the encoded clip, so a crop's last velocity is the real
forward difference, not a repeated one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..data.clip import MAX_PERSONS, Clip, DatasetError
from ..motion.motion import ROLES
from ..motion.representation import (
    FEATURE_DIM,
    LOCAL_ROTATIONS,
    NUM_ROTATED_JOINTS,
    POSITIONS,
    ROOT_ORIENTATION,
    VELOCITIES,
    NormalizationStats,
    encode_motion,
)
from ..skeleton import MIRROR, NUM_BODY_JOINTS

# M R M for M = diag(-1, 1, 1), in Zhou's 6D [R00, R10, R20, R01, R11, R21] (column by column).
_SIX_D_SIGNS = np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0], dtype=np.float32)
_BODY_MIRROR = list(MIRROR[:NUM_BODY_JOINTS])
_ROTATED_MIRROR = [j - 1 for j in MIRROR[1:NUM_BODY_JOINTS]]  # joints 1..21 as 0..20


@dataclass(frozen=True, eq=False)
class FeatureClip:
    """One training clip, encoded.

    features: (P, T, 264) float32, un-normalised (representation.py's layout), P in 1..4.
    roles: P role names. texts: its captions (may be empty). fps: frames per second.
    scene_points: (N, 3) float32 metres, Z-up world, or None. source: e.g. "humanml3d:000021".
    label: the clip's action class, or "" (``Clip.label``).
    """

    features: np.ndarray
    roles: tuple[str, ...]
    texts: tuple[str, ...]
    fps: float
    scene_points: np.ndarray | None = None
    source: str = ""
    split: str = field(default="train")
    label: str = ""

    def __post_init__(self) -> None:
        features = np.asarray(self.features, dtype=np.float32)
        who = f"FeatureClip {self.source!r}"
        if features.ndim != 3 or features.shape[2] != FEATURE_DIM or not 1 <= features.shape[0] <= MAX_PERSONS:
            expected = f"(P in 1..{MAX_PERSONS}, T, {FEATURE_DIM})"
            raise DatasetError(f"{who}: features: expected {expected}, got {features.shape}")
        if features.shape[1] < 1 or not np.isfinite(features).all():
            raise DatasetError(f"{who}: features: need T >= 1 finite frames")
        if len(self.roles) != features.shape[0] or any(r not in ROLES for r in self.roles):
            raise DatasetError(f"{who}: roles: expected {features.shape[0]} of {ROLES}, got {list(self.roles)}")
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "roles", tuple(str(r) for r in self.roles))
        object.__setattr__(self, "texts", tuple(str(t) for t in self.texts))
        if self.scene_points is not None:
            points = np.asarray(self.scene_points, dtype=np.float32)
            if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
                raise DatasetError(f"{who}: scene_points: expected (N > 0, 3), got {points.shape}")
            object.__setattr__(self, "scene_points", points)

    @property
    def num_persons(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[1])


def encode_clip(clip: Clip, rest_joints: np.ndarray) -> FeatureClip:
    """A Clip's persons through :func:`encode_motion` with one rest skeleton (24, 3) metres."""
    features = np.stack([encode_motion(motion, rest_joints) for motion in clip.motions])
    return FeatureClip(
        features=features,
        roles=tuple(m.role for m in clip.motions),
        texts=tuple(clip.texts),
        fps=clip.fps,
        scene_points=clip.scene_points,
        source=clip.source,
        split=clip.split,
        label=clip.label,
    )


def mirror_features(features: np.ndarray) -> np.ndarray:
    """Features (..., 264) of the motion reflected x -> -x with left and right swapped.

    Positions and velocities: joint j takes M x_mirror(j) (x negated). Rotations: joint j takes
    M R_mirror(j) M, whose 6D is the partner's 6D times (+, -, -, -, +, +); the root's global 6D
    likewise. Equals encoding ``data.mirror.mirror_motion`` when the rest skeleton is symmetric.
    """
    x = np.asarray(features)
    out = np.empty_like(x)
    lead = x.shape[:-1]
    for block in (POSITIONS, VELOCITIES):
        joints = x[..., block].reshape(*lead, NUM_BODY_JOINTS, 3)[..., _BODY_MIRROR, :].copy()
        joints[..., 0] *= -1.0
        out[..., block] = joints.reshape(*lead, -1)
    local = x[..., LOCAL_ROTATIONS].reshape(*lead, NUM_ROTATED_JOINTS, 6)[..., _ROTATED_MIRROR, :]
    out[..., LOCAL_ROTATIONS] = (local * _SIX_D_SIGNS.astype(x.dtype)).reshape(*lead, -1)
    out[..., ROOT_ORIENTATION] = x[..., ROOT_ORIENTATION] * _SIX_D_SIGNS.astype(x.dtype)
    return out


def feature_stats(clips: Iterable[FeatureClip], include_mirrored: bool, eps: float = 1e-4) -> NormalizationStats:
    """Mean and std (floored at ``eps``) over every frame of every person, in float64.

    include_mirrored: also count each clip's mirror image (mirror augmentation sees both).
    Streams: memory stays at one clip, whatever the data set's size.
    """
    count = 0
    total = np.zeros(FEATURE_DIM)
    total_sq = np.zeros(FEATURE_DIM)
    for clip in clips:
        variants = [clip.features, mirror_features(clip.features)] if include_mirrored else [clip.features]
        for features in variants:
            frames = features.reshape(-1, FEATURE_DIM).astype(np.float64)
            count += len(frames)
            total += frames.sum(axis=0)
            total_sq += (frames**2).sum(axis=0)
    if count == 0:
        raise DatasetError("feature_stats: no frames to fit normalisation statistics on")
    mean = total / count
    variance = np.maximum(total_sq / count - mean**2, 0.0)
    return NormalizationStats(mean=mean, std=np.maximum(np.sqrt(variance), eps))


def subsample_points(points: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``limit`` of ``points`` (N, 3), drawn without replacement, in their original order."""
    if len(points) <= limit:
        return points
    keep = np.sort(rng.choice(len(points), size=limit, replace=False))
    return points[keep]
