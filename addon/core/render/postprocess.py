"""Sensor effects applied to rendered frames (numpy only)."""

from __future__ import annotations

import numpy as np


def sensor_noise(image: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 plus Gaussian noise of ``std`` (fraction of full scale), rounded and clipped."""
    if std <= 0.0:
        return np.asarray(image, dtype=np.uint8)
    noisy = np.asarray(image, dtype=np.float64) + rng.normal(0.0, std * 255.0, image.shape)
    return noisy.round().clip(0, 255).astype(np.uint8)


def frame_generator(seed: int, frame: int) -> np.random.Generator:
    """The noise generator of one frame of a clip: independent of how many frames came before."""
    return np.random.default_rng([int(seed) & (2**32 - 1), int(seed) >> 32, int(frame)])
