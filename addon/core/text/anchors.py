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

Grouped anchors. When the data set names each clip's action (``Clip.label``: the procedural
script), the anchors carry it and a prompt first picks one group, then blends inside it:

    group  = argmax_g  mean of the GROUP_VOTES highest cos(e, a_k) over the anchors of g,
    e'     = the blend above, over the group's anchors only,

so a new wording lands on captions of one action instead of a blend of, say, "falls while
walking" and "falls"; a blend of two actions is a motion the model never learnt. Voting over
several captions per group is a kNN classifier in the text encoder's space, steadier than the
single nearest caption. Anchors without a label are groups of one. The grouping was chosen on
the tuning prompts (``data.procedural.prompts.DEV``, tools/tune_sampling.py), not on the
evaluation's.

With a token bank (``PromptAnchors.tokens``, ``text.token_alignment``) and the prompt's tokens,
the group vote scores captions by token alignment F instead of cos(e, a_k): word-by-word
matching places new wordings in the right action more often (tuning prompts: 31 of 40 groups
instead of 25). The blend inside the group is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np
import torch

from ..diffusion.conditioning import ROLES
from .token_alignment import PromptTokens, TokenBank, TokenEncode, build_token_bank

TOP_K = 8
TEMPERATURE = 0.05  # cosine units: a caption 0.05 closer weighs e times more
GROUP_VOTES = 5  # captions per group that score it


@dataclass(frozen=True, eq=False)
class PromptAnchors:
    """texts: N captions; embeddings: (N, E) float32, unit rows; role_counts: (N, len(ROLES)) int,
    how many persons of each role (ROLES order) the caption's clip has; groups: N action labels
    of the captions' clips ("" none), or () when the data set names no actions; tokens: the
    captions' token bank for the group vote, or None (then sentence similarity votes)."""

    texts: tuple[str, ...]
    embeddings: np.ndarray
    role_counts: np.ndarray
    groups: tuple[str, ...] = ()
    tokens: TokenBank | None = None

    def __post_init__(self) -> None:
        n = len(self.texts)
        if self.embeddings.ndim != 2 or len(self.embeddings) != n:
            raise ValueError(f"anchors: embeddings {self.embeddings.shape} do not match {n} texts")
        if self.role_counts.shape != (n, len(ROLES)):
            raise ValueError(f"anchors: role_counts {self.role_counts.shape}, expected ({n}, {len(ROLES)})")
        if n == 0:
            raise ValueError("anchors: no captions")
        if self.groups and len(self.groups) != n:
            raise ValueError(f"anchors: {len(self.groups)} group labels for {n} texts")
        if self.tokens is not None and self.tokens.count != n:
            raise ValueError(f"anchors: a token bank of {self.tokens.count} captions for {n} texts")

    @property
    def grouped(self) -> bool:
        """Whether some anchor names its clip's action (then :func:`anchor_prompts` picks a group)."""
        return any(self.groups)

    @cached_property
    def group_index(self) -> np.ndarray:
        """(N,) int64: each anchor's position in ``dict.fromkeys(groups)`` without "", -1 unlabelled."""
        names = [g for g in dict.fromkeys(self.groups) if g]
        position = {g: i for i, g in enumerate(names)}
        return np.array([position.get(g, -1) for g in self.groups] or [-1] * len(self.texts), dtype=np.int64)


@dataclass(frozen=True)
class Anchored:
    """embeddings: (B, E) float32 unit rows to condition on; interpretation: per prompt, the
    nearest anchors as (caption, weight) pairs, heaviest first; groups: per prompt, the action
    group it was placed in ("" when the anchors have none)."""

    embeddings: torch.Tensor
    interpretation: list[list[tuple[str, float]]]
    groups: list[str]


def role_counts(roles: Sequence[str]) -> np.ndarray:
    """("staff", "patient") -> (len(ROLES),) int counts; ValueError naming an unknown role."""
    counts = np.zeros(len(ROLES), dtype=np.int64)
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"roles: unknown role {role!r}; each must be one of {ROLES}")
        counts[ROLES.index(role)] += 1
    return counts


def anchor_prompts(anchors: PromptAnchors, embeddings: torch.Tensor, roles: Sequence[Sequence[str]],
                   top_k: int = TOP_K, temperature: float = TEMPERATURE,
                   prompt_tokens: Sequence[PromptTokens] | None = None) -> Anchored:
    """embeddings: (B, E) the prompts' unit embeddings; roles: B role lists; prompt_tokens: B
    prompts' tokens (``TextEncoder.encode_tokens``) for a token-aligned group vote, or None ->
    :class:`Anchored` (module docstring; grouped anchors pick a group first). Rows are
    independent; the output is on the input's device and dtype."""
    if len(roles) != len(embeddings):
        raise ValueError(f"anchor_prompts: {len(embeddings)} embeddings but {len(roles)} role lists")
    if prompt_tokens is not None and len(prompt_tokens) != len(embeddings):
        raise ValueError(f"anchor_prompts: {len(embeddings)} embeddings but {len(prompt_tokens)} token lists")
    grouped = anchors.grouped
    bank = torch.as_tensor(anchors.embeddings, dtype=torch.float32)
    prompts = embeddings.detach().to("cpu", torch.float32)
    similarity = prompts @ bank.T  # (B, N)
    out, interpretation, groups = [], [], []
    for row, wanted in enumerate(roles):
        allowed = torch.as_tensor(_compatible(anchors.role_counts, role_counts(wanted)))
        group = ""
        if grouped:
            votes = similarity[row]
            if anchors.tokens is not None and prompt_tokens is not None:
                votes = torch.as_tensor(anchors.tokens.alignment(prompt_tokens[row]))
            group, members = _best_group(anchors, votes, allowed)
            allowed = allowed & members
        scores = similarity[row].masked_fill(~allowed, -torch.inf)
        k = min(top_k, int(allowed.sum()))
        top = scores.topk(k)
        weights = torch.softmax(top.values / temperature, dim=0)
        mixed = (weights[:, None] * bank[top.indices]).sum(0)
        out.append(mixed / mixed.norm().clamp_min(1e-12))
        interpretation.append([(anchors.texts[int(i)], float(w)) for i, w in zip(top.indices, weights)])
        groups.append(group)
    return Anchored(torch.stack(out).to(embeddings.device, embeddings.dtype), interpretation, groups)


def _best_group(anchors: PromptAnchors, similarity: torch.Tensor, allowed: torch.Tensor,
                votes: int = GROUP_VOTES) -> tuple[str, torch.Tensor]:
    """The group whose ``votes`` most similar allowed anchors score highest on average, and its
    (N,) bool member mask. An anchor without a label is a group of one (its own score)."""
    index = torch.as_tensor(anchors.group_index)
    best, best_score, best_members = "", -torch.inf, allowed
    for group in torch.unique(index[allowed & (index >= 0)]).tolist():
        members = allowed & (index == group)
        score = similarity[members].topk(min(votes, int(members.sum()))).values.mean()
        if score > best_score:
            best, best_score, best_members = anchors.groups[int(members.nonzero()[0])], score, members
    unlabelled = allowed & (index < 0)
    if unlabelled.any():
        value, single = similarity.masked_fill(~unlabelled, -torch.inf).max(0)
        if value > best_score:
            return "", torch.nn.functional.one_hot(single, len(index)).bool()
    return best, best_members


def _compatible(counts: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """(N,) bool: anchors with exactly the wanted roles; else as many persons; else all."""
    for allowed in ((counts == wanted).all(axis=1), counts.sum(axis=1) == wanted.sum()):
        if allowed.any():
            return allowed
    return np.ones(len(counts), dtype=bool)


def sample_anchors(texts: Sequence[str], roles: Sequence[Sequence[str]], encode, max_count: int,
                   seed: int = 0, groups: Sequence[str] | None = None,
                   encode_tokens: TokenEncode | None = None) -> PromptAnchors:
    """PromptAnchors from captions, their clips' roles and (optionally) action labels: duplicates
    (same caption, roles and label) dropped, at most ``max_count`` kept (a seeded sample, spread
    over the data), embedded with ``encode(list[str]) -> (B, E) unit tensor``; with
    ``encode_tokens`` (``TextEncoder.encode_tokens``) and labels, also their token bank."""
    labels = [""] * len(texts) if groups is None else [str(g) for g in groups]
    if len(labels) != len(texts):
        raise ValueError(f"anchors: {len(labels)} group labels for {len(texts)} captions")
    unique = list(dict.fromkeys((t, tuple(sorted(r)), g) for t, r, g in zip(texts, roles, labels) if t))
    if not unique:
        raise ValueError("anchors: the training data has no captions")
    if len(unique) > max_count:
        keep = np.sort(np.random.default_rng(seed).choice(len(unique), max_count, replace=False))
        unique = [unique[i] for i in keep]
    embeddings = encode([t for t, _, _ in unique]).detach().to("cpu", torch.float32).numpy()
    kept_groups = tuple(g for _, _, g in unique)
    kept_texts = [t for t, _, _ in unique]
    tokens = build_token_bank(encode_tokens(kept_texts)) if encode_tokens is not None and any(kept_groups) else None
    return PromptAnchors(tuple(kept_texts), embeddings, np.stack([role_counts(r) for _, r, _ in unique]),
                         kept_groups if any(kept_groups) else (), tokens)

