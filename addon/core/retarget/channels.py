"""Pose-bone rotation channels in each bone's own rotation mode (never changing the mode).

A quaternion (w, x, y, z) becomes ``rotation_quaternion`` (4 values), ``rotation_axis_angle``
(angle, x, y, z) or ``rotation_euler`` (x, y, z radians) for Blender's Euler orders: order
"XYZ" means R = Rz @ Ry @ Rx (X applied first). Euler keys are made compatible frame to
frame (like Blender's ``Euler.make_compatible``): of the two angle triples of each rotation,
each taken to the nearest multiple of 2 pi, the one closest to the previous frame's.
"""

from __future__ import annotations

import numpy as np

from ..rotations import quaternion_to_matrix

_AXIS = {"X": 0, "Y": 1, "Z": 2}


def rotation_channels(quaternions: np.ndarray, mode: str) -> tuple[str, np.ndarray]:
    """(T, 4) sign-continuous quaternions -> (property name, (T, n) values) for ``mode``."""
    q = np.asarray(quaternions, dtype=np.float64)
    if mode == "QUATERNION":
        return "rotation_quaternion", q
    if mode == "AXIS_ANGLE":
        return "rotation_axis_angle", quaternion_to_axis_angle_channels(q)
    if len(mode) == 3 and set(mode) == set("XYZ"):
        return "rotation_euler", compatible_euler(quaternion_to_matrix(q), mode)
    raise ValueError(f"unknown rotation mode {mode!r}")


def rest_channels(mode: str, frames: int) -> list[tuple[str, int, np.ndarray]]:
    """(property, index, (frames,) values) that hold a pose bone at its rest: rotation in its
    own ``mode``, location (0, 0, 0), scale (1, 1, 1)."""
    prop, values = rotation_channels(np.tile([1.0, 0.0, 0.0, 0.0], (frames, 1)), mode)
    out = [(prop, i, values[:, i]) for i in range(values.shape[1])]
    out += [("location", i, np.zeros(frames)) for i in range(3)]
    out += [("scale", i, np.ones(frames)) for i in range(3)]
    return out


def quaternion_to_axis_angle_channels(q: np.ndarray) -> np.ndarray:
    """(T, 4) -> (T, 4) Blender's (angle, x, y, z); the axis is (0, 1, 0) at zero angle."""
    sin_half = np.linalg.norm(q[:, 1:], axis=1)
    angle = 2.0 * np.arctan2(sin_half, q[:, 0])
    small = sin_half < 1e-9
    axis = np.where(small[:, None], np.array([0.0, 1.0, 0.0]), q[:, 1:] / np.where(small, 1.0, sin_half)[:, None])
    return np.concatenate([angle[:, None], axis], axis=1)


def matrix_to_euler(matrices: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) angles (about x, y, z) with R = R_k(c) R_j(b) R_i(a) for order "ijk".

    Shoemake's formulas for the three distinct-axis orders: parity +1 for XYZ, YZX, ZXY.
    """
    i, j, k = (_AXIS[a] for a in order)
    parity = 1.0 if (j - i) % 3 == 1 else -1.0
    m = matrices
    b = np.arcsin(np.clip(-parity * m[..., k, i], -1.0, 1.0))
    a = np.arctan2(parity * m[..., k, j], m[..., k, k])
    c = np.arctan2(parity * m[..., j, i], m[..., i, i])
    # Gimbal lock (|cos b| ~ 0): put the whole rotation into the first angle.
    locked = np.abs(np.cos(b)) < 1e-9
    a = np.where(locked, np.arctan2(-parity * m[..., j, k], m[..., j, j]), a)
    c = np.where(locked, 0.0, c)
    out = np.empty(m.shape[:-2] + (3,))
    out[..., i], out[..., j], out[..., k] = a, b, c
    return out


def compatible_euler(matrices: np.ndarray, order: str) -> np.ndarray:
    """(T, 3, 3) -> (T, 3) Euler angles without jumps between frames (see the module docstring)."""
    first = matrix_to_euler(matrices, order)
    i, j, k = (_AXIS[a] for a in order)
    second = first.copy()  # R_k(c+pi) R_j(pi-b) R_i(a+pi) is the same rotation
    second[:, i] += np.pi
    second[:, j] = np.pi - second[:, j]
    second[:, k] += np.pi
    out = np.empty_like(first)
    previous = np.zeros(3)
    for t in range(len(first)):  # sequential by nature; only Euler-mode bones pay for it
        best, best_cost = None, np.inf
        for candidate in (first[t], second[t]):
            candidate = candidate + 2 * np.pi * np.round((previous - candidate) / (2 * np.pi))
            cost = np.abs(candidate - previous).sum()
            if cost < best_cost:
                best, best_cost = candidate, cost
        out[t] = previous = best
    return out


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) (about x, y, z) -> (..., 3, 3) for Blender's ``order`` (the inverse of :func:`matrix_to_euler`)."""
    angles = np.asarray(angles, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for axis in order:  # the first letter is applied first: left-multiply the later ones
        n = _AXIS[axis]
        c, s = np.cos(angles[..., n]), np.sin(angles[..., n])
        r = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
        p, q = (n + 1) % 3, (n + 2) % 3
        r[..., p, p], r[..., p, q], r[..., q, p], r[..., q, q] = c, -s, s, c
        out = r @ out
    return out
