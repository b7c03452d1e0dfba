"""Lying bodies levelled in the decode (core.motion.level): pitched lying poses come level, nothing else moves."""

import numpy as np

from addon.core.motion.decode import decoded_pose
from addon.core.motion.level import level_lying, lying_weight
from addon.core.motion.representation import features_to_joints, features_to_rotations
from addon.core.skeleton import JOINT_INDEX, forward_kinematics
from addon.core.motion.joint_ik import BODY_PARENTS
from helpers.poses import LYING, REST, STANDING, features_of, joints_of, lowest_standing_pelvis, motion, turned

NECK, HEAD, PELVIS = JOINT_INDEX["neck"], JOINT_INDEX["head"], JOINT_INDEX["pelvis"]


def posed(features: np.ndarray):
    """(T, 264) -> local rotations, world rotations, joints: forward kinematics as the decode does it."""
    rotations = features_to_rotations(features.astype(np.float64))
    pelvis = features_to_joints(features.astype(np.float64))[:, 0]
    world, joints = forward_kinematics(rotations, REST[:22], pelvis - REST[0], parents=BODY_PARENTS)
    return rotations, world, joints


def trunk_elevation_deg(joints: np.ndarray) -> np.ndarray:
    trunk = joints[:, NECK] - joints[:, PELVIS]
    return np.degrees(np.arcsin(trunk[:, 2] / np.linalg.norm(trunk, axis=-1)))


def test_a_lying_body_pitched_head_down_comes_level_about_its_pelvis():
    head_down = turned(LYING, [0.0, 1.0, 0.0], 30.0)  # head (+x) tipped 30 degrees towards the floor
    features = features_of(motion(head_down, [2.0, 1.5, 0.8]))
    rotations, world, joints = posed(features)
    assert trunk_elevation_deg(joints).max() < -25.0 and lying_weight(joints).min() == 1.0
    levelled, levelled_world, levelled_joints = level_lying(rotations, world, joints)
    np.testing.assert_allclose(trunk_elevation_deg(levelled_joints), 0.0, atol=0.5)
    np.testing.assert_allclose(levelled_joints[:, PELVIS], joints[:, PELVIS], atol=1e-9)
    np.testing.assert_allclose(levelled[:, 1:], rotations[:, 1:], atol=1e-12)  # only the root turns
    # What it returns is forward kinematics of the levelled rotations.
    expected_world, expected = forward_kinematics(levelled, REST[:22], joints[:, PELVIS] - REST[0],
                                                  parents=BODY_PARENTS)
    np.testing.assert_allclose(levelled_joints, expected, atol=1e-9)
    np.testing.assert_allclose(levelled_world, expected_world, atol=1e-9)
    # The decode shows the levelled body: the head up level with the pelvis, no longer 0.3 m below it.
    decoded = decoded_pose(features, REST)[2]
    assert np.abs(decoded[:, HEAD, 2] - decoded[:, PELVIS, 2]).max() < 0.1
    assert (joints[:, PELVIS, 2] - joints[:, HEAD, 2]).min() > 0.25


def test_standing_and_bending_over_are_not_lying_and_stay_as_they_are():
    standing = joints_of(motion(STANDING, [0.0, 0.0, lowest_standing_pelvis()]))
    assert lying_weight(standing).max() == 0.0
    # Bent forward 90 degrees at the hips, legs straight down: a horizontal trunk on legs under it.
    pose = np.zeros((23, 3))
    pose[JOINT_INDEX["left_hip"] - 1] = pose[JOINT_INDEX["right_hip"] - 1] = [-np.pi / 2, 0.0, 0.0]
    bent = motion(turned(STANDING, [1.0, 0.0, 0.0], 90.0), [0.0, 0.0, 0.9], body_pose=pose)
    joints = joints_of(bent)
    trunk = joints[:, NECK] - joints[:, PELVIS]
    feet_below = joints[:, PELVIS, 2] - joints[:, [JOINT_INDEX["left_foot"], JOINT_INDEX["right_foot"]], 2].min(-1)
    assert np.abs(trunk[:, 2]).max() < 0.05 and feet_below.min() > 0.6  # the fixture bends as meant
    assert lying_weight(joints).max() == 0.0
    rotations, world, posed_joints = posed(features_of(bent))
    out = level_lying(rotations, world, posed_joints)
    np.testing.assert_array_equal(out[0], rotations)
    np.testing.assert_array_equal(out[2], posed_joints)


def test_the_levelling_fades_in_with_the_pose_and_over_time():
    # Getting up: from lying level to sitting up, the trunk rising 0 -> 90 degrees over 20 frames.
    frames = 21
    orients = np.stack([turned(LYING, [0.0, 1.0, 0.0], -90.0 * k / (frames - 1)) for k in range(frames)])
    joints = joints_of(motion(orients, [2.0, 1.5, 0.8], frames=frames))
    weight = lying_weight(joints)
    assert weight[0] == 1.0 and weight[-1] == 0.0
    assert np.all(np.diff(weight) <= 1e-12)  # no jumps back
