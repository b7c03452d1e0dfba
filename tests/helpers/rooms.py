"""Scene points of small rooms built by the tests (floor frame, metres, Z up)."""

import numpy as np


def room_with_a_bed() -> np.ndarray:
    """Scene points (N, 3): a 4 x 4 m floor and a 2 x 1 m bed top 0.5 m high at x 1-3, y 1-2."""
    floor = np.stack(np.meshgrid(np.arange(0, 4.01, 0.05), np.arange(0, 4.01, 0.05), [0.0], indexing="ij"), -1)
    bed = np.stack(np.meshgrid(np.arange(1, 3.01, 0.05), np.arange(1, 2.01, 0.05), [0.5], indexing="ij"), -1)
    return np.concatenate([floor.reshape(-1, 3), bed.reshape(-1, 3)])


CHAIR_SEAT = (2.0, 2.0, 0.45)  # room_with_a_chair's seat: middle x, y and top (m), 0.5 m square
CHAIR_BOX = [2.0, 2.0, 0.0, 0.5, 0.5, 0.0, 0.45]  # ... as a furniture box row (eval.geometry)


def room_with_a_chair() -> np.ndarray:
    """Scene points (N, 3): a 4 x 4 m floor, walls 2.5 m high around it, and a chair: a 0.5 x
    0.5 m seat 0.45 m high at x, y 1.75-2.25, its backrest along y = 2.25-2.3 up to 0.95 m (a
    sitter on it faces -y)."""
    grid = np.arange(0, 4.01, 0.05)
    floor = np.stack(np.meshgrid(grid, grid, [0.0], indexing="ij"), -1).reshape(-1, 3)
    up = np.arange(0.0, 2.51, 0.1)
    walls = [np.stack(np.meshgrid(grid, [edge], up, indexing="ij"), -1).reshape(-1, 3) for edge in (0.0, 4.0)]
    walls += [np.stack(np.meshgrid([edge], grid, up, indexing="ij"), -1).reshape(-1, 3) for edge in (0.0, 4.0)]
    seat = np.stack(np.meshgrid(np.arange(1.75, 2.251, 0.05), np.arange(1.75, 2.251, 0.05), [0.45],
                                indexing="ij"), -1).reshape(-1, 3)
    back = np.stack(np.meshgrid(np.arange(1.75, 2.251, 0.05), [2.25, 2.3], np.arange(0.45, 0.951, 0.05),
                                indexing="ij"), -1).reshape(-1, 3)
    return np.concatenate([floor, *walls, seat, back])
