"""Per-frame series: centred moving averages (short clips as well as long ones), eased
corrections, and the runs of a per-frame flag."""

from __future__ import annotations

import numpy as np


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(T,) bool -> the [start, stop) runs of consecutive True frames, in order (Python ints)."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


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


def eased_peaks(values: np.ndarray, half_width: int) -> np.ndarray:
    """(T,) non-negative per-frame amounts -> (T,): each the largest within ``half_width``
    frames either side, then averaged over as many (the ends repeat the edge value), and never
    less than the amount itself: a correction that eases in and out instead of popping."""
    values = np.asarray(values, dtype=np.float64)
    if not values.any() or half_width < 1:
        return values
    width = 2 * half_width + 1
    padded = np.pad(values, half_width, mode="edge")
    dilated = np.lib.stride_tricks.sliding_window_view(padded, width).max(axis=-1)
    smoothed = np.lib.stride_tricks.sliding_window_view(np.pad(dilated, half_width, mode="edge"), width).mean(-1)
    return np.maximum(smoothed, values)


def smoothstep(value: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 at or below ``start``, 1 at or above ``end``, the smoothstep 3s² - 2s³ between."""
    s = np.clip((np.asarray(value, dtype=np.float64) - start) / (end - start), 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)
