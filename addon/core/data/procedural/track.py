"""One person's timeline: hold, move to a key pose, walk a path, turn; then foot locking and reaching.

A :class:`Track` appends frames segment by segment (pelvis (3,), yaw, 24 joint quaternions with
the root tilt in slot 0, an action label, which feet are planted). :meth:`Track.finalize` turns
it into a :class:`Motion` and its joints: FK, planted feet held still by two-bone IK, hands
taken to targets on another person by two-bone IK.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...motion.motion import Motion
from ...rotations import axis_angle_to_matrix, matrix_to_quaternion, quaternion_to_matrix
from . import poses
from .checks import bone_points, foot_point_mask, hand_point_mask
from ...motion.gait import GaitFrames, stride_for, swing, walk_frames
from ...motion.joint_ik import two_bone_ik
from .kinematics import ARMS, LEGS, Body, J, foot_targets, pose_fk, slerp, to_axis_angle_pose
from ...labels import ACTION_INDEX
from .lean import lean_to_reach
from .poses import Pose


@dataclass(frozen=True)
class Reach:
    """Frames [start, stop) in which hand ``side`` (0 left, 1 right) goes to ``joint`` of the
    partner plus ``offset`` (world, m), or to the world point ``offset`` when ``joint`` < 0;
    the weight ramps over ``ramp`` frames at both ends. ``lean``: the spine bends towards a
    target beyond the arm's length (:func:`.lean.lean_to_reach`)."""

    start: int
    stop: int
    side: int
    joint: int
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ramp: int = 4
    lean: bool = False


def ease(u: np.ndarray, kind: str) -> np.ndarray:
    """u in [0, 1] -> weight: "smooth" (3u^2 - 2u^3), "fall" (u^2: accelerating), "linear"."""
    if kind == "fall":
        return u * u
    if kind == "linear":
        return u
    return u * u * (3 - 2 * u)


class Track:
    """Frames of one person, built by appending segments; see the module docstring."""

    def __init__(self, body: Body, fps: float, role: str, xy, yaw: float, pose: Pose, rng: np.random.Generator,
                 name: str = "") -> None:
        self.body, self.fps, self.role, self.rng, self.name = body, fps, role, rng, name
        self._pelvis: list[np.ndarray] = []
        self._yaw: list[np.ndarray] = []
        self._quats: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._planted: list[np.ndarray] = []
        self.reaches: list[Reach] = []
        self.pelvis = np.array([xy[0], xy[1], pose.pelvis_z(body)])
        self.yaw = float(yaw)
        self.quats = matrix_to_quaternion(pose.local)

    # -- state --------------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return sum(len(y) for y in self._yaw)

    def seconds(self, s: float) -> int:
        return max(1, int(round(s * self.fps)))

    def _append(self, pelvis, yaw, quats, label: str, planted) -> None:
        n = len(yaw)
        self._pelvis.append(np.asarray(pelvis, dtype=np.float64).reshape(n, 3))
        self._yaw.append(np.asarray(yaw, dtype=np.float64).reshape(n))
        self._quats.append(np.asarray(quats, dtype=np.float64).reshape(n, 24, 4))
        labels = np.full(n, ACTION_INDEX[label] if isinstance(label, str) else int(label), dtype=np.int32)
        self._labels.append(labels)
        self._planted.append(np.broadcast_to(np.asarray(planted, dtype=bool), (n, 2)).copy())
        self.pelvis, self.yaw, self.quats = self._pelvis[-1][-1].copy(), float(self._yaw[-1][-1]), self._quats[-1][-1].copy()

    # -- segments -----------------------------------------------------------------------------
    def hold(self, seconds: float, label: str, planted=(True, True)) -> "Track":
        n = self.seconds(seconds)
        self._append(np.repeat(self.pelvis[None], n, 0), np.full(n, self.yaw), np.repeat(self.quats[None], n, 0),
                     label, planted)
        return self

    def hold_until(self, frame: int, label: str, planted=(True, True)) -> "Track":
        if frame > self.frames:
            self.hold((frame - self.frames) / self.fps, label, planted)
        return self

    def move(self, pose: Pose, seconds: float, label: str, xy=None, yaw: float | None = None, easing: str = "smooth",
             planted=(True, True), z: float | None = None) -> "Track":
        """Blend to ``pose`` over ``seconds`` (the pelvis to ``xy`` at the pose's support height)."""
        n = self.seconds(seconds)
        u = np.arange(1, n + 1) / n
        w = ease(u, easing)
        target = np.array([*(self.pelvis[:2] if xy is None else xy), pose.pelvis_z(self.body) if z is None else z])
        pelvis = self.pelvis + w[:, None] * (target - self.pelvis)
        end_yaw = self.yaw if yaw is None else self.yaw + (yaw - self.yaw + math.pi) % (2 * math.pi) - math.pi
        yaws = self.yaw + w * (end_yaw - self.yaw)
        quats = slerp(self.quats[None], matrix_to_quaternion(pose.local)[None], w[:, None])
        self._append(pelvis, yaws, quats, label, planted)
        return self

    def turn(self, yaw: float, seconds: float, label: str = "turn") -> "Track":
        """Turn on the spot in two small steps (the left foot, then the right)."""
        n = self.seconds(seconds)
        u = np.arange(1, n + 1) / n
        delta = (yaw - self.yaw + math.pi) % (2 * math.pi) - math.pi
        yaws = self.yaw + ease(u, "smooth") * delta
        base = quaternion_to_matrix(self.quats)
        local = np.repeat(base[None], n, 0)
        first = u <= 0.5
        bump = np.sin(np.pi * np.where(first, u * 2, u * 2 - 1))
        for side, frames in ((0, first), (1, ~first)):
            hip, knee, _ = LEGS[side]
            local[frames, hip] = base[hip] @ axis_angle_to_matrix(np.column_stack(
                [-0.35 * bump[frames], np.zeros(frames.sum()), np.zeros(frames.sum())]))
            local[frames, knee] = base[knee] @ axis_angle_to_matrix(np.column_stack(
                [0.7 * bump[frames], np.zeros(frames.sum()), np.zeros(frames.sum())]))
        planted = np.column_stack([~first, first])
        planted[-1] = True
        self._append(np.repeat(self.pelvis[None], n, 0), yaws, matrix_to_quaternion(local), label, planted)
        return self

    def walk(self, path: np.ndarray, speed: float, label: str = "walk", hunch: float = 0.0,
             end_pose: Pose | None = None) -> "Track":
        """Walk the floor path (K, 2) (its first point should be where the pelvis is)."""
        path = np.vstack([self.pelvis[:2], np.asarray(path, dtype=np.float64)[1:]])
        stride = stride_for(speed) * (0.85 if speed < 0.7 else 1.0)
        return self.walk_gait(walk_frames(path, speed, stride, self.fps, self.yaw), speed, stride, label, hunch,
                              end_pose)

    def follow(self, xy: np.ndarray, yaw: np.ndarray, amplitude: np.ndarray, speed: float, label: str,
               hunch: float = 0.0) -> "Track":
        """Walk along a given per-frame trajectory (xy (n, 2) m, yaw (n,) rad, amplitude (n,)),
        e.g. beside another walker."""
        stride = stride_for(speed) * (0.85 if speed < 0.7 else 1.0)
        distance = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
        yaw = np.unwrap(np.concatenate([[self.yaw], yaw]))[1:]
        gait = GaitFrames(xy, yaw, distance / stride, amplitude, amplitude * speed)
        return self.walk_gait(gait, speed, stride, label, hunch, None)

    def walk_gait(self, gait: GaitFrames, speed: float, stride: float, label: str, hunch: float,
                  end_pose: Pose | None) -> "Track":
        self.last_walk = (self.frames, gait)
        n = len(gait.yaw)
        stand = poses.stand(self.rng, hunch=hunch + 6.0 * min(speed, 2.0) / 2.0)
        base = stand.local
        limbs = swing(gait, speed, stride, self.body.leg_length)
        a, phase, amp_hip = gait.amplitude, limbs.phase, limbs.hip_amplitude
        local = np.repeat(base[None], n, 0)
        zeros = np.zeros(n)
        for side in range(2):
            h, k, an = LEGS[side]
            local[:, h] = base[h] @ axis_angle_to_matrix(np.column_stack([-limbs.hip[side], zeros, zeros]))
            local[:, k] = base[k] @ axis_angle_to_matrix(np.column_stack([limbs.knee[side], zeros, zeros]))
            local[:, an] = base[an] @ axis_angle_to_matrix(np.column_stack([limbs.ankle[side], zeros, zeros]))
            shoulder = ARMS[side][0]
            local[:, shoulder] = axis_angle_to_matrix(np.column_stack([-limbs.shoulder[side], zeros, zeros])) @ base[shoulder]
        planted = limbs.planted
        standing_z = stand.pelvis_z(self.body)
        # The pelvis drops to L cos(A) when both feet are down (phase 0 and 1/2), less at mid-stance.
        drop = self.body.leg_length * (1 - np.cos(amp_hip))
        z = standing_z - drop * (0.45 + 0.3 * np.cos(4 * np.pi * phase)) - 0.01 * a
        quats = matrix_to_quaternion(local)
        blend = np.clip(np.arange(1, n + 1) / max(1, self.seconds(0.3)), 0, 1)
        quats = slerp(np.broadcast_to(self.quats, quats.shape), quats, blend[:, None])
        z = self.pelvis[2] + blend * (z - self.pelvis[2])
        self._append(np.column_stack([gait.xy, z]), gait.yaw, quats, label, planted)
        if end_pose is not None:
            self.move(end_pose, 0.3, "stand")
        return self

    # -- output -------------------------------------------------------------------------------
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (np.concatenate(self._pelvis), np.concatenate(self._yaw), np.concatenate(self._quats),
                np.concatenate(self._labels), np.concatenate(self._planted))

    def shift_window(self, start: int, frames: int) -> None:
        """Keep frames [start, start + frames); reaches move with them."""
        window = slice(start, start + frames)
        pelvis, yaw, quats, labels, planted = self.arrays()
        self._pelvis, self._yaw, self._quats = [pelvis[window]], [yaw[window]], [quats[window]]
        self._labels, self._planted = [labels[window]], [planted[window]]
        self.reaches = [dataclasses.replace(r, start=max(0, r.start - start), stop=r.stop - start)
                        for r in self.reaches if r.stop - start > 0]

    def finalize(self, partner_joints: np.ndarray | None = None,
                 support: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[Motion, np.ndarray]:
        """The Motion and its FK joints (T, 24, 3): smooth idle noise on the upper body, the
        body lifted where a joint would sink into what carries it (``support``: xy (..., 2) ->
        surface height (...,), e.g. :meth:`CareRoom.support_height`; the floor when None),
        planted feet locked, hands on the partner (partner_joints (T, 24, 3)) where reaches ask."""
        pelvis, yaw, quats, labels, planted = self.arrays()
        T = len(yaw)
        local = quaternion_to_matrix(quats)
        local = local @ axis_angle_to_matrix(_smooth_noise(self.rng, T, self.fps))
        world, joints = pose_fk(self.body, yaw, local, pelvis)
        body = bone_points(joints)
        under = np.zeros(body.shape[:-1]) if support is None else support(body[..., :2])
        # Furniture carries a body only when no foot is planted (sitting down onto a bed is
        # carried by the feet until the hips land; a foot near the bed must not lift a walker),
        # and the arms count only then too (a standing person's hands may rest on things).
        standing = planted.any(-1)[:, None]
        under = np.where(standing, 0.0, under)
        deficit = np.where(standing & _ARMS, -np.inf, under + _LIFT_CLEARANCE - body[..., 2]).max(-1)
        if (deficit > 0).any():
            pelvis = pelvis.copy()
            pelvis[:, 2] += np.maximum(deficit, 0.0)
            world, joints = pose_fk(self.body, yaw, local, pelvis)
        targets, weights, flat = foot_targets(self.body, world, joints, planted)
        forward = world[:, 0] @ np.array([0.0, 0.0, 1.0])
        for side in range(2):
            two_bone_ik(self.body.rest, LEGS[side], world, joints, local, targets[:, side], weights[:, side],
                        forward, keep_end_rotation=flat[:, side])
        world, joints = pose_fk(self.body, yaw, local, pelvis)
        if self.reaches:
            targets, weights, lean = self._reach_targets(T, partner_joints)
            if lean.any():
                lean_to_reach(self.body, yaw, local, pelvis, targets, lean)
            world, joints = pose_fk(self.body, yaw, local, pelvis)
            for side in range(2):
                down_back = world[:, 0] @ np.array([0.0, -1.0, -0.6])
                two_bone_ik(self.body.rest, ARMS[side], world, joints, local, targets[side], weights[side], down_back)
            world, joints = pose_fk(self.body, yaw, local, pelvis)
        global_orient, body_pose = to_axis_angle_pose(local, yaw)
        motion = Motion(global_orient=global_orient, body_pose=body_pose, transl=pelvis - self.body.rest[0],
                        betas=self.body.betas.copy(), fps=self.fps, role=self.role, name=self.name,
                        labels=labels.astype(np.int32))
        return motion, joints

    def _reach_targets(self, T: int, partner_joints: np.ndarray | None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The hands' wrist targets (2, T, 3) m, weights (2, T) in [0, 1] and the weights (2, T)
        of the reaches the spine leans into, from ``reaches``."""
        targets, weights, lean = np.zeros((2, T, 3)), np.zeros((2, T)), np.zeros((2, T))
        for reach in self.reaches:
            if reach.joint >= 0 and partner_joints is None:
                raise ValueError(f"{self.name}: a reach to the partner's joint {reach.joint} needs its joints")
            stop = min(reach.stop, T)
            if stop <= reach.start:
                continue
            frames = np.arange(reach.start, stop)
            ramp = np.minimum(np.minimum(frames - reach.start + 1, stop - frames) / max(reach.ramp, 1), 1.0)
            anchor = 0.0 if reach.joint < 0 else partner_joints[frames, reach.joint]
            targets[reach.side, frames] = anchor + np.asarray(reach.offset)
            weights[reach.side, frames] = np.maximum(weights[reach.side, frames], ramp)
            if reach.lean:
                lean[reach.side, frames] = weights[reach.side, frames]
        return targets, weights, lean


# Points (joints and along bones, checks.bone_points) kept off the floor and furniture by
# lifting the body, and how far above it (m): feet and shins 2 cm, the rest 4 cm (joints lie
# inside the body); arms (_ARMS) count only while no foot is planted.
_ARMS = hand_point_mask()
_LIFT_CLEARANCE = np.where(foot_point_mask(), 0.02, 0.04)
_NOISY_JOINTS = [J[n] for n in ("spine1", "spine2", "spine3", "neck", "head", "left_collar", "right_collar",
                                "left_shoulder", "right_shoulder", "left_elbow", "right_elbow")]


def _smooth_noise(rng: np.random.Generator, frames: int, fps: float, degrees: float = 2.0) -> np.ndarray:
    """(T, 24, 3) axis-angle: band-limited wobble (about 0.3 Hz) of the upper body, zero elsewhere."""
    knots = max(2, int(frames / fps / 1.5) + 2)
    values = rng.normal(0.0, degrees * math.pi / 180.0, (knots, len(_NOISY_JOINTS), 3))
    t = np.linspace(0, knots - 1, frames)
    out = np.zeros((frames, 24, 3))
    for k in range(3):
        for j in range(len(_NOISY_JOINTS)):
            out[:, _NOISY_JOINTS[j], k] = np.interp(t, np.arange(knots), values[:, j, k])
    return out
