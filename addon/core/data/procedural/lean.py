"""Leaning into a reach: the spine bends towards hand targets that lie beyond the arms' length.

Two-bone IK on an arm can only straighten it: a target further from the shoulder than the arm
is long stays out of reach and the hand stops short (a helper crouched beside a patient on the
floor, bent over a bed). :func:`lean_to_reach` first bends the three spine joints by cyclic
coordinate descent (each joint, from the chest down, turns the shoulders towards the point an
arm needs them at), within a per-joint limit, so the arm IK that follows can reach.
"""

from __future__ import annotations

import math

import numpy as np

from ...motion.joint_ik import minimal_rotation
from ...rotations import axis_angle_to_matrix, matrix_to_axis_angle
from ...skeleton import PARENTS
from .kinematics import ARMS, Body, J, pose_fk

SPINE = (J["spine3"], J["spine2"], J["spine1"])  # chest first: CCD order, nearest the shoulders first
REACH_FRACTION = 0.93  # an arm reaching out keeps a slight bend: 93% of shoulder-elbow-wrist length
MAX_LEAN_PER_JOINT = math.radians(26.0)  # added bend each spine joint may take (three joints: 78 deg)
ITERATIONS = 3


def arm_length(body: Body, side: int) -> float:
    """Shoulder-elbow plus elbow-wrist rest length of arm ``side`` (0 left, 1 right), m."""
    a, b, c = ARMS[side]
    return float(np.linalg.norm(body.rest[b] - body.rest[a]) + np.linalg.norm(body.rest[c] - body.rest[b]))


def goal(joints: np.ndarray, targets: np.ndarray, weights: np.ndarray, side: int) -> np.ndarray:
    """(T, 3) where arm ``side``'s wrist is sent: ``weight`` of the way from the wrist to its
    target, as :func:`two_bone_ik` blends it. joints (T, 24, 3); targets (2, T, 3); weights (2, T)."""
    wrist = joints[:, ARMS[side][2]]
    return wrist + weights[side, :, None] * (targets[side] - wrist)


def shortfall(body: Body, joints: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(2, T) m by which each arm's goal lies beyond its reach from the shoulder (0 when within
    reach or without weight). joints (T, 24, 3); targets (2, T, 3) wrist targets; weights (2, T)."""
    out = np.zeros(weights.shape)
    for side in range(2):
        to_goal = goal(joints, targets, weights, side) - joints[:, ARMS[side][0]]
        out[side] = np.maximum(np.linalg.norm(to_goal, axis=-1) - REACH_FRACTION * arm_length(body, side), 0.0)
    return np.where(weights > 0, out, 0.0)


def lean_to_reach(body: Body, yaw: np.ndarray, local: np.ndarray, pelvis: np.ndarray,
                  targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Bend the spine so both arms' goals come within reach where they can; returns the (T,)
    total added lean (radians, summed over the spine joints).

    yaw (T,), local (T, 24, 3, 3) (updated IN PLACE on the spine joints), pelvis (T, 3): the
    person as :func:`pose_fk` takes them. targets (2, T, 3), weights (2, T): the arms' reach.
    Each step turns a spine joint by the shortfall-weighted mean of the rotations that would
    carry each short arm's shoulder to the point at reach from its goal, capped so the joint's
    accumulated lean stays within MAX_LEAN_PER_JOINT.
    """
    T = len(yaw)
    spent = np.zeros((len(SPINE), T))
    for _ in range(ITERATIONS):
        for k, joint in enumerate(SPINE):
            world, joints = pose_fk(body, yaw, local, pelvis)
            short = shortfall(body, joints, targets, weights)
            frames = np.flatnonzero(short.max(0) > 1e-4)
            if len(frames) == 0:
                return spent.sum(0)
            rotvec = np.zeros((len(frames), 3))
            pivot = joints[frames, joint]
            for side in range(2):
                s = short[side, frames]
                if not (s > 0).any():
                    continue
                shoulder = joints[frames, ARMS[side][0]]
                to_goal = goal(joints, targets, weights, side)[frames] - shoulder
                wanted = shoulder + s[:, None] * to_goal / np.linalg.norm(to_goal, axis=-1, keepdims=True)
                rotvec += s[:, None] * matrix_to_axis_angle(minimal_rotation(shoulder - pivot, wanted - pivot))
            rotvec /= short[:, frames].sum(0)[:, None]
            angle = np.linalg.norm(rotvec, axis=-1)
            allowed = np.clip(MAX_LEAN_PER_JOINT - spent[k, frames], 0.0, None)
            scale = np.where(angle > allowed, allowed / np.maximum(angle, 1e-12), 1.0)
            rotvec *= scale[:, None]
            spent[k, frames] += angle * scale
            parent = world[frames, PARENTS[joint]]
            delta = axis_angle_to_matrix(rotvec)
            local[frames, joint] = np.swapaxes(parent, -1, -2) @ delta @ parent @ local[frames, joint]
    return spent.sum(0)
