"""The 95 % confidence band the evaluation reports put around every mean.

Half-width = 1.96 · σ / √n with the population standard deviation (ddof = 0), the
convention of the text-to-motion literature (Guo et al. 2022's evaluation scripts report
mean ± 1.96·σ/√20 over 20 replications); it is a normal approximation, so bands from a
handful of values are optimistic.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

Z_95 = 1.96  # two-sided 95 % quantile of the standard normal


def mean_and_half_width(values: Iterable[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """values: (n, ...) samples along axis 0 -> (mean (...), half-width (...)), float64.

    n = 1 gives a half-width of 0; n = 0 raises ValueError.
    """
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    if array.ndim == 0 or len(array) == 0:
        raise ValueError("mean_and_half_width: no values")
    n = len(array)
    return array.mean(axis=0), Z_95 * array.std(axis=0) / np.sqrt(n)
