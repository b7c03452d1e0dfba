"""Leaning into a reach (procedural/lean.py): the spine brings a short arm's shoulder towards its
target, within its limits, and leaves everything else alone."""

import math

import numpy as np
import pytest

from addon.core.body.model import load_body_model
from addon.core.data.procedural import poses
from addon.core.data.procedural.kinematics import ARMS, Body, pose_fk
from addon.core.data.procedural.lean import MAX_LEAN_PER_JOINT, SPINE, arm_length, lean_to_reach, shortfall
from addon.core.data.procedural.track import Reach, Track
from addon.core.skeleton import PARENTS

RIGHT = 1


@pytest.fixture(scope="module")
def body():
    model = load_body_model(None)
    return Body(np.asarray(model.rest_joints(), dtype=np.float64), np.zeros(model.num_betas))


def bent_person(body, frames=3):
    """A person at the origin facing -y (yaw 0), bent over a little: (yaw, local, pelvis)."""
    local = np.repeat(poses.bend_over(None, amount=0.7).local[None], frames, axis=0)
    yaw = np.zeros(frames)
    pelvis = np.tile([0.0, 0.0, 0.95], (frames, 1))
    return yaw, local, pelvis


def right_hand_reach(target, frames=3, weight=1.0):
    targets = np.zeros((2, frames, 3))
    targets[RIGHT] = target
    weights = np.zeros((2, frames))
    weights[RIGHT] = weight
    return targets, weights


def test_a_target_beyond_the_arm_comes_within_reach_by_bending_the_spine(body):
    yaw, local, pelvis = bent_person(body)
    _, before = pose_fk(body, yaw, local, pelvis)
    target = before[0, ARMS[RIGHT][0]] + np.array([0.0, -0.45, -0.40])  # 0.60 m ahead and down
    targets, weights = right_hand_reach(target)
    short_before = shortfall(body, before, targets, weights)[RIGHT]
    assert short_before.min() > 0.1  # 0.60 m vs 0.93 x 0.50 m of arm
    spent = lean_to_reach(body, yaw, local, pelvis, targets, weights)
    _, after = pose_fk(body, yaw, local, pelvis)
    assert np.allclose(shortfall(body, after, targets, weights)[RIGHT], 0.0, atol=5e-3)
    assert (spent > 0).all() and (spent <= len(SPINE) * MAX_LEAN_PER_JOINT + 1e-9).all()
    # The shoulders came down and forward, towards the target.
    assert (after[:, ARMS[RIGHT][0], 2] < before[:, ARMS[RIGHT][0], 2] - 0.05).all()


def test_only_the_spine_turns_and_nothing_below_it_moves(body):
    yaw, local, pelvis = bent_person(body)
    original = local.copy()
    _, before = pose_fk(body, yaw, local, pelvis)
    targets, weights = right_hand_reach(before[0, ARMS[RIGHT][0]] + np.array([0.2, -0.6, -0.5]))
    lean_to_reach(body, yaw, local, pelvis, targets, weights)
    _, after = pose_fk(body, yaw, local, pelvis)
    changed = [j for j in range(24) if not np.allclose(local[:, j], original[:, j])]
    assert changed and set(changed) <= set(SPINE)
    below = [j for j in range(24) if not _descends_from_spine(j)]
    assert np.allclose(after[:, below], before[:, below])


def _descends_from_spine(j):
    while j >= 0:
        if j in SPINE:
            return True
        j = PARENTS[j]
    return False


def test_each_spine_joint_turns_no_more_than_its_limit(body):
    yaw, local, pelvis = bent_person(body)
    original = local.copy()
    _, before = pose_fk(body, yaw, local, pelvis)
    targets, weights = right_hand_reach(before[0, ARMS[RIGHT][0]] + np.array([0.0, -1.5, -0.8]))  # far out
    spent = lean_to_reach(body, yaw, local, pelvis, targets, weights)
    assert np.allclose(spent, len(SPINE) * MAX_LEAN_PER_JOINT)
    for j in SPINE:
        turn = np.swapaxes(original[:, j], -1, -2) @ local[:, j]
        angle = np.arccos(np.clip((np.trace(turn, axis1=-2, axis2=-1) - 1) / 2, -1, 1))
        assert (angle <= MAX_LEAN_PER_JOINT + 1e-6).all()


@pytest.mark.parametrize("case", ["within reach", "no weight"])
def test_no_lean_when_none_is_needed(body, case):
    yaw, local, pelvis = bent_person(body)
    original = local.copy()
    _, joints = pose_fk(body, yaw, local, pelvis)
    shoulder = joints[0, ARMS[RIGHT][0]]
    if case == "within reach":
        targets, weights = right_hand_reach(shoulder + np.array([0.0, -0.3, -0.2]))  # 0.36 m: reachable
    else:
        targets, weights = right_hand_reach(shoulder + np.array([0.0, -0.9, -0.5]), weight=0.0)
    spent = lean_to_reach(body, yaw, local, pelvis, targets, weights)
    assert np.array_equal(local, original) and not spent.any()


def test_a_reach_that_leans_gets_the_hand_there_and_one_that_does_not_stops_short(body):
    target = (0.0, -0.6, 0.7)  # ahead of and below a person standing at (0, 0) facing -y

    def wrist_gap(lean):
        rng = np.random.default_rng(0)
        track = Track(body, 10.0, "staff", np.zeros(2), 0.0, poses.stand(None), rng, name="staff")
        track.hold(0.5, "stand")
        track.move(poses.bend_over(None, amount=0.7), 1.0, "attend")
        track.hold(1.5, "attend")
        track.reaches.append(Reach(10, track.frames, RIGHT, -1, target, lean=lean))
        _, joints = track.finalize()
        held = track.frames - 5  # full weight: the reach ramps out over its last four frames
        return float(np.linalg.norm(joints[held, ARMS[RIGHT][2]] - np.array(target)))

    assert wrist_gap(lean=False) > 0.15
    assert wrist_gap(lean=True) < 0.05


def test_arm_length_is_the_rest_shoulder_to_wrist_chain(body):
    a, b, c = ARMS[RIGHT]
    expected = np.linalg.norm(body.rest[b] - body.rest[a]) + np.linalg.norm(body.rest[c] - body.rest[b])
    assert math.isclose(arm_length(body, RIGHT), expected) and 0.4 < expected < 0.65
