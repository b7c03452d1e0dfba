"""The 264-D motion features (thesis eq. 5.7 + root 6D): layout, round trips and normalisation, by value."""

import numpy as np
import pytest
import torch

from addon.core import rotations as rot
from addon.core.motion import representation as rep
from addon.core.motion.motion import Motion
from addon.core.motion.representation import (
    FEATURE_DIM,
    NormalizationStats,
    RepresentationError,
    decode_features,
    encode_motion,
    features_to_joints,
    fit_normalization,
    fk_joints_from_features,
)
from addon.core.skeleton import forward_kinematics
from helpers.tiny_smpl import SKELETON_Y_UP

REST = SKELETON_Y_UP


def smooth_motion(seed: int, T: int = 40, fps: float = 30.0, amplitude: float = 0.6) -> Motion:
    """A random but smooth motion: sinusoidal joint angles, a turning upright root, a walk in x/y."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None] / fps
    frequency = rng.uniform(0.3, 1.2, (1, 24, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, 24, 3))
    pose = rng.uniform(-amplitude, amplitude, (1, 24, 3)) * np.sin(2 * np.pi * frequency * t + phase)
    yaw = 0.8 * np.sin(t[:, 0, 0])
    upright = rot.axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))  # Y-up template -> Z-up world
    turn = rot.axis_angle_to_matrix(np.stack([np.zeros(T), np.zeros(T), yaw], -1))
    tilt = rot.axis_angle_to_matrix(pose[:, 0] * 0.2)
    global_orient = rot.matrix_to_axis_angle(turn @ upright @ tilt)
    transl = np.stack([0.6 * t[:, 0, 0], 0.2 * np.sin(t[:, 0, 0]), 0.95 + 0.02 * np.sin(3 * t[:, 0, 0])], -1)
    return Motion(global_orient=global_orient, body_pose=pose[:, 1:], transl=transl, betas=np.zeros(10), fps=fps)


def test_layout_constants():
    assert FEATURE_DIM == 264
    assert (rep.POSITIONS, rep.VELOCITIES) == (slice(0, 66), slice(66, 132))
    assert (rep.LOCAL_ROTATIONS, rep.ROOT_ORIENTATION) == (slice(132, 258), slice(258, 264))


def test_encode_matches_fk_velocities_and_6d():
    motion = smooth_motion(1)
    x = encode_motion(motion, REST)
    assert x.shape == (40, 264) and x.dtype == np.float32
    local = motion.local_rotations()
    _, joints = forward_kinematics(local, REST, motion.transl)
    np.testing.assert_allclose(features_to_joints(x), joints[:, :22], atol=1e-6)
    velocity = x[:, rep.VELOCITIES].reshape(40, 22, 3)
    np.testing.assert_allclose(velocity[:-1], joints[1:, :22] - joints[:-1, :22], atol=1e-6)
    np.testing.assert_array_equal(velocity[-1], velocity[-2])  # last frame repeats the previous velocity
    # 6D: the first two columns, column by column (Zhou et al.)
    root = x[:, rep.ROOT_ORIENTATION]
    np.testing.assert_allclose(root[:, :3], local[:, 0, :, 0], atol=1e-6)
    np.testing.assert_allclose(root[:, 3:], local[:, 0, :, 1], atol=1e-6)
    elbow = x[:, rep.LOCAL_ROTATIONS].reshape(40, 21, 6)[:, 18 - 1]
    np.testing.assert_allclose(elbow, np.concatenate([local[:, 18, :, 0], local[:, 18, :, 1]], -1), atol=1e-6)
    # A person standing in the Z-up world: the head is above the pelvis.
    assert (features_to_joints(x)[:, 15, 2] > features_to_joints(x)[:, 0, 2] + 0.3).all()


def test_single_frame_has_zero_velocity():
    x = encode_motion(smooth_motion(2, T=1), REST)
    assert x.shape == (1, 264)
    assert not x[:, rep.VELOCITIES].any()


def test_encode_decode_encode_round_trip():
    motion = smooth_motion(3)
    x = encode_motion(motion, REST)
    decoded = decode_features(x, REST, fps=30.0, role="staff", betas=np.ones(10))
    assert (decoded.fps, decoded.role, decoded.num_frames) == (30.0, "staff", 40)
    np.testing.assert_array_equal(decoded.betas, np.ones(10))
    np.testing.assert_allclose(encode_motion(decoded, REST), x, atol=1e-5)
    # The rig is driven by the same rotations; hand joints 22/23 are identity.
    np.testing.assert_allclose(decoded.local_rotations()[:, :22], motion.local_rotations()[:, :22], atol=1e-5)
    assert not decoded.body_pose[:, 21:].any()
    # transl = pelvis - J_0: SMPL rotates about J_0, so the pelvis lands where the features put it.
    np.testing.assert_allclose(decoded.transl, motion.transl, atol=1e-5)


def test_decode_of_noisy_features_gives_proper_rotations():
    x = encode_motion(smooth_motion(4), REST) + np.random.default_rng(0).normal(0, 0.3, (40, 264)).astype(np.float32)
    local = decode_features(x, REST, fps=30.0).local_rotations()
    np.testing.assert_allclose(local @ np.swapaxes(local, -1, -2), np.broadcast_to(np.eye(3), local.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(local), 1.0, atol=1e-9)


def test_fk_joints_from_features_agree_on_ground_truth_not_on_noise():
    x = encode_motion(smooth_motion(5), REST)
    np.testing.assert_allclose(fk_joints_from_features(x.astype(np.float64), REST), features_to_joints(x), atol=1e-5)
    batch = torch.from_numpy(np.stack([x, x]))  # (2, T, 264) float32 tensor
    from_torch = fk_joints_from_features(batch, torch.from_numpy(REST))
    assert isinstance(from_torch, torch.Tensor) and from_torch.shape == (2, 40, 22, 3)
    np.testing.assert_allclose(from_torch.numpy()[1], features_to_joints(x), atol=1e-4)
    noisy = x.copy()
    noisy[:, rep.LOCAL_ROTATIONS] += 0.5
    gap = np.abs(fk_joints_from_features(noisy, REST) - features_to_joints(noisy)).max()
    assert gap > 0.05


def test_normalization_fit_round_trip_and_file(tmp_path):
    rng = np.random.default_rng(6)
    clips = [encode_motion(smooth_motion(s, T=T), REST) for s, T in ((7, 30), (8, 50))]
    stats = fit_normalization(clips, eps=1e-4)
    stacked = np.concatenate(clips).astype(np.float64)
    np.testing.assert_allclose(stats.mean, stacked.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(stats.std, np.maximum(stacked.std(0), 1e-4), rtol=1e-5)
    # A feature that never varies gets std = eps, not 0.
    constant = [np.tile(rng.normal(size=264), (5, 1))]
    assert np.all(fit_normalization(constant, eps=1e-3).std == np.float32(1e-3))

    x = clips[0]
    z = stats.normalize(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(0)[:66], ((x - stats.mean) / stats.std).mean(0)[:66], atol=1e-6)
    np.testing.assert_allclose(stats.denormalize(z), x, atol=1e-5)
    zt = stats.normalize(torch.from_numpy(x))
    assert isinstance(zt, torch.Tensor) and zt.dtype == torch.float32
    np.testing.assert_allclose(zt.numpy(), z, atol=1e-6)
    np.testing.assert_allclose(stats.denormalize(zt).numpy(), x, atol=1e-5)

    path = tmp_path / "stats.npz"
    stats.save(path)
    loaded = NormalizationStats.load(path)
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.std, stats.std)
    with np.load(path, allow_pickle=False) as archive:  # plain arrays, no pickles
        assert sorted(archive.files) == ["mean", "std"]


def test_errors_name_the_argument_file_and_key(tmp_path):
    with pytest.raises(RepresentationError, match="last axis must be 264"):
        decode_features(np.zeros((3, 263)), REST, fps=30.0)
    with pytest.raises(RepresentationError, match=r"rest_joints: expected \(24, 3\)"):
        encode_motion(smooth_motion(9, T=2), REST[:22])
    with pytest.raises(RepresentationError, match="non-finite value at frame 2"):
        x = np.zeros((4, 264))
        x[2, 7] = np.nan
        decode_features(x, REST, fps=30.0)
    with pytest.raises(RepresentationError, match=r"features\[1\] has shape"):
        fit_normalization([np.zeros((3, 264)), np.zeros((3, 262))])
    path = tmp_path / "broken.npz"
    np.savez(path, mean=np.zeros(264))
    with pytest.raises(RepresentationError, match=rf"{path.name}.*missing key\(s\) \['std'\]"):
        NormalizationStats.load(path)
    with pytest.raises(RepresentationError, match="std: must be > 0"):
        NormalizationStats(mean=np.zeros(264), std=np.zeros(264))
