"""Evaluator examples and their padded batches.

An :class:`EvalItem` is one clip as the evaluator sees it: un-normalised features of its
persons, the frozen sentence embedding of its caption and whatever labels are known.
:func:`collate_items` crops every clip to at most ``max_frames`` (a random window while
training, the centre window when evaluating) and pads persons and frames; the mask says
which (person, frame) entries are real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from ..motion.motion import ROLES
from ..motion.representation import FEATURE_DIM
from .evaluator import IGNORE

Crop = Literal["random", "centre"]


@dataclass(eq=False)
class EvalItem:
    """One clip for the evaluator.

    features: (P, T, 264) float32, un-normalised (representation.py layout), P >= 1, T >= 1.
    text_embedding: (text_dim,) float32, the frozen sentence embedding of the caption.
    roles: P role names from ROLES ("staff", "patient", "person").
    action_labels: (P, T) int64 action ids, -1 = unknown.
    script: the clip's script id, -1 = unknown.
    caption: the caption text; clips with equal non-empty captions are not contrastive
        negatives of each other. Empty: identical text embeddings count as equal captions.
    """

    features: np.ndarray
    text_embedding: np.ndarray
    roles: tuple[str, ...]
    action_labels: np.ndarray
    script: int = IGNORE
    caption: str = field(default="")

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        self.text_embedding = np.asarray(self.text_embedding, dtype=np.float32)
        self.action_labels = np.asarray(self.action_labels, dtype=np.int64)
        self.roles = tuple(self.roles)
        self.script = int(self.script)
        if self.features.ndim != 3 or self.features.shape[-1] != FEATURE_DIM or 0 in self.features.shape:
            raise ValueError(f"EvalItem.features: expected (P, T, {FEATURE_DIM}), got {self.features.shape}")
        if self.text_embedding.ndim != 1:
            raise ValueError(f"EvalItem.text_embedding: expected (text_dim,), got {self.text_embedding.shape}")
        if self.action_labels.shape != self.features.shape[:2]:
            raise ValueError(
                f"EvalItem.action_labels: expected {self.features.shape[:2]} (P, T), got {self.action_labels.shape}"
            )
        if len(self.roles) != self.features.shape[0]:
            raise ValueError(f"EvalItem.roles: {len(self.roles)} roles for {self.features.shape[0]} persons")

    @property
    def caption_key(self) -> str | bytes:
        """What makes two captions equal: the text when given, else the embedding's bytes."""
        return self.caption if self.caption else self.text_embedding.tobytes()


@dataclass
class EvalBatch:
    """Padded tensors of B items (P = most persons, T = longest window in the batch).

    features: (B, P, T, F) float32, zero at padding. mask: (B, P, T) bool, True = real.
    text: (B, text_dim) float32. actions: (B, P, T) long. roles: (B, P) long. script: (B,) long;
    labels are -1 where unknown or padded. text_group: (B,) long, equal for equal captions.
    """

    features: Tensor
    mask: Tensor
    text: Tensor
    actions: Tensor
    roles: Tensor
    script: Tensor
    text_group: Tensor

    def targets(self) -> dict[str, Tensor]:
        """The label tensors, keyed as :func:`.evaluator.evaluator_loss` expects."""
        return {"actions": self.actions, "roles": self.roles, "script": self.script, "text_group": self.text_group}


def collate_items(
    items: Sequence[EvalItem],
    max_frames: int,
    crop: Crop = "centre",
    generator: torch.Generator | None = None,
    roles: tuple[str, ...] = ROLES,
) -> EvalBatch:
    """Crop each item to <= ``max_frames`` frames and pad them into one :class:`EvalBatch`.

    crop: "centre" takes the middle window (evaluation); "random" draws the window start
    from ``generator`` (training; required then). roles: the role names in logit order.
    """
    if not items:
        raise ValueError("collate_items: no items")
    if crop == "random" and generator is None:
        raise ValueError("collate_items: crop='random' needs a generator")
    windows = [_window(item.features.shape[1], max_frames, crop, generator) for item in items]
    B = len(items)
    P = max(item.features.shape[0] for item in items)
    T = max(stop - start for start, stop in windows)
    text_dims = {item.text_embedding.shape[0] for item in items}
    if len(text_dims) != 1:
        raise ValueError(f"collate_items: text embeddings of different sizes {sorted(text_dims)}")
    features = np.zeros((B, P, T, FEATURE_DIM), dtype=np.float32)
    mask = np.zeros((B, P, T), dtype=bool)
    actions = np.full((B, P, T), IGNORE, dtype=np.int64)
    role_ids = np.full((B, P), IGNORE, dtype=np.int64)
    groups: dict[str | bytes, int] = {}
    for b, (item, (start, stop)) in enumerate(zip(items, windows)):
        persons, length = item.features.shape[0], stop - start
        features[b, :persons, :length] = item.features[:, start:stop]
        mask[b, :persons, :length] = True
        actions[b, :persons, :length] = item.action_labels[:, start:stop]
        for p, role in enumerate(item.roles):
            if role not in roles:
                raise ValueError(f"collate_items: item {b} has role {role!r}, expected one of {roles}")
            role_ids[b, p] = roles.index(role)
        groups.setdefault(item.caption_key, len(groups))
    return EvalBatch(
        features=torch.from_numpy(features),
        mask=torch.from_numpy(mask),
        text=torch.from_numpy(np.stack([item.text_embedding for item in items])),
        actions=torch.from_numpy(actions),
        roles=torch.from_numpy(role_ids),
        script=torch.tensor([item.script for item in items], dtype=torch.long),
        text_group=torch.tensor([groups[item.caption_key] for item in items], dtype=torch.long),
    )


def _window(frames: int, max_frames: int, crop: Crop, generator: torch.Generator | None) -> tuple[int, int]:
    """(start, stop) of the frames to keep."""
    if frames <= max_frames:
        return 0, frames
    if crop == "centre":
        start = (frames - max_frames) // 2
    elif crop == "random":
        start = int(torch.randint(0, frames - max_frames + 1, (1,), generator=generator))
    else:
        raise ValueError(f"collate_items: crop must be 'random' or 'centre', got {crop!r}")
    return start, start + max_frames
