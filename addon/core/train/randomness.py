"""Every random number of a training run, derived from (config seed, purpose, counters).

Nothing in training draws from a generator whose state depends on what ran before: a sample's
crop, caption, mirroring and person ids come from a generator seeded by (seed, "item", global
sample position); its diffusion step, noise and condition dropout from (seed, "row", that
position); network dropout from (seed, "dropout", step, rank). So a resumed run, a run with
data-loader workers and a run sharded over W processes see exactly the numbers of one
uninterrupted single-process run, and no generator state has to be saved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

_PURPOSES = {"item": 1, "row": 2, "order": 3, "dropout": 4, "init": 5, "scene": 6, "toy": 7}


def stream_seed(seed: int, purpose: str, *counters: int) -> int:
    """A 63-bit seed for (seed, purpose, counters...) through numpy's SeedSequence hashing.

    purpose: one of "item", "row", "order", "dropout", "init", "scene", "toy".
    Different tuples give statistically independent streams (SeedSequence's guarantee).
    """
    words = [int(seed), _PURPOSES[purpose], *(int(c) for c in counters)]
    if min(words) < 0:
        raise ValueError(f"seeds and counters must be >= 0, got {words}")
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def torch_generator(seed: int, purpose: str, *counters: int) -> torch.Generator:
    """A CPU torch.Generator seeded by :func:`stream_seed`."""
    return torch.Generator().manual_seed(stream_seed(seed, purpose, *counters))


def numpy_generator(seed: int, purpose: str, *counters: int) -> np.random.Generator:
    """A numpy Generator (PCG64) seeded by :func:`stream_seed`."""
    return np.random.default_rng(stream_seed(seed, purpose, *counters))


@dataclass(frozen=True)
class RowDraws:
    """The random numbers of one training row (one sample at one step).

    t: diffusion timestep index in [0, N). noise: (P, T, F) float32 standard normal.
    drop_text / drop_scene: whether this row trains unconditionally on text / scene.
    """

    t: int
    noise: Tensor
    drop_text: bool
    drop_scene: bool


def draw_row(
    seed: int, position: int, shape: tuple[int, int, int], num_timesteps: int, p_text: float, p_scene: float
) -> RowDraws:
    """Draws for the training row of global sample ``position`` (unique over the whole run).

    shape: (persons, frames, features) of its item. Order of draws (fixed, so values never
    shift): t, text coin, scene coin, noise.
    """
    generator = torch_generator(seed, "row", position)
    t = int(torch.randint(num_timesteps, (), generator=generator))
    coins = torch.rand(2, generator=generator, dtype=torch.float64)
    noise = torch.randn(shape, generator=generator, dtype=torch.float32)
    return RowDraws(t=t, noise=noise, drop_text=bool(coins[0] < p_text), drop_scene=bool(coins[1] < p_scene))
