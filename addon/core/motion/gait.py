"""A parametric walk cycle along a floor path: root trajectory, leg and arm swing, stance flags.

The procedural walkers walk with it (``data.procedural.track``) and so do the walkers generation
steps along a route (``diffusion.walking``).

The cycle is phased by distance walked, so feet plant at the speed the body moves: during
stance (the first 60 % of a leg's phase) the hip swings back at a constant rate through
+-A with 2 L sin A = 0.6 stride, which carries the planted foot backwards at the walking
speed; foot locking (two-bone IK in :mod:`.track`) removes what slip is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


STANCE = 0.6
D = math.pi / 180.0


@dataclass(frozen=True)
class GaitFrames:
    """Per frame: pelvis xy (n, 2) m; yaw (n,) rad; phase (n,) strides; amplitude (n,) in [0, 1]
    (speed / cruising speed); speed (n,) m/s."""

    xy: np.ndarray
    yaw: np.ndarray
    phase: np.ndarray
    amplitude: np.ndarray
    speed: np.ndarray


def yaw_towards(direction: np.ndarray) -> float:
    """The procedural yaw of a body that faces ``direction`` (2,): it faces (sin yaw, -cos yaw)
    (``data.procedural.rooms.heading``)."""
    return math.atan2(float(direction[0]), -float(direction[1]))


def smooth_path(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Chaikin corner cutting of a (K, 2) polyline; the end points stay."""
    p = np.asarray(points, dtype=np.float64)
    for _ in range(rounds):
        if len(p) < 3:
            break
        q = 0.75 * p[:-1] + 0.25 * p[1:]
        r = 0.25 * p[:-1] + 0.75 * p[1:]
        p = np.vstack([p[:1], np.column_stack([q, r]).reshape(-1, 2)[1:-1], p[-1:]])
    return p


def walk_frames(path: np.ndarray, speed: float, stride: float, fps: float, start_yaw: float,
                accel_s: float = 0.6) -> GaitFrames:
    """Walk ``path`` (K, 2) at ``speed`` m/s, speeding up from rest and slowing to a stop.

    The heading follows the path's tangent (looking 0.25 m ahead and behind) and turns from
    ``start_yaw`` smoothly; the phase advances one stride per ``stride`` metres.
    """
    p = smooth_path(path)
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(arc[-1])
    dt = 1.0 / fps
    s, t, distances, speeds = 0.0, 0.0, [0.0], [0.0]
    while s < total - 1e-3 and len(distances) < 10_000:
        remaining = total - s
        v = speed * min(1.0, (t + dt) / accel_s, math.sqrt(max(remaining, 0.0) / (0.5 * speed * accel_s)))
        v = max(v, 0.08)
        s = min(total, s + v * dt)
        t += dt
        distances.append(s)
        speeds.append(v)
    d = np.array(distances)
    xy = np.column_stack([np.interp(d, arc, p[:, 0]), np.interp(d, arc, p[:, 1])])
    ahead = np.column_stack([np.interp(d + 0.25, arc, p[:, 0]), np.interp(d + 0.25, arc, p[:, 1])])
    behind = np.column_stack([np.interp(d - 0.25, arc, p[:, 0]), np.interp(d - 0.25, arc, p[:, 1])])
    tangent = ahead - behind
    yaw = np.array([yaw_towards(v) if np.linalg.norm(v) > 1e-6 else start_yaw for v in tangent])
    yaw = np.unwrap(np.concatenate([[start_yaw], yaw]))[1:]
    # Turn into the path over the first 0.4 s rather than snapping.
    blend = np.clip(np.arange(len(yaw)) / max(1.0, 0.4 * fps), 0.0, 1.0)
    yaw = yaw * blend + start_yaw * (1 - blend)
    amplitude = np.clip(np.array(speeds) / speed, 0.0, 1.0)
    return GaitFrames(xy, yaw, d / stride, amplitude, np.array(speeds))


def leg_angles(phase: np.ndarray, hip_amplitude: float, knee_swing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n,) leg phase in strides -> hip flexion, knee flexion, ankle plantarflexion (n,) radians."""
    p = np.mod(phase, 1.0)
    stance = p < STANCE
    u = np.where(stance, p / STANCE, (p - STANCE) / (1 - STANCE))
    hip = np.where(stance, hip_amplitude * (1 - 2 * u), -hip_amplitude + 2 * hip_amplitude * (1 - np.cos(np.pi * u)) / 2)
    knee = np.where(stance, 8 * D + 10 * D * np.sin(np.pi * u), 8 * D + knee_swing * np.sin(np.pi * u ** 0.7))
    ankle = np.where(stance, 12 * D * np.clip((u - 0.7) / 0.3, 0, 1), -6 * D * np.sin(np.pi * u))
    return hip, knee, ankle


@dataclass(frozen=True)
class Swing:
    """The limbs of a walk, per frame. phase: (n,) strides walked (the left leg's; the right is
    half a stride on); hip, knee, ankle: (2, n) radians per side (left, right) of hip flexion,
    knee flexion and ankle plantarflexion; shoulder: (2, n) radians of forward arm swing, each
    arm with the opposite leg; planted: (n, 2) bool, the foot is in stance (or the body nearly
    still), the first frame never (a fresh lock where the walk begins); hip_amplitude: (n,)
    radians, the A of :func:`hip_amplitude` per frame."""

    phase: np.ndarray
    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    shoulder: np.ndarray
    planted: np.ndarray
    hip_amplitude: np.ndarray


def swing(gait: GaitFrames, speed: float, stride: float, leg_length: float) -> Swing:
    """The legs' and arms' angles for walking ``gait`` at cruising ``speed`` m/s with ``stride``
    m (two steps) on legs ``leg_length`` m long.

    Slow steps are short steps: while speeding up or slowing down the stride shrinks with the
    speed (to 35 % of the cruising one) and the phase advances by distance over that stride, so
    the stance foot still moves back at the body's speed and stays put.
    """
    a = gait.amplitude
    scale = np.clip(a, 0.35, 1.0)
    distance = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(gait.xy, axis=0), axis=1))])
    phase = np.concatenate([[0.0], np.cumsum(np.diff(distance) / (stride * scale[1:]))])
    amp_hip = np.array([hip_amplitude(stride * k, leg_length) for k in scale])
    arm_swing = (22.0 if speed > 1.4 else 12.0) * math.pi / 180.0
    knee_swing = (68.0 if speed > 1.4 else 62.0) * math.pi / 180.0 * scale
    n = len(phase)
    angles = np.zeros((3, 2, n))
    planted = np.zeros((n, 2), dtype=bool)
    for side in range(2):
        leg_phase = phase + 0.5 * side
        angles[:, side] = leg_angles(leg_phase, amp_hip, knee_swing)
        planted[:, side] = (np.mod(leg_phase, 1.0) < STANCE) | (a < 0.1)
    planted[0] = False
    shoulder = arm_swing * a * (angles[0] / amp_hip)[::-1]
    return Swing(phase, angles[0], angles[1], angles[2], shoulder, planted, amp_hip)


def hip_amplitude(stride: float, leg_length: float) -> float:
    """A with 2 L sin A = STANCE * stride: the stance foot moves back at the body's speed."""
    return math.asin(min(0.9, STANCE * stride / (2 * leg_length)))


def stride_for(speed: float) -> float:
    """Stride (two steps, m) at ``speed`` m/s: 0.9 m at 0.4 m/s to 1.5 m at 1.5 m/s and more."""
    return float(np.clip(0.7 + 0.55 * speed, 0.85, 1.6))
