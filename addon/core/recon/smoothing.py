"""Temporal smoothing of a track's poses under a constant-velocity model (thesis eq. 5.1).

HMR2.0 predicts every frame on its own, so tracks jitter. Eq. 5.1 of the thesis:

    L_smooth = sum_t ||j_hat(t) - j(t)|| + lambda * sum_t ||j(t) - j_bar(t)||,
    j_hat(t) = j(t-1) + v(t-1) = 2 j(t-1) - j(t-2)      (constant velocity),

where j_bar are the predictions. The first term is the norm of the second difference
j(t) - 2 j(t-1) + j(t-2) (the acceleration times dt^2), the second keeps the result near
the predictions.

Squared norms (``mode="squared"``, the default). With both norms squared L is a
quadratic form, minimised exactly by one linear solve,

    (D^T D + lambda W) j = lambda W j_bar,                                   (normal eqs.)

D the (T-2, T) second-difference matrix, W = diag(valid). The matrix is symmetric,
positive definite once two frames are valid, and pentadiagonal, so the solve is a banded
Cholesky in O(T) per coordinate (all coordinates share it). This is the standard choice:
it is the Hodrick-Prescott / Whittaker smoother, a zero-phase linear low-pass filter with
gain lambda / (lambda + 16 sin^4(omega / 2)) at angular frequency omega per frame
(:func:`lam_for_cutoff`), the MAP estimate under Gaussian noise and Gaussian
acceleration, and linear: the same lambda gives the same filter on joints, rotations
and translations, whatever their units. The plain norms of the thesis
(``mode="plain"``) are solved by iteratively reweighted least squares: robust to outlier
frames, but the filter is no longer linear.

Frames where the track is missing (``valid`` False) have no data term; the acceleration
term still runs through them, so gaps are filled by the smoothest curve (a discrete cubic
spline between the known frames; straight-line extrapolation before the first and after
the last valid frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.linalg import solveh_banded

from ..rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    quaternion_continuity,
    quaternion_to_axis_angle,
    rotation_6d_to_matrix,
)

SmoothingMode = Literal["squared", "plain"]
RotationSpace = Literal["6d", "quaternion"]

# IRLS: residual norms below this (in the input's units) count as this, so weights stay finite.
_IRLS_EPS = 1e-6


def lam_for_cutoff(cutoff_hz: float, fps: float) -> float:
    """The lambda of eq. 5.1 (squared mode) whose filter halves a sine of ``cutoff_hz``.

    Away from the ends, the solution of the normal equations is the input filtered with
    gain H(omega) = lambda / (lambda + 16 sin^4(omega / 2)), omega = 2 pi f / fps; H = 1/2
    at lambda = 16 sin^4(pi cutoff_hz / fps). Requires 0 < cutoff_hz < fps / 2.
    """
    if not 0 < cutoff_hz < fps / 2:
        raise ValueError(f"cutoff_hz must be in (0, fps/2) = (0, {fps / 2}), got {cutoff_hz!r}")
    return float(16.0 * np.sin(np.pi * cutoff_hz / fps) ** 4)


def second_difference_matrix(num_frames: int) -> sparse.csr_matrix:
    """D: (T-2, T) sparse, (D x)_t = x_t - 2 x_{t+1} + x_{t+2} = j(t) - j_hat(t) shifted by 2."""
    if num_frames < 3:
        return sparse.csr_matrix((0, num_frames))
    return sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(num_frames - 2, num_frames), format="csr")


def _solve_weighted(accel_weight: np.ndarray, data_weight: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Solve (D^T diag(a) D + diag(w)) x = diag(w) target exactly, by banded Cholesky.

    accel_weight a: (T-2,) >= 0; data_weight w: (T,) >= 0 with >= 2 positive entries;
    target: (T, F). Returns (T, F). D's row k is (1, -2, 1) at columns k, k+1, k+2, so
    (D^T a D) has the diagonals  a_i + 4 a_{i-1} + a_{i-2},  -2 (a_i + a_{i-1}),  a_i
    (terms with an index outside 0..T-3 left out), the pentadiagonal band that
    scipy.linalg.solveh_banded takes (the matrix :func:`second_difference_matrix` builds).
    """
    T = len(data_weight)
    a = accel_weight
    # 1. The band in upper storage: ab[2 - k, j] = A[j - k, j] for the diagonals k = 0, 1, 2.
    ab = np.zeros((3, T))
    ab[2] = data_weight
    ab[2, : T - 2] += a
    ab[2, 1 : T - 1] += 4.0 * a
    ab[2, 2:] += a
    ab[1, 1 : T - 1] += -2.0 * a
    ab[1, 2:] += -2.0 * a
    ab[0, 2:] = a
    # 2. Symmetric positive definite: Cholesky on the band, O(T) per right-hand side.
    return solveh_banded(ab, data_weight[:, None] * target, lower=False)


def smooth_positions(
    x: np.ndarray,
    lam: float,
    valid: np.ndarray | None = None,
    *,
    mode: SmoothingMode = "squared",
    iterations: int = 30,
) -> np.ndarray:
    """Minimise eq. 5.1 for a sequence of points (see the module docstring).

    x: (T, ..., D) e.g. joints (T, J, 3) metres; the values at invalid frames are ignored
        (may be NaN). lam: lambda > 0, the weight of the data term (lambda -> inf returns
        the input; :func:`lam_for_cutoff` picks it from a cutoff frequency).
    valid: (T,) bool, frames that carry data (None: all).
    mode: ``"squared"``: squared norms, solved exactly; ``"plain"``: the thesis' plain
        norms (norm over the last axis, per point), by ``iterations`` IRLS steps started
        from the squared solution.
    Returns float64 with x's shape: every frame filled, gaps included.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must be (T, ..., D), got {x.shape}")
    T = x.shape[0]
    valid = np.ones(T, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if valid.shape != (T,):
        raise ValueError(f"valid must be ({T},) to match x, got {valid.shape}")
    if not (np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a finite number > 0, got {lam!r}")
    if mode not in ("squared", "plain"):
        raise ValueError(f"mode must be 'squared' or 'plain', got {mode!r}")
    if not np.isfinite(x[valid]).all():
        raise ValueError("x must be finite at the valid frames")
    count = int(valid.sum())
    if count == 0:
        raise ValueError("valid: no valid frame to smooth")
    if count == 1 or T < 3:
        # 1. Degenerate: no acceleration to penalise, or one point; hold the nearest valid value.
        index = np.flatnonzero(valid)
        nearest = index[np.abs(np.arange(T)[:, None] - index[None]).argmin(1)]
        return np.where(valid.reshape(-1, *[1] * (x.ndim - 1)), x, x[nearest])

    target = np.where(valid.reshape(-1, *[1] * (x.ndim - 1)), x, 0.0)
    flat = target.reshape(T, -1)
    # 2. Squared norms: the normal equations (D^T D + lambda W) j = lambda W j_bar, solved exactly.
    result = _solve_weighted(np.ones(T - 2), lam * valid.astype(np.float64), flat)
    if mode == "plain":
        result = _irls_plain(result.reshape(x.shape), target, lam, valid, iterations).reshape(T, -1)
    return result.reshape(x.shape)


def _irls_plain(
    start: np.ndarray, target: np.ndarray, lam: float, valid: np.ndarray, iterations: int
) -> np.ndarray:
    """Plain-norm eq. 5.1 by IRLS, per point (the last axis is the vector whose norm counts).

    Each step majorises ||r|| by ||r||^2 / (2 ||r_old||) + const and solves the weighted
    quadratic: (D^T A D + lambda B W) x = lambda B W x_bar with A = diag(1/||D x_old||),
    B = diag(1/||x_old - x_bar||); the objective never increases.
    """
    T, D = start.shape[0], start.shape[-1]
    points = start.reshape(T, -1, D).copy()
    data = target.reshape(T, -1, D)
    W = valid.astype(np.float64)
    for p in range(points.shape[1]):
        x, xbar = points[:, p], data[:, p]
        for _ in range(iterations):
            # 1. Weights from the current residual norms (floored at _IRLS_EPS).
            accel = np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1)
            fit = np.linalg.norm(x - xbar, axis=-1)
            a = 1.0 / np.maximum(accel, _IRLS_EPS)
            b = 1.0 / np.maximum(fit, _IRLS_EPS)
            # 2. The reweighted quadratic, solved exactly.
            x = _solve_weighted(a, lam * W * b, xbar)
        points[:, p] = x
    return points.reshape(start.shape)


def smoothing_objective(
    x: np.ndarray, x_bar: np.ndarray, lam: float, valid: np.ndarray | None = None,
    *, mode: SmoothingMode = "squared",
) -> float:
    """The value of eq. 5.1 at x for predictions x_bar (both (T, ..., D)); see the module docstring."""
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    valid = np.ones(T, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    accel = x[2:] - 2 * x[1:-1] + x[:-2]
    fit = (x - np.where(valid.reshape(-1, *[1] * (x.ndim - 1)), x_bar, x))[valid]
    if mode == "squared":
        return float((accel**2).sum() + lam * (fit**2).sum())
    return float(np.linalg.norm(accel, axis=-1).sum() + lam * np.linalg.norm(fit, axis=-1).sum())


@dataclass(frozen=True)
class SmoothedTrack:
    """One track after eq. 5.1, every frame filled.

    global_orient: (T, 3) axis-angle radians; body_pose: (T, 23, 3) axis-angle radians;
    transl: (T, 3) metres. Same frame as the input.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray


def smooth_track(
    global_orient: np.ndarray,
    body_pose: np.ndarray,
    transl: np.ndarray,
    lam: float,
    valid: np.ndarray | None = None,
    *,
    rotation_space: RotationSpace = "6d",
    mode: SmoothingMode = "squared",
) -> SmoothedTrack:
    """Eq. 5.1 applied consistently to rotations and translations of one track.

    global_orient: (T, 3), body_pose: (T, 23, 3) axis-angle radians; transl: (T, 3) metres;
    lam, valid, mode: as :func:`smooth_positions` (one lambda: the filter is the same for all).
    rotation_space: where rotations are smoothed; axis-angle itself is not continuous
        (it jumps from angle pi to -pi about the flipped axis), so
        ``"6d"``: the first two matrix columns (Zhou et al. 2019), continuous and unique,
            back to a rotation by Gram-Schmidt (:func:`..rotations.rotation_6d_to_matrix`);
        ``"quaternion"``: unit quaternions made sign-continuous over the valid frames
            (q and -q are one rotation), back to a rotation by normalising.
    Returns a :class:`SmoothedTrack`; the SMPL pelvis is J_0 + transl whatever the
    rotation, so smoothing transl smooths the root's path.
    """
    orient = np.asarray(global_orient, dtype=np.float64)
    pose = np.asarray(body_pose, dtype=np.float64)
    shift = np.asarray(transl, dtype=np.float64)
    T = orient.shape[0]
    if orient.shape != (T, 3):
        raise ValueError(f"global_orient must be (T, 3), got {orient.shape}")
    if pose.shape != (T, 23, 3):
        raise ValueError(f"body_pose must be ({T}, 23, 3) to match global_orient, got {pose.shape}")
    if shift.shape != (T, 3):
        raise ValueError(f"transl must be ({T}, 3) to match global_orient, got {shift.shape}")
    valid = np.ones(T, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if valid.shape != (T,):
        raise ValueError(f"valid must be ({T},), got {valid.shape}")

    axis_angle = np.concatenate([orient[:, None], pose], axis=1)  # (T, 24, 3)
    axis_angle = np.where(valid[:, None, None], axis_angle, 0.0)  # ignored frames: any finite value
    if rotation_space == "6d":
        # 1. To 6D: two 3-vectors per joint, each smoothed as a point.
        six = matrix_to_rotation_6d(axis_angle_to_matrix(axis_angle)).reshape(T, 48, 3)
        six = smooth_positions(six, lam, valid, mode=mode).reshape(T, 24, 6)
        # 2. Back to rotations by Gram-Schmidt.
        rotations = matrix_to_axis_angle(rotation_6d_to_matrix(six))
    elif rotation_space == "quaternion":
        # 1. Sign-continuous quaternions over the valid frames (gaps skipped).
        q = axis_angle_to_quaternion(axis_angle)
        q[valid] = quaternion_continuity(q[valid], axis=0)
        q = smooth_positions(q, lam, valid, mode=mode)
        # 2. Back to rotations by normalising (quaternion_to_axis_angle normalises).
        rotations = quaternion_to_axis_angle(q)
    else:
        raise ValueError(f"rotation_space must be '6d' or 'quaternion', got {rotation_space!r}")
    # 3. Translations as points.
    smoothed_transl = smooth_positions(shift, lam, valid, mode=mode)
    return SmoothedTrack(global_orient=rotations[:, 0], body_pose=rotations[:, 1:], transl=smoothed_transl)


def joint_jitter(joints: np.ndarray, fps: float, valid: np.ndarray | None = None) -> float:
    """Mean acceleration magnitude, m/s^2: mean over t and joints of
    ||j(t+1) - 2 j(t) + j(t-1)|| * fps^2, over the triples of consecutive valid frames.

    joints: (T, J, 3) metres; fps: frames per second; valid: (T,) bool (None: all).
    Returns NaN when no three consecutive frames are valid.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[-1] != 3:
        raise ValueError(f"joints must be (T, J, 3), got {joints.shape}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    T = joints.shape[0]
    valid = np.ones(T, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if valid.shape != (T,):
        raise ValueError(f"valid must be ({T},), got {valid.shape}")
    if T < 3:
        return float("nan")
    triple = valid[2:] & valid[1:-1] & valid[:-2]
    if not triple.any():
        return float("nan")
    accel = joints[2:] - 2 * joints[1:-1] + joints[:-2]
    return float(np.linalg.norm(accel[triple], axis=-1).mean() * fps**2)
