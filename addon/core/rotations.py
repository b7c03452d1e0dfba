"""Rotation conversions: axis-angle, matrix, quaternion (w, x, y, z) and 6D (Zhou et al. 2019).

Every function takes numpy arrays or torch tensors with any leading batch shape
and returns the same kind. Quaternions are unit, scalar first (Blender's order).
The 6D representation is the first two *columns* of the rotation matrix,
concatenated: (..., 6) = [R[:, 0], R[:, 1]] (Zhou et al., "On the Continuity of
Rotation Representations in Neural Networks", CVPR 2019, section 4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any  # np.ndarray or torch.Tensor with the same shape semantics

_EPS = 1e-8


def _is_torch(x: Array) -> bool:
    return type(x).__module__.startswith("torch")


def _lib(x: Array):
    if _is_torch(x):
        import torch

        return torch
    return np


def _stack(lib, items, axis):
    return lib.stack(items, axis) if lib is np else lib.stack(items, dim=axis)


def _norm(lib, x, keepdims=True):
    if lib is np:
        return np.linalg.norm(x, axis=-1, keepdims=keepdims)
    return lib.linalg.norm(x, dim=-1, keepdim=keepdims)


def _where(lib, cond, a, b):
    return np.where(cond, a, b) if lib is np else lib.where(cond, a, b)


def axis_angle_to_matrix(axis_angle: Array) -> Array:
    """Rodrigues' formula. axis_angle: (..., 3) radians -> (..., 3, 3).

    R = I + sin(t) K + (1 - cos(t)) K^2 with K the cross-product matrix of the unit axis;
    for tiny angles the Taylor terms sin(t)/t -> 1 and (1 - cos t)/t^2 -> 1/2 keep it exact.
    """
    lib = _lib(axis_angle)
    angle = _norm(lib, axis_angle)[..., None]  # (..., 1, 1)
    small = angle < 1e-4
    safe = _where(lib, small, lib.ones_like(angle), angle)
    a = _where(lib, small, 1.0 - angle**2 / 6.0, lib.sin(safe) / safe)
    b = _where(lib, small, 0.5 - angle**2 / 24.0, (1.0 - lib.cos(safe)) / safe**2)
    x, y, z = axis_angle[..., 0], axis_angle[..., 1], axis_angle[..., 2]
    zero = lib.zeros_like(x)
    K = _stack(lib, [_stack(lib, [zero, -z, y], -1), _stack(lib, [z, zero, -x], -1), _stack(lib, [-y, x, zero], -1)], -2)
    eye = lib.eye(3, dtype=axis_angle.dtype) if lib is np else lib.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a * K + b * (K @ K)


def matrix_to_quaternion(matrix: Array) -> Array:
    """(..., 3, 3) -> unit quaternions (..., 4) as (w, x, y, z) with w >= 0.

    Shepperd's method: pick the largest of the four squared components for stability.
    """
    lib = _lib(matrix)
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    trace = m00 + m11 + m22
    candidates = _stack(
        lib,
        [
            _stack(lib, [1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            _stack(lib, [m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            _stack(lib, [m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            _stack(lib, [m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
        ],
        -2,
    )  # (..., 4 candidates, 4): row k is 4 q_k q scaled
    diag = _stack(lib, [1 + trace, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = diag.argmax(-1) if lib is np else diag.argmax(dim=-1)
    if lib is np:
        q = np.take_along_axis(candidates, best[..., None, None].repeat(4, -1), axis=-2)[..., 0, :]
    else:
        index = best[..., None, None].expand(*best.shape, 1, 4)
        q = lib.gather(candidates, -2, index)[..., 0, :]
    q = q / _norm(lib, q)
    return _where(lib, q[..., :1] < 0, -q, q)


def quaternion_to_matrix(quaternion: Array) -> Array:
    """(..., 4) (w, x, y, z), normalised here -> (..., 3, 3)."""
    lib = _lib(quaternion)
    q = quaternion / _norm(lib, quaternion)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        _stack(lib, [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        _stack(lib, [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        _stack(lib, [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ]
    return _stack(lib, rows, -2)


def quaternion_to_axis_angle(quaternion: Array) -> Array:
    """(..., 4) (w, x, y, z) -> (..., 3) radians, angle in [0, pi]."""
    lib = _lib(quaternion)
    q = quaternion / _norm(lib, quaternion)
    q = _where(lib, q[..., :1] < 0, -q, q)
    sin_half = _norm(lib, q[..., 1:])
    half = lib.arctan2(sin_half, q[..., :1]) if lib is np else lib.atan2(sin_half, q[..., :1])
    small = sin_half < 1e-6
    # angle / sin(angle/2) -> 2 as the angle -> 0
    scale = _where(lib, small, 2.0 + (half**2) / 3.0, 2.0 * half / _where(lib, small, lib.ones_like(sin_half), sin_half))
    return q[..., 1:] * scale


def axis_angle_to_quaternion(axis_angle: Array) -> Array:
    """(..., 3) radians -> (..., 4) (w, x, y, z)."""
    lib = _lib(axis_angle)
    angle = _norm(lib, axis_angle)
    half = angle / 2.0
    small = angle < 1e-6
    safe = _where(lib, small, lib.ones_like(angle), angle)
    scale = _where(lib, small, 0.5 - angle**2 / 48.0, lib.sin(half) / safe)
    return lib.concatenate([lib.cos(half), axis_angle * scale], -1) if lib is np else lib.cat([lib.cos(half), axis_angle * scale], -1)


def matrix_to_axis_angle(matrix: Array) -> Array:
    """(..., 3, 3) -> (..., 3) radians (through the quaternion, stable near 0 and pi)."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def matrix_to_rotation_6d(matrix: Array) -> Array:
    """(..., 3, 3) -> (..., 6): the first two columns, column by column."""
    lib = _lib(matrix)
    first, second = matrix[..., :, 0], matrix[..., :, 1]
    return lib.concatenate([first, second], -1) if lib is np else lib.cat([first, second], -1)


def rotation_6d_to_matrix(rotation_6d: Array) -> Array:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; any non-degenerate input gives a rotation."""
    lib = _lib(rotation_6d)
    a1, a2 = rotation_6d[..., :3], rotation_6d[..., 3:]
    b1 = a1 / lib.clip(_norm(lib, a1), _EPS, None) if lib is np else a1 / _norm(lib, a1).clamp_min(_EPS)
    a2 = a2 - (b1 * a2).sum(-1, keepdims=True) * b1 if lib is np else a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / lib.clip(_norm(lib, a2), _EPS, None) if lib is np else a2 / _norm(lib, a2).clamp_min(_EPS)
    b3 = np.cross(b1, b2) if lib is np else lib.linalg.cross(b1, b2)
    return _stack(lib, [b1, b2, b3], -1)


def quaternion_continuity(quaternions: Array, axis: int = 0) -> Array:
    """Flip signs along ``axis`` (time) so consecutive quaternions have a non-negative dot.

    quaternions: (T, ..., 4) for axis 0. q and -q are the same rotation; Blender
    interpolates components, so a sign jump would spin the bone the long way round.
    Flipping q_{t-1} flips the sign of its dot with q_t too, so the sign to apply at t
    is the running product of the original neighbours' dot signs (no loop over time).
    """
    q = np.moveaxis(np.asarray(quaternions, dtype=np.float64), axis, 0)
    dots = (q[1:] * q[:-1]).sum(-1, keepdims=True)
    steps = np.where(dots < 0, -1.0, 1.0)
    signs = np.concatenate([np.ones_like(steps[:1]), np.cumprod(steps, axis=0)], axis=0)
    return np.moveaxis(q * signs, 0, axis).astype(np.asarray(quaternions).dtype)
