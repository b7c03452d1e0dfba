"""Helpers' hands put on the other person (motion.hand_contact) and the decode that applies it."""

import numpy as np
import pytest

from addon.core.body.model import load_body_model
from addon.core.eval.physical import PENETRATION_TOLERANCE_M, has_contact, penetration_depths
from addon.core.motion.decode import decoded_people, decoded_pose
from addon.core.motion.hand_contact import (
    ARMS,
    BEHIND_M,
    FADE_FRAMES,
    GRIP_JOINTS,
    GRIP_OFFSET_M,
    REACH_M,
    place_hands,
    reaching_persons,
)
from addon.core.motion.joint_ik import BODY_PARENTS, motion_from_local_rotations
from addon.core.motion.representation import encode_motion
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import JOINT_INDEX as J
from addon.core.skeleton import forward_kinematics

REST = np.asarray(load_body_model(None).rest_joints(), dtype=np.float64)
ARM_JOINTS = sorted({j for arm in ARMS for j in arm})
T = 12


def standing(x: float, y: float, yaw: float, flex: float = 0.0, frames: int = T):
    """(T, 22, 3, 3) rotations and (T, 3) pelvis of an upright body on the floor at (x, y), facing
    (sin yaw, -cos yaw), arms lowered 69 degrees and raised forwards by ``-flex`` rad."""
    local = np.broadcast_to(np.eye(3), (frames, 22, 3, 3)).copy()
    local[:, 0] = axis_angle_to_matrix(np.array([0, 0, yaw])) @ axis_angle_to_matrix(np.array([np.pi / 2, 0, 0]))
    for side, sign in (("left", -1), ("right", 1)):
        local[:, J[f"{side}_shoulder"]] = (axis_angle_to_matrix(np.array([flex, 0.0, 0.0]))
                                           @ axis_angle_to_matrix(np.array([0.0, 0.0, sign * 1.2])))
    pelvis = np.tile([x, y, 0.0], (frames, 1))
    pelvis[:, 2] -= fk(local, pelvis)[..., 2].min()
    return local, pelvis


def fk(rotations, pelvis):
    return forward_kinematics(rotations, REST[:22], pelvis - REST[0], parents=BODY_PARENTS)[1]


def pair(*people):
    rotations, pelvis = (np.stack(part) for part in zip(*people))
    return rotations, pelvis


def joints_of(rotations, pelvis):
    return np.stack([fk(r, p) for r, p in zip(rotations, pelvis)])


def test_who_reaches():
    assert reaching_persons(("staff", "patient")) == (True, False)
    assert reaching_persons(("patient", "staff", "patient")) == (False, True, False)
    assert reaching_persons(("person", "person")) == (True, True)  # handing over: both hands meet
    assert reaching_persons(("staff", "staff")) == (True, True)
    assert reaching_persons(("patient",)) == (False,)


def test_a_helper_facing_the_patient_puts_hands_on_them_and_nothing_else_moves():
    rotations, pelvis = pair(standing(0.0, 0.0, np.pi / 2, flex=-0.8), standing(0.45, 0.0, -np.pi / 2))
    before = joints_of(rotations, pelvis)
    near = np.linalg.norm(before[1][:, GRIP_JOINTS, None] - before[0][:, None, [20, 21]], axis=-1).min(axis=1)
    assert np.all((near > 0.15) & (near < REACH_M))  # reaching towards, not touching
    assert not has_contact(before)
    placed, shown = place_hands(rotations, pelvis, REST, (True, False))
    after = joints_of(placed, pelvis)
    np.testing.assert_allclose(shown, after, atol=1e-12)
    assert has_contact(after)
    for wrist in (20, 21):
        gap = np.linalg.norm(after[1][:, GRIP_JOINTS] - after[0][:, wrist, None], axis=-1).min(axis=1)
        np.testing.assert_allclose(gap, GRIP_OFFSET_M, atol=1e-6)  # held the whole clip: palm on the skin
    np.testing.assert_array_equal(placed[1], rotations[1])  # the patient is not touched by the clean-up
    others = [j for j in range(22) if j not in ARM_JOINTS]
    np.testing.assert_array_equal(placed[0][:, others], rotations[0][:, others])
    np.testing.assert_allclose(after[0][:, ARM_JOINTS[:2]], before[0][:, ARM_JOINTS[:2]], atol=1e-9)  # shoulders
    assert np.all(penetration_depths(after) <= np.maximum(penetration_depths(before), PENETRATION_TOLERANCE_M))
    np.testing.assert_array_equal(place_hands(rotations, pelvis, REST, (False, False))[0], rotations)


def test_a_helper_in_arms_reach_takes_hold_though_the_arms_hang_at_the_sides():
    # The model often stands its helper by the patient with the arms hanging: the wrists are half
    # a metre from the other body (further still from what they can hold), the shoulders in arm's reach.
    rotations, pelvis = pair(standing(0.0, 0.0, np.pi / 2), standing(0.45, 0.0, -np.pi / 2))
    before = joints_of(rotations, pelvis)
    near = np.linalg.norm(before[1][:, GRIP_JOINTS, None] - before[0][:, None, [20, 21]], axis=-1).min(axis=1)
    assert np.all(near > 0.45) and not has_contact(before)
    assert has_contact(joints_of(place_hands(rotations, pelvis, REST, (True, False))[0], pelvis))
    # A step further back the shoulders are out of reach: the arms stay as they were.
    apart = pair(standing(0.0, 0.0, np.pi / 2), standing(0.55, 0.0, -np.pi / 2))
    np.testing.assert_array_equal(place_hands(*apart, REST, (True, False))[0], apart[0])


def test_nobody_reaches_across_the_room_or_behind_their_back():
    far = pair(standing(0.0, 0.0, np.pi / 2, flex=-0.8), standing(2.0, 0.0, -np.pi / 2))
    np.testing.assert_array_equal(place_hands(*far, REST, (True, False))[0], far[0])
    # The patient stands right behind the helper: the grips are near and in arm's reach, but behind.
    behind = pair(standing(0.0, 0.0, np.pi / 2), standing(-0.45, 0.0, np.pi / 2))
    joints = joints_of(*behind)
    shoulder_to_grip = np.linalg.norm(joints[1][0, GRIP_JOINTS] - joints[0][0, J["left_shoulder"]], axis=-1).min()
    wrist_to_grip = np.linalg.norm(joints[1][0, GRIP_JOINTS] - joints[0][0, J["left_wrist"]], axis=-1).min()
    assert wrist_to_grip < REACH_M and shoulder_to_grip < 0.5
    np.testing.assert_array_equal(place_hands(*behind, REST, (True, False))[0], behind[0])


def test_a_helper_leads_someone_by_the_hand_behind_and_below_the_shoulder():
    # The patient walks a step behind and beside the helper (leading by the hand): the patient's
    # hand is 20 cm behind the helper's shoulder plane and half a metre below it: the arm swings back.
    helper, patient = standing(0.0, 0.0, np.pi / 2), standing(-0.2, 0.35, np.pi / 2)
    rotations, pelvis = pair(helper, patient)
    before = joints_of(rotations, pelvis)
    hand = before[1][0, J["right_wrist"]] - before[0][0, J["left_shoulder"]]
    facing = np.array([1.0, 0.0, 0.0])  # yaw pi/2: (sin yaw, -cos yaw)
    assert -hand @ facing > BEHIND_M and -hand[2] > 0  # behind the shoulder, and below it
    placed, after = place_hands(rotations, pelvis, REST, (True, False))
    assert has_contact(after) and not has_contact(before)
    # The same hand lifted to the shoulder's height: the arm cannot swing back that far.
    raised = (rotations[0], pelvis[0]), (rotations[1], pelvis[1] + np.array([0.0, 0.0, 0.45]))
    high = pair(*raised)
    np.testing.assert_array_equal(place_hands(*high, REST, (True, False))[0], high[0])


def test_a_grip_eases_in_and_out_and_a_short_brush_is_no_grip():
    frames = 30
    helper = standing(0.0, 0.0, np.pi / 2, flex=-0.8, frames=frames)
    patient = standing(0.45, 0.0, -np.pi / 2, frames=frames)
    patient[1][:10, 0] += 2.0  # away, then beside the helper for frames 10..19, then away again
    patient[1][20:, 0] += 2.0
    rotations, pelvis = pair(helper, patient)
    before, after = joints_of(rotations, pelvis), place_hands(rotations, pelvis, REST, (True, False))[1]
    moved = np.linalg.norm(after[0][:, 20] - before[0][:, 20], axis=-1)
    assert np.all(moved[: 10 - FADE_FRAMES] == 0) and np.all(moved[20 + FADE_FRAMES:] == 0)
    assert np.all(moved[10:20] > 0.2)
    assert np.abs(np.diff(moved)).max() <= REACH_M / (FADE_FRAMES + 1) + 1e-6  # no jump beyond the fade's steps
    brush = pair(helper, patient)
    brush[1][1][12:20, 0] += 2.0  # beside for two frames only
    np.testing.assert_array_equal(place_hands(*brush, REST, (True, False))[0][0], rotations[0])


@pytest.mark.parametrize("seed", range(6))
def test_hands_never_push_an_arm_deeper_into_the_other_body(seed):
    rng = np.random.default_rng(seed)
    people = []
    for distance in (0.0, rng.uniform(0.35, 0.7)):  # pelvises 35-70 cm apart, any heading, arms anywhere
        heading = rng.uniform(-np.pi, np.pi)
        local, pelvis = standing(distance * np.cos(heading), distance * np.sin(heading), rng.uniform(-np.pi, np.pi),
                                 flex=rng.uniform(-1.2, 0.0))
        local[:, ARM_JOINTS] = local[:, ARM_JOINTS] @ axis_angle_to_matrix(rng.normal(0, 0.4, (len(ARM_JOINTS), 3)))
        people.append((local, pelvis))
    rotations, pelvis = pair(*people)
    before = joints_of(rotations, pelvis)
    after = place_hands(rotations, pelvis, REST, (True, True))[1]
    allowed = np.maximum(penetration_depths(before), PENETRATION_TOLERANCE_M) + 1e-9
    assert np.all(penetration_depths(after) <= allowed)


def test_the_decode_places_hands_only_when_asked():
    helper = motion_from_local_rotations(*standing(0.0, 0.0, np.pi / 2, flex=-0.8), REST, 10.0, role="staff")
    patient = motion_from_local_rotations(*standing(0.45, 0.0, -np.pi / 2), REST, 10.0, role="patient")
    features = np.stack([encode_motion(m, REST) for m in (helper, patient)])
    plain = decoded_people(features, REST, 10.0)
    for p in range(2):
        np.testing.assert_array_equal(plain[2][p], decoded_pose(features[p], REST, 10.0)[2])
    held = decoded_people(features, REST, 10.0, reaching_persons(("staff", "patient")))
    assert not has_contact(plain[2]) and has_contact(held[2])
    np.testing.assert_array_equal(held[2][1], plain[2][1])
