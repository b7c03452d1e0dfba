"""FeatureClips -> training items -> padded batches the denoiser takes.

An item is keyed by (clip index, global sample position); every random choice about it comes
from a generator seeded by (seed, "item", position) (randomness.py), in this order:

    1. mirror coin (only when mirroring is on): p = 0.5 for the mirror image (features.py)
    2. crop start, uniform in [0, T - max_frames] (clips no longer than max_frames are whole)
    3. one caption, uniform over the clip's texts ("" when it has none: trained unconditionally)
    4. person ids, drawn without replacement from range(id_table) (thesis 5.5)
    5. scene groups: farthest-point sampling from a random start (conditioning.scene_tokens)

so an item is the same in any process, any worker, before and after a resume. Text embeddings
are not made here (workers stay free of the text model): ``TrainBatch.conditioning`` takes the
(B, E) rows the main process encodes with ``encode_texts`` from a ``CachedTextEncoder`` that
``warm_text_cache`` filled with every caption before the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..data.mirror import mirror_text
from ..diffusion.conditioning import ROLES, Conditioning, SceneGroups, draw_person_ids, role_ids, scene_tokens
from ..motion.representation import NormalizationStats
from ..text.encoders import (
    MINILM_ID,
    CachedTextEncoder,
    ClipTextEncoder,
    MiniLMEncoder,
    TextEncoder,
    load_text_encoder,
)
from .config import TextConfig
from .features import FeatureClip, mirror_features
from .randomness import torch_generator

_PAD_ROLE = ROLES.index("person")


@dataclass(frozen=True)
class SceneSpec:
    """How scene tokens are made: ``groups`` FPS groups of ``group_size`` points, or none when off."""

    enabled: bool
    groups: int = 32
    group_size: int = 64


@dataclass(frozen=True, eq=False)
class TrainItem:
    """One sample. features: (P, T, F) float32 normalised; roles, person_ids: (P,) int64;
    text: one caption or ""; scene: point groups or None; position: its global sample position."""

    features: Tensor
    roles: Tensor
    person_ids: Tensor
    text: str
    scene: SceneGroups | None
    position: int


class MotionDataset:
    """Map-style data set over FeatureClips; ``dataset[(clip_index, position)]`` -> TrainItem.

    stats: normalisation of the features. max_frames: crop length. id_table: size of the
    network's person-id embedding (its max_persons). mirror: left/right mirroring with p = 0.5.
    """

    def __init__(
        self,
        clips: Sequence[FeatureClip],
        stats: NormalizationStats,
        *,
        max_frames: int,
        id_table: int,
        mirror: bool,
        scene: SceneSpec,
        seed: int,
    ) -> None:
        too_many = [c.source for c in clips if c.num_persons > id_table]
        if too_many:
            raise ValueError(f"clips with more persons than the network's {id_table} ids: {too_many[:3]}")
        self.clips, self.stats = list(clips), stats
        self.max_frames, self.id_table, self.mirror = max_frames, id_table, mirror
        self.scene, self.seed = scene, seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: tuple[int, int]) -> TrainItem:
        index, position = key
        generator = torch_generator(self.seed, "item", position)
        clip = self.clips[index]
        # 1. Mirror coin; the crop, caption and scene are mirrored below (cheaper than the clip).
        mirrored = self.mirror and bool(torch.rand((), generator=generator, dtype=torch.float64) < 0.5)
        # 2. Crop.
        start = 0
        if clip.num_frames > self.max_frames:
            start = int(torch.randint(clip.num_frames - self.max_frames + 1, (), generator=generator))
        crop = clip.features[:, start : start + self.max_frames]
        # 3. Caption.
        text = ""
        if clip.texts:
            text = clip.texts[int(torch.randint(len(clip.texts), (), generator=generator))]
        # 4. Person ids.
        ids = draw_person_ids(clip.num_persons, self.id_table, generator)
        # 5. Scene groups.
        scene = None
        if self.scene.enabled and clip.scene_points is not None:
            points = torch.from_numpy(clip.scene_points)
            if mirrored:
                points = points * torch.tensor([-1.0, 1.0, 1.0])
            scene = scene_tokens(points, self.scene.groups, generator, self.scene.group_size)
        if mirrored:
            crop, text = mirror_features(crop), mirror_text(text)
        features = torch.from_numpy(self.stats.normalize(crop).astype(np.float32))
        return TrainItem(
            features=features, roles=role_ids(clip.roles), person_ids=ids, text=text, scene=scene, position=position
        )

    def captions(self) -> list[str]:
        """Every caption an item can carry (mirrored ones too when mirroring), sorted, unique."""
        texts = {t for clip in self.clips for t in clip.texts}
        if self.mirror:
            texts |= {mirror_text(t) for t in texts}
        return sorted(texts)


@dataclass(eq=False)
class TrainBatch:
    """B items padded to the batch's most persons P and longest crop T.

    x0: (B, P, T, F) float32 normalised features, zeros where padded.
    roles, person_ids: (B, P) int64; person_mask: (B, P) bool; frame_mask: (B, T) bool.
    scene_points: (B, S, G, 3) metres relative to centres, scene_centres: (B, S, 3) metres,
    scene_mask: (B, S) bool; all None when no item has a scene.
    texts: B captions ("" = none). positions: (B,) int64 global sample positions.
    lengths: (B,) int64 real frames; persons: (B,) int64 real persons.
    """

    x0: Tensor
    roles: Tensor
    person_ids: Tensor
    person_mask: Tensor
    frame_mask: Tensor
    scene_points: Tensor | None
    scene_centres: Tensor | None
    scene_mask: Tensor | None
    texts: list[str]
    positions: Tensor
    lengths: Tensor
    persons: Tensor

    def conditioning(self, text: Tensor | None) -> Conditioning:
        """The batch's Conditioning; text: (B, E) embeddings (rows of "" captions are ignored)."""
        has_text = torch.tensor([bool(t) for t in self.texts], dtype=torch.bool, device=self.x0.device)
        if text is not None:
            text = text * has_text[:, None].to(text.dtype)
        return Conditioning(
            text=text,
            text_mask=has_text if text is not None else torch.zeros_like(has_text),
            roles=self.roles,
            person_ids=self.person_ids,
            person_mask=self.person_mask,
            frame_mask=self.frame_mask,
            scene_points=self.scene_points,
            scene_centres=self.scene_centres,
            scene_mask=self.scene_mask,
        )

    def to(self, device: torch.device | str) -> TrainBatch:
        """A copy with every tensor on ``device``."""
        moved = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in vars(self).items()}
        return TrainBatch(**moved)

    def pin_memory(self) -> TrainBatch:
        """A copy in page-locked memory (the DataLoader calls this with ``pin_memory=True``)."""
        pinned = {k: v.pin_memory() if isinstance(v, Tensor) else v for k, v in vars(self).items()}
        return TrainBatch(**pinned)


def collate(items: Sequence[TrainItem]) -> TrainBatch:
    """Pad and stack items (the DataLoader's ``collate_fn``)."""
    b = len(items)
    p = max(item.features.shape[0] for item in items)
    t = max(item.features.shape[1] for item in items)
    features_dim = items[0].features.shape[2]
    x0 = torch.zeros(b, p, t, features_dim)
    roles = torch.full((b, p), _PAD_ROLE, dtype=torch.int64)
    ids = torch.zeros(b, p, dtype=torch.int64)
    lengths = torch.tensor([item.features.shape[1] for item in items], dtype=torch.int64)
    persons = torch.tensor([item.features.shape[0] for item in items], dtype=torch.int64)
    for row, item in enumerate(items):
        n, frames = item.features.shape[:2]
        x0[row, :n, :frames] = item.features
        roles[row, :n], ids[row, :n] = item.roles, item.person_ids
    scenes = [item.scene for item in items]
    scene_points = scene_centres = scene_mask = None
    if any(s is not None for s in scenes):
        present = [s for s in scenes if s is not None]
        size, group = max(s.centres.shape[0] for s in present), present[0].points.shape[1]
        scene_points = torch.zeros(b, size, group, 3)
        scene_centres = torch.zeros(b, size, 3)
        scene_mask = torch.zeros(b, size, dtype=torch.bool)
        for row, s in enumerate(scenes):
            if s is not None:
                n = s.centres.shape[0]
                scene_points[row, :n], scene_centres[row, :n], scene_mask[row, :n] = s.points, s.centres, True
    return TrainBatch(
        x0=x0,
        roles=roles,
        person_ids=ids,
        person_mask=torch.arange(p)[None, :] < persons[:, None],
        frame_mask=torch.arange(t)[None, :] < lengths[:, None],
        scene_points=scene_points,
        scene_centres=scene_centres,
        scene_mask=scene_mask,
        texts=[item.text for item in items],
        positions=torch.tensor([item.position for item in items], dtype=torch.int64),
        lengths=lengths,
        persons=persons,
    )


def warm_text_cache(encoder: CachedTextEncoder, captions: Sequence[str], chunk: int = 256) -> None:
    """Encode every caption once, sorted, in fixed chunks, before training starts.

    A text model's output can differ in the last bits with the batch it ran in; encoding in a
    fixed grouping makes every process and every resumed run see the same embedding rows.
    The cache must hold all captions (``max_entries`` >= len(captions)).
    """
    if encoder.max_entries < len(captions):
        raise ValueError(f"text cache holds {encoder.max_entries} rows, the data set has {len(captions)} captions")
    for first in range(0, len(captions), chunk):
        encoder.encode(list(captions[first : first + chunk]))


def encode_texts(encoder: CachedTextEncoder, texts: Sequence[str]) -> Tensor:
    """(B, E) float32 rows for B captions; "" gives a zero row (its text_mask is False anyway)."""
    known = [t for t in texts if t]
    rows = encoder.encode(known) if known else None
    out = torch.zeros(len(texts), encoder.dim)
    j = 0
    for i, t in enumerate(texts):
        if t:
            out[i] = rows[j].to(out.device)
            j += 1
    return out


def build_text_encoder(text: TextConfig, device: torch.device | str = "cpu") -> TextEncoder:
    """The encoder ``[text]`` names (config.TextConfig); nothing is downloaded."""
    if text.encoder == MINILM_ID:
        return MiniLMEncoder(device=device)
    if text.encoder == "clip-config":
        return ClipTextEncoder.from_config(text.clip_config, seed=text.clip_seed, device=device)
    if text.encoder.count(":") == 2:  # a full id: the weights must hash to it
        return load_text_encoder(text.encoder, clip_weights_path=text.clip_weights, device=device)
    return ClipTextEncoder(text.encoder.split(":", 1)[1], weights_path=text.clip_weights, device=device)
