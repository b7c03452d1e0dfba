"""Baselines run the same way as the model: independent single-person sampling and nearest-neighbour retrieval.

* Independent: each person of a request sampled alone by the same network (one person, its
  role, the prompt, no scene), the persons then put together: what a single-person text-to-
  motion model gives when asked once per role.
* Nearest neighbour: the training clip whose caption embedding is nearest (cosine) to the
  prompt's, among clips with the same roles (else the same number of persons, else more), its
  motion as it is, cropped or held at its last frame to the requested length. It ignores the
  scene it is put in.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..generate import Generator
from .clips import EvalClip
from .sampling import SampleRequest, sample_features


def independent_features(generator: Generator, requests: Sequence[SampleRequest], *, sampler: str, steps: int,
                         guidance: float, seed: int, batch_size: int = 16,
                         progress: Callable[[int, int], None] | None = None) -> list[np.ndarray]:
    """(P, T, 264) per request: every person sampled on its own, without the scene."""
    singles = [SampleRequest(r.prompt, (role,), r.frames, None) for r in requests for role in r.roles]
    features = sample_features(generator, singles, sampler=sampler, steps=steps, guidance=guidance, seed=seed,
                               batch_size=batch_size, progress=progress)
    out, k = [], 0
    for r in requests:
        out.append(np.concatenate(features[k : k + len(r.roles)], axis=0))
        k += len(r.roles)
    return out


def nearest_neighbour_features(train: Sequence[EvalClip], train_text: np.ndarray, prompts_text: np.ndarray,
                               requests: Sequence[SampleRequest]) -> tuple[list[np.ndarray], list[int]]:
    """(P, T, 264) per request from the training clip with the nearest caption and the same
    roles (sorted), and the index of that clip. train_text (N, E), prompts_text (M, E)."""
    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)

    similarity = unit(prompts_text) @ unit(train_text).T  # (M, N)
    keys = [tuple(sorted(c.roles)) for c in train]
    out, chosen = [], []
    for m, request in enumerate(requests):
        want = tuple(sorted(request.roles))
        allowed = np.array([k == want for k in keys])
        for fallback in (lambda k: len(k) == len(want), lambda k: len(k) >= len(want), lambda k: True):
            if allowed.any():
                break
            allowed = np.array([fallback(k) for k in keys])
        scores = np.where(allowed, similarity[m], -np.inf)
        index = int(np.argmax(scores))
        clip = train[index]
        order = _match_roles(clip.roles, request.roles)
        features = clip.features[order]
        T = request.frames
        if features.shape[1] >= T:
            features = features[:, :T]
        else:
            pad = np.repeat(features[:, -1:], T - features.shape[1], axis=1)
            pad[..., 66:132] = 0.0  # held still: zero velocity
            features = np.concatenate([features, pad], axis=1)
        out.append(features.astype(np.float32))
        chosen.append(index)
    return out, chosen


def _match_roles(have: tuple[str, ...], want: tuple[str, ...]) -> list[int]:
    """Indices into ``have`` that list its persons in the order of ``want``'s roles."""
    left = list(range(len(have)))
    order = []
    for role in want:
        if not left:  # fewer persons than asked for (no larger clip to retrieve): repeat them
            left = list(range(len(have)))
        pick = next((i for i in left if have[i] == role), left[0])
        order.append(pick)
        left.remove(pick)
    return order
