"""Prompt anchors: a user's wording mapped onto the captions the checkpoint was trained on.

A denoiser trained on a few thousand template captions follows embeddings near them and drifts
to a generic motion for wordings it never saw ("a pensioner topples over" is far from every
"the old man falls forwards" in MiniLM space, yet closer to it than to anything else). The
checkpoint therefore carries anchors: the text embeddings of a sample of its training captions,
each with the roles of the clip it describes. A prompt's embedding e (unit, E numbers) becomes

    e' = normalise( sum_k w_k a_k ),   w = softmax(cos(e, a_k) / temperature) over the k nearest
                                           anchors whose clips had the request's roles,

so a training caption maps (almost) onto itself and a new wording onto a blend of the captions it
resembles. ``interpretation`` names the nearest ones: what the model understood, for the panel.
Anchors of clips with other roles are used only when no anchor has the request's roles (then
those with as many persons, then all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..diffusion.conditioning import ROLES

TOP_K = 8
TEMPERATURE = 0.05  # cosine units: a caption 0.05 closer weighs e times more


@dataclass(frozen=True, eq=False)
class PromptAnchors:
    """texts: N captions; embeddings: (N, E) float32, unit rows; role_counts: (N, len(ROLES)) int,
    how many persons of each role (ROLES order) the caption's clip has."""

    texts: tuple[str, ...]
    embeddings: np.ndarray
    role_counts: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.texts)
        if self.embeddings.ndim != 2 or len(self.embeddings) != n:
            raise ValueError(f"anchors: embeddings {self.embeddings.shape} do not match {n} texts")
        if self.role_counts.shape != (n, len(ROLES)):
            raise ValueError(f"anchors: role_counts {self.role_counts.shape}, expected ({n}, {len(ROLES)})")
        if n == 0:
            raise ValueError("anchors: no captions")


@dataclass(frozen=True)
class Anchored:
    """embeddings: (B, E) float32 unit rows to condition on; interpretation: per prompt, the
    nearest anchors as (caption, weight) pairs, heaviest first."""

    embeddings: torch.Tensor
    interpretation: list[list[tuple[str, float]]]


def role_counts(roles: Sequence[str]) -> np.ndarray:
    """("staff", "patient") -> (len(ROLES),) int counts; ValueError naming an unknown role."""
    counts = np.zeros(len(ROLES), dtype=np.int64)
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"roles: unknown role {role!r}; each must be one of {ROLES}")
        counts[ROLES.index(role)] += 1
    return counts


def anchor_prompts(anchors: PromptAnchors, embeddings: torch.Tensor, roles: Sequence[Sequence[str]],
                   top_k: int = TOP_K, temperature: float = TEMPERATURE) -> Anchored:
    """embeddings: (B, E) the prompts' unit embeddings; roles: B role lists -> :class:`Anchored`
    (module docstring). Rows are independent; the output is on the input's device and dtype."""
    if len(roles) != len(embeddings):
        raise ValueError(f"anchor_prompts: {len(embeddings)} embeddings but {len(roles)} role lists")
    bank = torch.as_tensor(anchors.embeddings, dtype=torch.float32)
    prompts = embeddings.detach().to("cpu", torch.float32)
    similarity = prompts @ bank.T  # (B, N)
    out, interpretation = [], []
    for row, wanted in enumerate(roles):
        allowed = torch.as_tensor(_compatible(anchors.role_counts, role_counts(wanted)))
        scores = similarity[row].masked_fill(~allowed, -torch.inf)
        k = min(top_k, int(allowed.sum()))
        top = scores.topk(k)
        weights = torch.softmax(top.values / temperature, dim=0)
        mixed = (weights[:, None] * bank[top.indices]).sum(0)
        out.append(mixed / mixed.norm().clamp_min(1e-12))
        interpretation.append([(anchors.texts[int(i)], float(w)) for i, w in zip(top.indices, weights)])
    return Anchored(torch.stack(out).to(embeddings.device, embeddings.dtype), interpretation)


def _compatible(counts: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """(N,) bool: anchors with exactly the wanted roles; else as many persons; else all."""
    for allowed in ((counts == wanted).all(axis=1), counts.sum(axis=1) == wanted.sum()):
        if allowed.any():
            return allowed
    return np.ones(len(counts), dtype=bool)


def sample_anchors(texts: Sequence[str], roles: Sequence[Sequence[str]], encode, max_count: int,
                   seed: int = 0) -> PromptAnchors:
    """PromptAnchors from captions and their clips' roles: duplicates (same caption, same roles)
    dropped, at most ``max_count`` kept (a seeded sample, spread over the data), embedded with
    ``encode(list[str]) -> (B, E) unit tensor``."""
    unique = list(dict.fromkeys((t, tuple(sorted(r))) for t, r in zip(texts, roles) if t))
    if not unique:
        raise ValueError("anchors: the training data has no captions")
    if len(unique) > max_count:
        keep = np.sort(np.random.default_rng(seed).choice(len(unique), max_count, replace=False))
        unique = [unique[i] for i in keep]
    embeddings = encode([t for t, _ in unique]).detach().to("cpu", torch.float32).numpy()
    return PromptAnchors(tuple(t for t, _ in unique), embeddings,
                         np.stack([role_counts(r) for _, r in unique]))
