"""Which clip every global sample position holds, and which positions each process loads.

The run is one endless stream of sample positions 0, 1, 2, ...; global batch k (= step k) is
positions [k B, (k + 1) B). The stream is cut into epochs of L positions. Epoch e is the
multiset "each clip of source s ``weight_s`` times" (the fractional part of a weight picks that
share of the source's clips afresh each epoch, without replacement) in a random order drawn
from (seed, "order", e). L is the same for every epoch.

``GlobalBatchSampler`` is a ``torch.utils.data.Sampler`` with DistributedSampler's knobs
(``num_replicas``, ``rank``, ``seed``; ``set_epoch`` is not needed: the epoch follows from the
position). Process r of W yields rows [r B/W, (r + 1) B/W) of every global batch, as
(clip index, position) keys, so the W shards together are exactly the single-process batch,
and resuming at step k only needs k.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from .randomness import numpy_generator


class EpochOrder:
    """Position -> clip index, for sources of ``sizes`` clips with ``weights`` copies per epoch."""

    def __init__(self, sizes: Sequence[int], weights: Sequence[float], seed: int) -> None:
        if len(sizes) != len(weights) or not sizes:
            raise ValueError("EpochOrder: one weight per source, at least one source")
        self.sizes, self.weights, self.seed = [int(n) for n in sizes], [float(w) for w in weights], int(seed)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self._partial = [round((w - math.floor(w)) * n) for n, w in zip(self.sizes, self.weights)]
        self.epoch_length = sum(math.floor(w) * n + k for n, w, k in zip(self.sizes, self.weights, self._partial))
        if self.epoch_length < 1:
            raise ValueError("EpochOrder: every source is empty or has weight 0; nothing to train on")
        self._cached: tuple[int, np.ndarray] | None = None

    def epoch(self, epoch: int) -> np.ndarray:
        """(L,) int64 clip indices (into the concatenation of all sources) of epoch ``epoch``."""
        if self._cached is not None and self._cached[0] == epoch:
            return self._cached[1]
        rng = numpy_generator(self.seed, "order", epoch)
        parts = []
        for source, (n, w, k) in enumerate(zip(self.sizes, self.weights, self._partial)):
            base = np.arange(self.offsets[source], self.offsets[source] + n, dtype=np.int64)
            parts.extend([base] * math.floor(w))
            if k:
                parts.append(np.sort(rng.choice(base, size=k, replace=False)))
        order = rng.permutation(np.concatenate(parts))
        self._cached = (epoch, order)
        return order

    def clip_at(self, position: int) -> int:
        """The clip index at global sample position ``position``."""
        epoch, offset = divmod(position, self.epoch_length)
        return int(self.epoch(epoch)[offset])


class GlobalBatchSampler(Sampler):
    """Endless (clip index, position) keys of this process's rows, from global step ``start_step`` on."""

    def __init__(
        self, order: EpochOrder, batch_size: int, *, num_replicas: int = 1, rank: int = 0, start_step: int = 0
    ) -> None:
        if batch_size % num_replicas:
            raise ValueError(f"the global batch size {batch_size} must be divisible by the {num_replicas} processes")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside [0, {num_replicas})")
        self.order, self.batch_size = order, batch_size
        self.num_replicas, self.rank, self.start_step = num_replicas, rank, start_step
        self.local_batch_size = batch_size // num_replicas
        self.seed = order.seed

    def positions(self, step: int) -> range:
        """The global sample positions this process loads for ``step``."""
        first = step * self.batch_size + self.rank * self.local_batch_size
        return range(first, first + self.local_batch_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        step = self.start_step
        while True:
            for position in self.positions(step):
                yield self.order.clip_at(position), position
            step += 1
