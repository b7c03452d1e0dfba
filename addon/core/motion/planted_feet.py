"""Planted feet held where they landed: the foot lock of a walk cycle (two-bone IK targets per stance).

The procedural walkers (``data.procedural.track``) and the walkers generation steps along a
route (``diffusion.walking``) plant their feet with it. Frames: joint rotations live in SMPL's
template frame (Y up, the body faces +z, its left is +x); the world is Z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..axes import Y_UP_TO_Z_UP
from ..skeleton import JOINT_INDEX
from ..time_series import runs

J = JOINT_INDEX
FOOT_JOINT_Z = 0.03  # a flat foot's foot joint (SMPL's toe base) above the floor, metres
LEGS = ((J["left_hip"], J["left_knee"], J["left_ankle"]), (J["right_hip"], J["right_knee"], J["right_ankle"]))
ARMS = ((J["left_shoulder"], J["left_elbow"], J["left_wrist"]), (J["right_shoulder"], J["right_elbow"], J["right_wrist"]))


@dataclass(frozen=True)
class Body:
    """One person's skeleton. rest: (24, 3) template-frame rest joints (m); betas: (10,)."""

    rest: np.ndarray
    betas: np.ndarray

    @property
    def ankle_z(self) -> float:
        """Height of a flat foot's ankle above the floor (m)."""
        return float(self.rest[J["left_ankle"], 1] - self.rest[J["left_foot"], 1]) + FOOT_JOINT_Z

    @property
    def leg_length(self) -> float:
        r = self.rest
        return float(np.linalg.norm(r[4] - r[1]) + np.linalg.norm(r[7] - r[4]))


def rot_z(yaw: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) rotations about world +z."""
    yaw = np.asarray(yaw, dtype=np.float64)
    c, s = np.cos(yaw), np.sin(yaw)
    zero, one = np.zeros_like(yaw), np.ones_like(yaw)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2)


def foot_targets(body: Body, world: np.ndarray, joints: np.ndarray, planted: np.ndarray,
                 blend_frames: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foot locking: (targets (T, 2, 3), weights (T, 2), flat ankle rotations (T, 2, 3, 3)).

    Over each run of ``planted`` frames (T, 2) a foot's ankle is held where it was at the run's
    first frame, at flat-foot height, with a flat foot turned as it was then. A run is split
    (the foot steps anew) where the pose carries the foot more than 0.35 m from its lock or the
    hip out of the leg's reach of it. The weight fades in over ``blend_frames`` - 1 frames
    before a run and out over ``blend_frames`` after it, so feet settle and lift without a pop.
    """
    T = len(joints)
    targets = joints[:, [LEGS[0][2], LEGS[1][2]]].copy()
    weights = np.zeros((T, 2))
    flat = world[:, [LEGS[0][2], LEGS[1][2]]].copy()
    for side in range(2):
        hip, _, ankle = LEGS[side]
        for start, stop in _split_runs(runs(planted[:, side]), joints[:, ankle], joints[:, hip], body):
            forward = world[start, ankle] @ np.array([0.0, 0.0, 1.0])  # the foot's toe direction
            yaw = np.arctan2(forward[0], -forward[1])
            rotation = rot_z(np.array(yaw)) @ Y_UP_TO_Z_UP
            point = joints[start, ankle].copy()
            point[2] = body.ankle_z
            end = min(T, stop + blend_frames)
            begin = max(0, start - blend_frames + 1)
            targets[begin:end, side] = point
            flat[begin:end, side] = rotation
            weights[start:stop, side] = 1.0
            fade = np.arange(1, end - stop + 1) / (blend_frames + 1)
            weights[stop:end, side] = np.maximum(weights[stop:end, side], 1.0 - fade)
            rise = np.arange(1, start - begin + 1) / (start - begin + 1)
            weights[begin:start, side] = np.maximum(weights[begin:start, side], rise)
    return targets, weights, flat


def _split_runs(runs: list[tuple[int, int]], ankle: np.ndarray, hip: np.ndarray, body: Body,
                max_drift: float = 0.35) -> list[tuple[int, int]]:
    """Runs cut where the posed ankle (T, 3) drifts > ``max_drift`` m (floor plane) from where
    the run began, or the hip (T, 3) gets farther than the leg's length from that spot."""
    out = []
    for start, stop in runs:
        begin = start
        for t in range(start + 1, stop):
            lock = np.array([ankle[begin, 0], ankle[begin, 1], body.ankle_z])
            drift = np.linalg.norm(ankle[t, :2] - lock[:2])
            if drift > max_drift or np.linalg.norm(hip[t] - lock) > 1.05 * body.leg_length:
                out.append((begin, t))
                begin = t
        out.append((begin, stop))
    return out
