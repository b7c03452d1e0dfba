"""Legs reach the floor where the predicted positions stand the feet on it (core.motion.leg_reach)."""

import numpy as np

from addon.core.eval.physical import floor_float
from addon.core.motion.decode import decoded_pose
from addon.core.motion.leg_reach import ANKLE_ABOVE_M, reach_floor, reach_targets
from addon.core.motion.representation import POSITIONS, features_to_joints, features_to_rotations
from addon.core.motion.joint_ik import BODY_PARENTS
from addon.core.skeleton import JOINT_INDEX, forward_kinematics
from helpers.poses import LYING, REST, STANDING, features_of, lowest_standing_pelvis, motion

ANKLES = [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]
FEET = [JOINT_INDEX["left_foot"], JOINT_INDEX["right_foot"]]
LEG_JOINTS = {JOINT_INDEX[f"{side}_{part}"] for side in ("left", "right") for part in ("hip", "knee", "ankle")}
PELVIS_Z = lowest_standing_pelvis()


def folded(frames: int = 8, hip_deg: float = 90.0, knee_deg: float = 90.0, orient=STANDING):
    """An upright body at standing height whose thighs are raised by ``hip_deg`` and shins bent
    back by ``knee_deg``: sitting on nothing."""
    pose = np.zeros((23, 3))
    for side in ("left", "right"):
        pose[JOINT_INDEX[f"{side}_hip"] - 1] = [-np.radians(hip_deg), 0.0, 0.0]
        pose[JOINT_INDEX[f"{side}_knee"] - 1] = [np.radians(knee_deg), 0.0, 0.0]
    return motion(orient, [1.0, 2.0, PELVIS_Z], frames=frames, body_pose=pose)


def with_positions_of(rotations_from, positions_from) -> np.ndarray:
    """(T, 264): the rotations (and velocities) of one motion's features, the joint positions of another's."""
    features = features_of(rotations_from).astype(np.float64)
    features[:, POSITIONS] = features_of(positions_from)[:, POSITIONS]
    return features


def posed(features: np.ndarray):
    rotations = features_to_rotations(features)
    pelvis = features_to_joints(features)[:, 0]
    world, joints = forward_kinematics(rotations, REST[:22], pelvis - REST[0], parents=BODY_PARENTS)
    return rotations, world, joints


def test_legs_folded_under_a_standing_prediction_stand_on_the_floor_and_nothing_else_moves():
    standing = motion(STANDING, [1.0, 2.0, PELVIS_Z], frames=8)
    features = with_positions_of(folded(), standing)
    rotations, world, joints = posed(features)
    assert joints[:, ANKLES, 2].min() > 0.4  # the fixture hovers: ankles at knee height
    assert floor_float(joints[None]) == 1.0
    reached, reached_world, reached_joints = reach_floor(rotations, world, joints, features_to_joints(features), REST)
    np.testing.assert_allclose(reached_joints[:, ANKLES, 2], ANKLE_ABOVE_M, atol=0.01)
    assert reached_joints[:, FEET, 2].max() < 0.1 and floor_float(reached_joints[None]) == 0.0
    others = [j for j in range(22) if j not in LEG_JOINTS]
    np.testing.assert_allclose(reached[:, others], rotations[:, others], atol=1e-12)  # only hips and knees turn...
    for ankle in ANKLES:
        np.testing.assert_allclose(reached[:, ankle], rotations[:, ankle], atol=1e-12)  # ...the foot follows the shin
    upper = [j for j in range(22) if j not in LEG_JOINTS | set(FEET) | {4, 5}]
    np.testing.assert_allclose(reached_joints[:, upper], joints[:, upper], atol=1e-9)
    # The ankle comes down under the hip, and what is returned is forward kinematics of the result.
    hips = joints[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]], :2]
    np.testing.assert_allclose(reached_joints[:, ANKLES, :2], hips, atol=0.01)
    expected_world, expected = forward_kinematics(reached, REST[:22], joints[:, 0] - REST[0], parents=BODY_PARENTS)
    np.testing.assert_allclose(reached_joints, expected, atol=1e-9)
    np.testing.assert_allclose(reached_world, expected_world, atol=1e-9)
    # The decode does it: the rig stands instead of sitting in mid-air.
    shown = decoded_pose(features.astype(np.float32), REST, fps=10.0)[2]
    assert floor_float(shown[None]) == 0.0 and shown[:, FEET, 2].max() < 0.1


def test_legs_stay_where_the_prediction_lifts_the_feet_too_or_the_body_lies():
    # Sitting on a bed's edge with the feet hanging: the prediction says the same, nothing moves.
    sitting = folded()
    features = features_of(sitting).astype(np.float64)
    rotations, world, joints = posed(features)
    out = reach_floor(rotations, world, joints, features_to_joints(features), REST)
    np.testing.assert_array_equal(out[0], rotations)
    np.testing.assert_array_equal(out[2], joints)
    # Lying on a bed, legs raised at the knees, whatever the prediction's feet say.
    lying = folded(hip_deg=30.0, knee_deg=30.0, orient=LYING)
    features = with_positions_of(lying, motion(STANDING, [1.0, 2.0, PELVIS_Z], frames=8))
    rotations, world, joints = posed(features)
    assert joints[:, ANKLES, 2].min() > 0.5
    _, weights = reach_targets(joints, features_to_joints(features))
    assert not weights.any()


def test_a_foot_on_the_floor_keeps_the_other_leg_as_it_swings():
    # One thigh raised 80 degrees, the other leg straight down on the floor: a step, not a hover.
    pose = np.zeros((23, 3))
    pose[JOINT_INDEX["left_hip"] - 1] = [-np.radians(80.0), 0.0, 0.0]
    pose[JOINT_INDEX["left_knee"] - 1] = [np.radians(80.0), 0.0, 0.0]
    step = motion(STANDING, [1.0, 2.0, PELVIS_Z], frames=8, body_pose=pose)
    features = with_positions_of(step, motion(STANDING, [1.0, 2.0, PELVIS_Z], frames=8))
    rotations, world, joints = posed(features)
    assert joints[:, ANKLES[0], 2].min() > 0.3 and joints[:, ANKLES[1], 2].max() < 0.1
    _, weights = reach_targets(joints, features_to_joints(features))
    assert not weights.any()


def test_the_reach_eases_in_and_out_as_the_legs_fold_and_unfold():
    angles = [0, 0, 0, 0, 10, 25, 45, 70, 90, 90, 90, 70, 45, 25, 10, 0, 0, 0, 0]  # degrees, frame by frame
    standing = motion(STANDING, [1.0, 2.0, PELVIS_Z], frames=1)
    features = np.concatenate([with_positions_of(folded(frames=1, hip_deg=a, knee_deg=a), standing) for a in angles])
    rotations, world, joints = posed(features)
    _, weights = reach_targets(joints, features_to_joints(features))
    hovering = joints[:, ANKLES, 2].min(axis=-1) > ANKLE_ABOVE_M + 0.18
    for weight in weights:
        assert np.all(weight[hovering] == 1.0) and np.all(weight[:3] == 0.0) and np.all(weight[-3:] == 0.0)
        assert np.all(np.diff(weight[: int(np.argmax(weight))]) >= 0.0)  # rising to the fold
    _, _, reached = reach_floor(rotations, world, joints, features_to_joints(features), REST)
    assert reached[:, ANKLES, 2].max() < 0.12  # standing throughout (ankles 0.5 m up unreached)
    assert joints[:, ANKLES, 2].max() > 0.4
    steps = np.linalg.norm(np.diff(reached[:, ANKLES], axis=0), axis=-1)
    posed_steps = np.linalg.norm(np.diff(joints[:, ANKLES], axis=0), axis=-1)
    assert steps.max() < 0.1 and steps.max() < posed_steps.max()  # no pop as the reach comes and goes
