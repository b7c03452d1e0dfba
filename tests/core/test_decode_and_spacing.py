"""Generated features to rigs: the predicted rotations on the pelvis path, grounding, personal space."""

import numpy as np
import torch

from addon.core.body.model import load_body_model
from addon.core.demo_motion import waving_motion
from addon.core.diffusion.spacing import keep_apart, separation, smooth_over_time
from addon.core.motion.decode import decoded_pose, generated_joints, grounding_lift
from addon.core.motion.representation import (
    FEATURE_DIM,
    LOCAL_ROTATIONS,
    POSITIONS,
    encode_motion,
    features_to_joints,
)
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import forward_kinematics
from addon.core.motion.joint_ik import BODY_PARENTS

REST = np.asarray(load_body_model(None).rest_joints(), dtype=np.float64)


def consistent():
    motion = waving_motion(seconds=1.0, fps=10.0)
    features = encode_motion(motion, REST).astype(np.float64)
    rotations = motion.local_rotations()[:, :22]
    return features, rotations, features_to_joints(features)


def fk(rotations, pelvis):
    return forward_kinematics(rotations, REST[:22], pelvis - REST[0], parents=BODY_PARENTS)[1]


def test_the_decode_keys_the_predicted_rotations_on_the_predicted_pelvis_whatever_the_other_positions_say():
    features, rotations, joints = consistent()
    features[:, 2:66:3] += 0.1  # 10 cm up: no grounding lift anywhere (joints is a view of features)
    rng = np.random.default_rng(0)
    scrambled = features.copy()
    scrambled[:, 3:66] += rng.normal(scale=0.2, size=(len(features), 63))  # every joint but the pelvis
    for x in (features, scrambled):
        decoded, pelvis, shown = decoded_pose(x, REST)
        np.testing.assert_allclose(decoded, rotations, atol=2e-5)  # float32 features
        np.testing.assert_allclose(pelvis, joints[:, 0], atol=1e-6)
        np.testing.assert_allclose(shown, fk(rotations, joints[:, 0]), atol=1e-4)
    moved = features.copy()
    moved[:, 0:66:3] += 1.5  # the pelvis (and the ignored joints) 1.5 m along x: the body follows
    np.testing.assert_allclose(decoded_pose(moved, REST)[2], joints + [1.5, 0, 0], atol=1e-4)


def test_grounding_lifts_sunken_frames_smoothly_and_leaves_the_rest():
    lowest = np.zeros(20)
    lowest[8:11] = [-0.02, -0.05, -0.01]
    lift = grounding_lift(lowest)
    assert np.all(lift >= np.maximum(0, -lowest)) and lift.max() == 0.05
    assert np.all(lift[:4] == 0) and np.all(lift[15:] == 0)
    assert np.abs(np.diff(lift)).max() < 0.05  # eases in and out
    assert not grounding_lift(np.full(5, 0.02)).any()
    features, _, joints = consistent()
    sunk = features.copy()
    sunk[:, 2:66:3] -= 0.1  # the whole body 10 cm into the floor
    _, pelvis, shown = decoded_pose(sunk, REST)
    assert shown[..., 2].min() >= -1e-9
    assert generated_joints(sunk[None], REST).shape == (1, len(sunk), 22, 3)


def test_separation_parts_people_who_stand_too_close():
    pelvis = torch.tensor([[[[0.0, 0.0]], [[0.2, 0.0]], [[3.0, 3.0]]]])  # (B=1, P=3, T=1, 2)
    valid = torch.ones(1, 3, dtype=torch.bool)
    push = separation(pelvis, valid, 0.45)
    np.testing.assert_allclose(push[0, :, 0].numpy(), [[-0.125, 0], [0.125, 0], [0, 0]], atol=1e-6)
    same = torch.zeros(1, 2, 1, 2)
    np.testing.assert_allclose(separation(same, torch.ones(1, 2, dtype=torch.bool), 0.4)[0, :, 0].numpy(),
                               [[-0.2, 0], [0.2, 0]], atol=1e-6)
    padded = separation(pelvis, torch.tensor([[True, False, True]]), 0.45)
    assert not padded.any()


def test_keep_apart_moves_positions_only_and_slowly():
    T = 30
    mean, std = np.zeros(FEATURE_DIM, np.float32), np.full(FEATURE_DIM, 2.0, np.float32)
    x0 = torch.zeros(1, 2, T, FEATURE_DIM)
    x0[0, 1, :, 0] = 0.1 / 2.0  # person 2's pelvis 0.1 m along x (normalised by std 2)
    x0[..., LOCAL_ROTATIONS] = torch.randn(1, 2, T, 126)
    model = keep_apart(lambda x, t: x0, mean, std, torch.ones(1, 2, dtype=torch.bool), min_distance=0.5)
    out = model(None, None)
    assert torch.equal(out[..., LOCAL_ROTATIONS], x0[..., LOCAL_ROTATIONS])
    pelvis_x = out[0, :, :, 0] * 2.0
    np.testing.assert_allclose((pelvis_x[1] - pelvis_x[0]).numpy(), 0.5, atol=1e-5)  # constant push: exact
    single = keep_apart(lambda x, t: x0[:, :1], mean, std, torch.ones(1, 1, dtype=torch.bool))
    assert torch.equal(single(None, None), x0[:, :1])
    step = torch.zeros(1, 1, 20, 2)
    step[:, :, 10:] = 1.0
    smoothed = smooth_over_time(step)
    assert smoothed[..., 0].diff(dim=-1).abs().max() <= 1.0 / 11 + 1e-6
