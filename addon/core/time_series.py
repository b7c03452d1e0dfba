"""Centred moving averages of per-frame series, for short clips as well as long ones."""

from __future__ import annotations

import numpy as np


def centred_mean(values: np.ndarray, window: int, axis: int = 0) -> np.ndarray:
    """Mean over a centred window of ``window`` (odd) samples along ``axis``, averaging only the
    samples that exist (the ends average fewer); the same shape as ``values``, float64, whatever
    the series' length (a series shorter than the window is averaged over what it has)."""
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
    half = window // 2
    padded = np.concatenate([np.zeros((half + 1, *values.shape[1:])), values, np.zeros((half, *values.shape[1:]))])
    ones = np.concatenate([np.zeros(half + 1), np.ones(len(values)), np.zeros(half)])
    sums = np.cumsum(padded, axis=0)
    counts = np.cumsum(ones)
    window_sums = sums[window:] - sums[:-window]  # samples i - half .. i + half
    window_counts = (counts[window:] - counts[:-window]).reshape(-1, *([1] * (values.ndim - 1)))
    return np.moveaxis(window_sums / window_counts, 0, axis)
