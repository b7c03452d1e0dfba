"""SMPL tree, forward kinematics, rotation conversions and the Y-up/Z-up frame change, by value."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from addon.core import axes, rotations as rot
from addon.core.skeleton import JOINT_INDEX, JOINT_NAMES, MIRROR, PARENTS, children, forward_kinematics

RNG = np.random.default_rng(7)


def random_axis_angle(*shape, scale=1.2):
    return RNG.normal(size=(*shape, 3)) * scale


def test_smpl_tree():
    assert len(JOINT_NAMES) == len(PARENTS) == 24
    assert all(PARENTS[j] < j for j in range(1, 24)) and PARENTS[0] == -1
    assert JOINT_NAMES[PARENTS[JOINT_INDEX["left_wrist"]]] == "left_elbow"
    assert JOINT_NAMES[PARENTS[JOINT_INDEX["head"]]] == "neck"
    assert children()[JOINT_INDEX["spine3"]] == [12, 13, 14]
    assert JOINT_NAMES[MIRROR[JOINT_INDEX["left_knee"]]] == "right_knee"
    assert MIRROR[JOINT_INDEX["spine2"]] == JOINT_INDEX["spine2"]
    assert all(MIRROR[MIRROR[j]] == j for j in range(24))


def test_fk_of_a_hand_computed_chain():
    parents = (-1, 0, 1)
    rest = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
    quarter_z = rot.axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2]))
    local = np.stack([np.eye(3), quarter_z, np.eye(3)])
    world, joints = forward_kinematics(local, rest, np.array([0.5, 0.0, 0.0]), parents=parents)
    # Joint 1 turns 90 deg about z: the child offset (0, 1, 0) becomes (-1, 0, 0).
    np.testing.assert_allclose(joints, [[0.5, 0, 0], [0.5, 1, 0], [-0.5, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(world[2], quarter_z, atol=1e-12)


def test_fk_elbow_bend_on_the_smpl_tree():
    rest = RNG.normal(size=(24, 3)) * 0.3
    local = np.broadcast_to(np.eye(3), (24, 3, 3)).copy()
    elbow, wrist = JOINT_INDEX["left_elbow"], JOINT_INDEX["left_wrist"]
    local[elbow] = rot.axis_angle_to_matrix(np.array([0.0, np.pi, 0.0]))  # fold back
    _, joints = forward_kinematics(local, rest)
    expected_wrist = rest[elbow] + np.array([-1.0, 1.0, -1.0]) * (rest[wrist] - rest[elbow])
    np.testing.assert_allclose(joints[wrist], expected_wrist, atol=1e-12)
    untouched = [j for j in range(24) if j not in (wrist, JOINT_INDEX["left_hand"])]
    np.testing.assert_allclose(joints[untouched], rest[untouched], atol=1e-12)


def test_fk_matches_smplx_rigid_transform_numpy_and_torch():
    from smplx.lbs import batch_rigid_transform

    batch = 5
    rest = RNG.normal(size=(batch, 24, 3)) * 0.4
    local = rot.axis_angle_to_matrix(random_axis_angle(batch, 24))
    _, ours = forward_kinematics(local, rest)
    posed, _ = batch_rigid_transform(
        torch.tensor(local), torch.tensor(rest), torch.tensor(PARENTS).long(), dtype=torch.float64
    )
    np.testing.assert_allclose(ours, posed.numpy(), atol=1e-10)
    _, ours_torch = forward_kinematics(torch.tensor(local), torch.tensor(rest))
    np.testing.assert_allclose(ours_torch.numpy(), ours, atol=1e-12)


def test_fk_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"local_rotations must be \(\.\.\., 24, 3, 3\)"):
        forward_kinematics(np.zeros((22, 3, 3)), np.zeros((24, 3)))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_rotation_round_trips_agree_with_scipy(backend):
    aa = random_axis_angle(200)
    aa[:3] = [[0, 0, 0], [1e-9, 0, 0], [np.pi - 1e-7, 0, 0]]  # zero, tiny, almost pi
    x = torch.tensor(aa) if backend == "torch" else aa
    as_np = (lambda t: t.numpy()) if backend == "torch" else (lambda t: t)
    matrix = rot.axis_angle_to_matrix(x)
    np.testing.assert_allclose(as_np(matrix), Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)
    q = rot.matrix_to_quaternion(matrix)
    scipy_q = Rotation.from_rotvec(aa).as_quat()[:, [3, 0, 1, 2]]
    scipy_q *= np.sign(scipy_q[:, :1] + 1e-300)
    np.testing.assert_allclose(as_np(q), scipy_q, atol=1e-9)
    np.testing.assert_allclose(as_np(rot.quaternion_to_matrix(q)), as_np(matrix), atol=1e-12)
    # Direct conversion keeps w's sign (angles above pi give w < 0): same rotation as +-q.
    direct = as_np(rot.axis_angle_to_quaternion(x))
    np.testing.assert_allclose(np.abs((direct * scipy_q).sum(-1)), 1.0, atol=1e-9)
    back = rot.matrix_to_axis_angle(matrix)
    np.testing.assert_allclose(as_np(rot.axis_angle_to_matrix(back)), as_np(matrix), atol=1e-9)
    six = rot.matrix_to_rotation_6d(matrix)
    assert six.shape == (200, 6)
    np.testing.assert_allclose(as_np(rot.rotation_6d_to_matrix(six)), as_np(matrix), atol=1e-12)


def test_noisy_6d_still_decodes_to_rotations():
    noisy = RNG.normal(size=(1000, 6))
    matrix = rot.rotation_6d_to_matrix(noisy)
    np.testing.assert_allclose(matrix @ np.swapaxes(matrix, -1, -2), np.broadcast_to(np.eye(3), matrix.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(matrix), 1.0, atol=1e-12)


def test_quaternion_continuity_removes_sign_jumps():
    q = rot.axis_angle_to_quaternion(np.linspace([0, 0, 0], [0, 0, 6.0], 50))
    q[::3] *= -1
    smooth = rot.quaternion_continuity(q)
    assert ((smooth[1:] * smooth[:-1]).sum(-1) > 0).all()
    np.testing.assert_allclose(rot.quaternion_to_matrix(smooth), rot.quaternion_to_matrix(q), atol=1e-12)


def test_y_up_to_z_up_round_trip_and_direction():
    head_up_y = np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(axes.points_y_up_to_z_up(head_up_y), [0, 0, 1], atol=1e-15)
    facing_z = np.array([0.0, 0.0, 1.0])  # SMPL faces +Z in its Y-up frame
    np.testing.assert_allclose(axes.points_y_up_to_z_up(facing_z), [0, -1, 0], atol=1e-15)
    pts = RNG.normal(size=(10, 3))
    np.testing.assert_allclose(axes.points_z_up_to_y_up(axes.points_y_up_to_z_up(pts)), pts, atol=1e-15)


def test_converted_smpl_parameters_pose_the_converted_body():
    rest = RNG.normal(size=(24, 3)) * 0.3
    aa = random_axis_angle(4, 24)
    transl = RNG.normal(size=(4, 3))
    _, joints_y = forward_kinematics(rot.axis_angle_to_matrix(aa), rest, transl)
    aa_z = aa.copy()
    aa_z[:, 0] = axes.global_orient_y_up_to_z_up(aa[:, 0])
    transl_z = axes.transl_y_up_to_z_up(transl, rest[0])
    _, joints_z = forward_kinematics(rot.axis_angle_to_matrix(aa_z), rest, transl_z)
    np.testing.assert_allclose(joints_z, axes.points_y_up_to_z_up(joints_y), atol=1e-12)


def test_rigidly_moved_smpl_parameters_pose_the_moved_body():
    from addon.core.smpl_transform import transform_smpl

    rest = RNG.normal(size=(24, 3)) * 0.3
    aa = random_axis_angle(3, 24)
    transl = RNG.normal(size=(3, 3))
    R = Rotation.random(random_state=9).as_matrix()
    t = np.array([0.4, -1.2, 2.0])
    _, before = forward_kinematics(rot.axis_angle_to_matrix(aa), rest, transl)
    orient, moved = transform_smpl(aa[:, 0], transl, rest[0], R, t)
    aa_moved = aa.copy()
    aa_moved[:, 0] = orient
    _, after = forward_kinematics(rot.axis_angle_to_matrix(aa_moved), rest, moved)
    np.testing.assert_allclose(after, before @ R.T + t, atol=1e-12)
