"""Batched rotation helpers for retargeting: swings, twists, fractional rotations.

Every function takes numpy arrays with any leading batch shape (``...``) and works in
float64. Rotations are 3x3 matrices acting on column vectors.
"""

from __future__ import annotations

import numpy as np

from ..rotations import axis_angle_to_matrix, quaternion_to_axis_angle

_EPS = 1e-12


def unit(vectors: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3) of length 1 (zero vectors stay zero)."""
    v = np.asarray(vectors, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm < _EPS, 1.0, norm)


def orthonormalize(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> the nearest rotation (polar decomposition by SVD, det +1)."""
    u, _, vt = np.linalg.svd(np.asarray(matrices, dtype=np.float64))
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    return u @ vt


def rotation_and_scale(matrix3: np.ndarray, what: str) -> tuple[np.ndarray, float]:
    """Split an object's (3, 3) linear part into (rotation, uniform scale).

    ValueError naming ``what`` when the scale is not uniform (within 1 %) or mirrored,
    because a retarget cannot honour a sheared or mirrored armature without editing it.
    """
    m = np.asarray(matrix3, dtype=np.float64)
    scales = np.linalg.norm(m, axis=0)
    if np.linalg.det(m) <= 0 or scales.min() <= 0:
        raise ValueError(f"{what}: the object transform is mirrored or degenerate (scale {scales.round(4).tolist()})")
    if scales.max() > 1.01 * scales.min():
        raise ValueError(
            f"{what}: non-uniform object scale {scales.round(4).tolist()}; retargeting needs a uniform scale"
        )
    scale = float(np.cbrt(np.linalg.det(m)))
    return orthonormalize(m / scale), scale


def to_quaternion(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 4) unit (w, x, y, z), w >= 0.

    Shepperd's method like :func:`..rotations.matrix_to_quaternion`, but each of the four
    cases is computed only for the rotations that need it (the retarget converts T x bones
    matrices per clip, so this is a hot path).
    """
    m = np.asarray(matrices, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    m00, m11, m22 = m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]
    case = np.argmax(np.stack([m00 + m11 + m22, m00, m11, m22], axis=1), axis=1)
    q = np.empty((len(m), 4))
    for k in range(4):
        rows = np.flatnonzero(case == k)
        if not len(rows):
            continue
        r = m[rows]
        if k == 0:
            s = 2.0 * np.sqrt(np.maximum(1.0 + r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2], 1e-300))
            q[rows] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s,
                                (r[:, 1, 0] - r[:, 0, 1]) / s], axis=1)
        else:
            i = k - 1
            j, l = (i + 1) % 3, (i + 2) % 3
            s = 2.0 * np.sqrt(np.maximum(1.0 + r[:, i, i] - r[:, j, j] - r[:, l, l], 1e-300))
            out = np.empty((len(rows), 4))
            out[:, 0] = (r[:, l, j] - r[:, j, l]) / s
            out[:, 1 + i] = 0.25 * s
            out[:, 1 + j] = (r[:, j, i] + r[:, i, j]) / s
            out[:, 1 + l] = (r[:, l, i] + r[:, i, l]) / s
            q[rows] = out
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 0] < 0] *= -1.0
    return q.reshape(*shape, 4)


def swing(from_dirs: np.ndarray, to_dirs: np.ndarray) -> np.ndarray:
    """(..., 3), (..., 3) -> (..., 3, 3): the smallest rotation taking ``from`` onto ``to``.

    Rodrigues about from x to; for opposite vectors any perpendicular axis (a half turn).
    """
    a, b = unit(from_dirs), unit(to_dirs)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)
    angle = np.arctan2(sin, cos)
    # Opposite vectors: turn about any axis perpendicular to a.
    helper = np.where(np.abs(a[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    fallback = unit(np.cross(a, helper))
    axis = np.where((sin < 1e-9)[..., None], fallback, axis / np.where(sin < 1e-9, 1.0, sin)[..., None])
    return axis_angle_to_matrix(axis * angle[..., None])


def twist_angle(rotations: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(..., 3, 3), (..., 3) unit -> (...) radians in (-pi, pi]: the twist of each rotation
    about ``axis`` in the swing-twist decomposition (q = swing * twist, twist about axis)."""
    q = to_quaternion(rotations)
    along = np.sum(q[..., 1:] * unit(axis), axis=-1)
    return 2.0 * np.arctan2(along, q[..., 0])


def about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(..., 3) unit axis, (...) radians -> (..., 3, 3)."""
    return axis_angle_to_matrix(unit(axis) * np.asarray(angle, dtype=np.float64)[..., None])


def power(rotations: np.ndarray, fraction) -> np.ndarray:
    """(..., 3, 3) -> R^f: the same axis, ``fraction`` of the angle (slerp from identity)."""
    axis_angle = quaternion_to_axis_angle(to_quaternion(rotations))
    return axis_angle_to_matrix(axis_angle * np.asarray(fraction, dtype=np.float64)[..., None])


def angle_between_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3), (..., 3) -> (...) degrees between the directions (atan2: exact near 0)."""
    ua, ub = unit(a), unit(b)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(ua, ub), axis=-1), np.sum(ua * ub, axis=-1)))


def transpose(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> the transposes (the inverses of rotations)."""
    return np.swapaxes(matrices, -1, -2)
