"""Scene points of small rooms built by the tests (floor frame, metres, Z up)."""

import numpy as np


def room_with_a_bed() -> np.ndarray:
    """Scene points (N, 3): a 4 x 4 m floor and a 2 x 1 m bed top 0.5 m high at x 1-3, y 1-2."""
    floor = np.stack(np.meshgrid(np.arange(0, 4.01, 0.05), np.arange(0, 4.01, 0.05), [0.0], indexing="ij"), -1)
    bed = np.stack(np.meshgrid(np.arange(1, 3.01, 0.05), np.arange(1, 2.01, 0.05), [0.5], indexing="ij"), -1)
    return np.concatenate([floor.reshape(-1, 3), bed.reshape(-1, 3)])
