"""Token alignment: how well a prompt's words match a caption's, in the text encoder's token space.

A sentence embedding is the mean of a prompt's token vectors, so a prompt worded unlike every
training caption ("a pensioner topples over where he stands") lands wherever its unusual words
pull it, often nearer a caption of another action that shares its frame ("... stands ...")
than one that shares its meaning ("the old man falls forwards"). Matching word by word is
steadier: each token of the prompt finds its most similar token in the caption, and each
caption token its most similar prompt token (BERTScore, Zhang et al. 2020),

    P = sum_i idf(x_i) max_j cos(x_i, y_j) / sum_i idf(x_i)       (prompt tokens x_i)
    R = sum_j idf(y_j) max_i cos(x_i, y_j) / sum_j idf(y_j)       (caption tokens y_j)
    F = 2 P R / (P + R),

with idf(t) = log((N + 1) / (n_t + 1)) over the N captions (n_t of them contain token t), so
words every caption has ("a", "the", role nouns) count for little. Token vectors are the text
encoder's last hidden states (special tokens dropped), centred on the bank's mean token and
projected onto its first ``dims`` principal axes, then normalised: contextual token vectors
share one large common direction that makes every cosine high; removing it spreads them out,
and the projection keeps the bank small enough to ship (``TOKEN_DIMS`` axes hold about 90 % of
the variance of MiniLM's token vectors of the bundled captions).

Anchoring (``text.anchors``) uses F to pick a prompt's action group; the blend inside the group
stays on sentence embeddings, which is what the denoiser was trained on. Chosen on the tuning
prompts (``data.procedural.prompts.DEV``: 25 -> 31 of 40 groups right).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Sequence

import numpy as np

TOKEN_DIMS = 96  # principal axes kept per token vector

# A text encoder's token output: per prompt (token ids (L,) int, vectors (L, E) float, unit rows).
PromptTokens = tuple[np.ndarray, np.ndarray]
TokenEncode = Callable[[list[str]], list[PromptTokens]]


@dataclass(frozen=True, eq=False)
class TokenBank:
    """The anchors' captions as projected token vectors.

    vectors: (M, D) float32 unit rows, every caption's tokens one after another;
    offsets: (N + 1,) int64, caption n owns rows offsets[n]:offsets[n + 1] (each at least one);
    token_ids: (M,) int64, the tokenizer's id of each row (for idf);
    mean: (E,) float32, the mean raw token vector; basis: (E, D) float32 orthonormal columns.
    """

    vectors: np.ndarray
    offsets: np.ndarray
    token_ids: np.ndarray
    mean: np.ndarray
    basis: np.ndarray

    def __post_init__(self) -> None:
        m, d = self.vectors.shape
        offsets = self.offsets
        if offsets.ndim != 1 or len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != m or np.any(np.diff(offsets) < 1):
            raise ValueError(f"token bank: offsets must rise from 0 to {m} by at least 1 per caption")
        if self.token_ids.shape != (m,):
            raise ValueError(f"token bank: {self.token_ids.shape} token ids for {m} token vectors")
        if self.basis.ndim != 2 or self.basis.shape[1] != d or self.mean.shape != (self.basis.shape[0],):
            raise ValueError(f"token bank: basis {self.basis.shape} / mean {self.mean.shape} do not project "
                             f"onto the vectors' {d} numbers")

    @property
    def count(self) -> int:
        """N, the number of captions."""
        return len(self.offsets) - 1

    @cached_property
    def _document_frequency(self) -> dict[int, int]:
        """token id -> number of captions containing it."""
        caption = np.repeat(np.arange(self.count), np.diff(self.offsets))
        pairs = np.unique(np.stack([self.token_ids, caption]), axis=1)
        ids, counts = np.unique(pairs[0], return_counts=True)
        return dict(zip(ids.tolist(), counts.tolist()))

    def idf(self, token_ids: np.ndarray) -> np.ndarray:
        """(L,) token ids -> (L,) float64 log((N + 1) / (n_t + 1))."""
        frequency = self._document_frequency
        n = np.array([frequency.get(int(t), 0) for t in token_ids], dtype=np.float64)
        return np.log((self.count + 1) / (n + 1))

    @cached_property
    def _bank_idf(self) -> np.ndarray:
        return self.idf(self.token_ids)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """(L, E) raw token vectors -> (L, D) float32 unit rows in the bank's space."""
        projected = (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.basis
        return projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)

    def alignment(self, prompt: PromptTokens) -> np.ndarray:
        """One prompt's (ids (L,), raw vectors (L, E)) -> (N,) float32 F scores (module docstring);
        a prompt without tokens scores 0 everywhere."""
        ids, raw = prompt
        if len(ids) == 0:
            return np.zeros(self.count, dtype=np.float32)
        similarity = self.project(raw) @ self.vectors.T  # (L, M)
        starts = self.offsets[:-1]
        weight = self.idf(ids)
        best = np.maximum.reduceat(similarity, starts, axis=1)  # (L, N): each prompt token's best match
        precision = (best * weight[:, None]).sum(0) / max(weight.sum(), 1e-12)
        caption_weight = self._bank_idf
        recall = (np.add.reduceat(similarity.max(0) * caption_weight, starts)
                  / np.maximum(np.add.reduceat(caption_weight, starts), 1e-12))
        f = 2 * precision * recall / np.where(np.abs(precision + recall) < 1e-12, 1e-12, precision + recall)
        return f.astype(np.float32)


def build_token_bank(captions: Sequence[PromptTokens], dims: int = TOKEN_DIMS) -> TokenBank:
    """N captions' (ids (L,), raw vectors (L, E)) -> TokenBank with min(dims, E, M) principal axes
    of the centred token vectors. Every caption needs at least one token."""
    if not captions or any(len(ids) == 0 for ids, _ in captions):
        raise ValueError("token bank: every caption needs at least one token")
    raw = np.concatenate([np.asarray(v, dtype=np.float64) for _, v in captions])
    mean = raw.mean(0)
    _, _, axes = np.linalg.svd(raw - mean, full_matrices=False)
    basis = np.ascontiguousarray(axes[:min(dims, len(axes))].T, dtype=np.float32)
    bank_mean = mean.astype(np.float32)
    projected = (raw.astype(np.float32) - bank_mean) @ basis
    vectors = projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)
    offsets = np.concatenate([[0], np.cumsum([len(ids) for ids, _ in captions])]).astype(np.int64)
    token_ids = np.concatenate([np.asarray(ids, dtype=np.int64) for ids, _ in captions])
    return TokenBank(vectors.astype(np.float32), offsets, token_ids, bank_mean, basis)
