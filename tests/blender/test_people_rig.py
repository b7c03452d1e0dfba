"""Motion -> action -> Blender's evaluated pose -> back, on every supported Blender version."""

import bpy
import numpy as np
import pytest

from addon.bridge import people
from addon.bridge.actions import read_action
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import JOINT_NAMES, forward_kinematics
from helpers.tiny_smpl import SKELETON_Y_UP

pytestmark = pytest.mark.compat
RNG = np.random.default_rng(11)


def skeleton_y_up() -> np.ndarray:
    """Rest joints (24, 3) of a T-posed adult, Y-up, with random jitter so no symmetry hides bugs."""
    base = SKELETON_Y_UP
    return base + RNG.normal(scale=0.005, size=base.shape)


def evaluated_heads(armature, frames) -> np.ndarray:
    out = []
    for frame in frames:
        bpy.context.scene.frame_set(int(frame))
        flat = np.empty(len(armature.pose.bones) * 3, dtype=np.float32)
        armature.pose.bones.foreach_get("head", flat)
        heads = flat.reshape(-1, 3)
        out.append(heads[[armature.pose.bones.find(n) for n in JOINT_NAMES]])
    return np.array(out, dtype=np.float64)


@pytest.fixture
def person():
    collection = bpy.data.collections.new("People")
    bpy.context.scene.collection.children.link(collection)
    return people.create_person(collection, "Person", skeleton_y_up(), metadata={"role": "patient"})


def random_motion(frames: int):
    pose = RNG.normal(scale=0.6, size=(frames, 24, 3))
    pose[:, 0] = RNG.normal(scale=0.3, size=(frames, 3)) + [np.pi / 2, 0, 0]  # upright in Z-up
    transl = RNG.normal(scale=0.5, size=(frames, 3)) + [1.0, 2.0, 0.9]
    return pose, transl


def test_evaluated_joints_match_core_fk_within_a_millimetre(person):
    armature = person.armature
    pose, transl = random_motion(12)
    people.apply_smpl_poses(armature, axis_angle_to_matrix(pose), transl, "test", fps=30.0)
    rest = people.rest_joints_of(armature)
    _, expected = forward_kinematics(axis_angle_to_matrix(pose), rest, transl)
    got = evaluated_heads(armature, range(1, 13))
    assert np.abs(got - expected).max() < 1e-3
    assert np.abs(got - expected).max() < 1e-5, "in fact float32-exact"
    assert armature["isynth_role"] == "patient"


def test_motion_action_motion_round_trip(person):
    pose, transl = random_motion(40)
    people.apply_smpl_poses(person.armature, axis_angle_to_matrix(pose), transl, "round trip", fps=30.0)
    global_orient, body_pose, transl_back = people.read_smpl_poses(person.armature)
    back = np.concatenate([global_orient[:, None], body_pose], axis=1)
    np.testing.assert_allclose(axis_angle_to_matrix(back), axis_angle_to_matrix(pose), atol=1e-5)
    np.testing.assert_allclose(transl_back, transl, atol=1e-5)


def test_new_motion_stashes_the_previous_action(person):
    armature = person.armature
    pose, transl = random_motion(5)
    first = people.apply_smpl_poses(armature, axis_angle_to_matrix(pose), transl, "first", fps=30.0)
    second = people.apply_smpl_poses(armature, axis_angle_to_matrix(pose[::-1]), transl, "second", fps=30.0)
    assert armature.animation_data.action == second
    stash = [t for t in armature.animation_data.nla_tracks if t.name == "[Action Stash]"]
    assert len(stash) == 1 and stash[0].strips[0].action == first
    assert len(read_action(armature)) == 3 + 24 * 4
