"""SMPL poses -> armature channels -> Blender's pose composition reproduces SMPL FK, and back."""

import numpy as np
from scipy.spatial.transform import Rotation

from addon.core.axes import Y_UP_TO_Z_UP as C
from addon.core.rig_pose import bone_channels_from_smpl, rig_rest, smpl_from_bone_channels
from addon.core.rotations import axis_angle_to_matrix, quaternion_to_matrix
from addon.core.skeleton import PARENTS, forward_kinematics

RNG = np.random.default_rng(3)


def blender_pose_heads(quaternions, location, heads, bone_rest):
    """Blender's pose evaluation written out: M_j = M_parent (Rest_parent^-1 Rest_j) Basis_j."""
    T = len(quaternions)
    rest = np.tile(np.eye(4), (24, 1, 1))
    rest[:, :3, :3], rest[:, :3, 3] = bone_rest, heads
    out = np.empty((T, 24, 3))
    for t in range(T):
        world = [None] * 24
        for j in range(24):
            basis = np.eye(4)
            basis[:3, :3] = quaternion_to_matrix(quaternions[t, j])
            if j == 0:
                basis[:3, 3] = location[t]
                world[j] = rest[0] @ basis
            else:
                p = PARENTS[j]
                world[j] = world[p] @ np.linalg.inv(rest[p]) @ rest[j] @ basis
            out[t, j] = world[j][:3, 3]
    return out


def test_channels_drive_the_armature_to_smpl_joints_for_any_bone_rolls():
    rest_joints = RNG.normal(size=(24, 3)) * 0.3
    bone_rest = Rotation.random(24, random_state=4).as_matrix()  # any rolls and directions
    pose = RNG.normal(size=(6, 24, 3)) * 0.8
    transl = RNG.normal(size=(6, 3))
    local = axis_angle_to_matrix(pose)
    quats, location = bone_channels_from_smpl(local, transl, rest_joints, bone_rest)
    assert quats.shape == (6, 24, 4) and location.shape == (6, 3)
    _, smpl_joints = forward_kinematics(local, rest_joints, transl)
    heads = blender_pose_heads(quats, location, rest_joints @ C.T, bone_rest)
    # AMASS convention: SMPL's output already is the Z-up world, so no frame change here.
    np.testing.assert_allclose(heads, smpl_joints, atol=1e-12)


def test_channels_round_trip_to_smpl():
    rest_joints = RNG.normal(size=(24, 3)) * 0.3
    bone_rest = Rotation.random(24, random_state=5).as_matrix()
    local = axis_angle_to_matrix(RNG.normal(size=(5, 24, 3)))
    transl = RNG.normal(size=(5, 3))
    quats, location = bone_channels_from_smpl(local, transl, rest_joints, bone_rest)
    local_back, transl_back = smpl_from_bone_channels(quats, location, rest_joints, bone_rest)
    np.testing.assert_allclose(local_back, local, atol=1e-12)
    np.testing.assert_allclose(transl_back, transl, atol=1e-12)


def test_quaternions_are_sign_continuous_over_time():
    rest_joints = RNG.normal(size=(24, 3)) * 0.3
    spin = np.zeros((60, 24, 3))
    spin[:, 5, 2] = np.linspace(0, 4 * np.pi, 60)  # right knee spins twice
    quats, _ = bone_channels_from_smpl(axis_angle_to_matrix(spin), np.zeros((60, 3)), rest_joints, np.tile(np.eye(3), (24, 1, 1)))
    assert ((quats[1:] * quats[:-1]).sum(-1) > 0).all()


def test_rest_bones_point_at_their_child_with_sensible_rolls():
    rest_joints = np.zeros((24, 3))
    rest_joints[:, 1] = -np.arange(24) * 0.05  # a column going down (Y-up)
    rest_joints[16:24:2, 0] = np.arange(4) * 0.2 + 0.3  # left arm along +x
    rest_joints[17:24:2, 0] = -(np.arange(4) * 0.2 + 0.3)
    rest_joints[16:24, 1] = 0.0
    rig = rig_rest(rest_joints)
    np.testing.assert_allclose(rig.heads, rest_joints @ C.T)
    np.testing.assert_allclose(rig.tails[16], rig.heads[18])  # left shoulder -> left elbow
    assert (np.linalg.norm(rig.tails - rig.heads, axis=1) > 0.01).all()
    np.testing.assert_allclose(rig.roll_axes[16], [0, 0, 1])  # horizontal arm: Z up
    np.testing.assert_allclose(rig.roll_axes[15], [0, -1, 0])  # head bone is vertical: Z forward
