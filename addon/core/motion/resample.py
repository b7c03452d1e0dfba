"""Time-correct resampling of a Motion to another frame rate (slerp for rotations, never frame skipping)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..rotations import axis_angle_to_quaternion, quaternion_to_axis_angle
from .motion import Motion, MotionError

# Tolerance on duration * fps so that e.g. 2 s at 30 fps gives 61 frames, not 60,
# when the product lands a hair under the integer in floating point.
_FRAME_COUNT_EPS = 1e-9


def resample(motion: Motion, fps: float) -> Motion:
    """``motion`` at ``fps`` frames per second, over the same time span.

    Output frame k is at time k / fps, for k = 0 .. floor(duration_s * fps + 1e-9),
    all within the source span [0, (T - 1) / motion.fps]. Each output time falls
    between two source frames i and i + 1 (fraction w); then
      rotations (global_orient, body_pose, hand_pose): slerp per joint between the
        two source quaternions, the short way round;
      transl: linear interpolation (metres);
      labels: the nearest source frame (ties go to the later one);
      betas, role, gender, name: unchanged.
    An output time that coincides with a source frame gets that frame's values
    exactly. Same fps: an exact copy. Vectorised over frames and joints.
    """
    real = isinstance(fps, (int, float, np.integer, np.floating)) and not isinstance(fps, (bool, np.bool_))
    if not real or not np.isfinite(fps) or fps <= 0:
        raise MotionError(f"resample: fps must be a finite number > 0, got {fps!r}")
    fps = float(fps)
    if fps == motion.fps:
        return motion.copy()
    T = motion.num_frames
    count = int(np.floor(motion.duration_s * fps + _FRAME_COUNT_EPS)) + 1
    # Source position of each output frame, in source frames. Multiply before dividing:
    # 25 -> 24 fps, k = 120: k * 25 / 24 is exactly 125.0 (a coincident frame), k * (25 / 24) is not.
    position = np.clip(np.arange(count) * motion.fps / fps, 0.0, T - 1)
    lower = np.minimum(np.floor(position).astype(np.int64), max(T - 2, 0))
    upper = np.minimum(lower + 1, T - 1)
    weight = position - lower  # in [0, 1]; exactly 1 only at the last source frame

    def rotations(axis_angle: np.ndarray) -> np.ndarray:
        return _slerp_axis_angle(axis_angle, lower, upper, weight)

    w = weight.reshape(-1, 1)
    transl = (1.0 - w) * motion.transl[lower] + w * motion.transl[upper]
    transl = _exact_where_coincident(transl, motion.transl, lower, upper, weight)
    labels = None
    if motion.labels is not None:
        nearest = np.minimum(np.floor(position + 0.5).astype(np.int64), T - 1)
        labels = motion.labels[nearest]
    return dataclasses.replace(
        motion,
        global_orient=rotations(motion.global_orient[:, None, :])[:, 0, :],
        body_pose=rotations(motion.body_pose),
        transl=transl,
        hand_pose=None if motion.hand_pose is None else rotations(motion.hand_pose),
        labels=labels,
        fps=fps,
    )


def _slerp_axis_angle(
    axis_angle: np.ndarray, lower: np.ndarray, upper: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """(T, J, 3) axis-angle at source frames -> (N, J, 3), slerped from frame lower[n] to upper[n] by weight[n]."""
    quaternions = axis_angle_to_quaternion(axis_angle)  # (T, J, 4)
    q0, q1 = quaternions[lower], quaternions[upper]  # (N, J, 4)
    # q and -q are one rotation; flipping q1 into q0's hemisphere takes the short arc.
    q1 = np.where((q0 * q1).sum(-1, keepdims=True) < 0, -q1, q1)
    # Angle between the unit 4-vectors, 2 atan2(|a - b|, |a + b|): accurate near 0, unlike arccos.
    omega = 2.0 * np.arctan2(np.linalg.norm(q0 - q1, axis=-1), np.linalg.norm(q0 + q1, axis=-1))[..., None]
    w = weight[:, None, None]
    small = omega < 1e-8
    safe = np.where(small, 1.0, omega)
    # Near-identical quaternions: sin(w omega) / sin(omega) -> w, so linear weights are exact to O(omega^2).
    a = np.where(small, 1.0 - w, np.sin((1.0 - w) * safe) / np.sin(safe))
    b = np.where(small, w, np.sin(w * safe) / np.sin(safe))
    q = a * q0 + b * q1
    result = quaternion_to_axis_angle(q / np.linalg.norm(q, axis=-1, keepdims=True))
    return _exact_where_coincident(result, axis_angle, lower, upper, weight)


def _exact_where_coincident(
    result: np.ndarray, source: np.ndarray, lower: np.ndarray, upper: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Frames whose time is a source frame's take that frame's stored values bit for bit.

    Without this, the quaternion round trip would rewrite them (rounding, and the
    axis-angle of angles above pi would switch to the equivalent one below pi).
    """
    shape = (-1,) + (1,) * (result.ndim - 1)
    result = np.where((weight == 0.0).reshape(shape), source[lower], result)
    return np.where((weight == 1.0).reshape(shape), source[upper], result)
