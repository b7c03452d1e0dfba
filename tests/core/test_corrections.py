"""The sampling corrections in their order (core.diffusion.corrections), on constant predictions."""

import numpy as np
import torch

from addon.core.diffusion.corrections import Corrections
from addon.core.diffusion.keep_out import INSIDE_TOLERANCE_M
from addon.core.eval.physical import penetration_depths
from addon.core.motion.decode import decoded_pose
from addon.core.motion.representation import FEATURE_DIM
from helpers.poses import LYING, REST, STANDING, features_of, lowest_standing_pelvis, motion, turned
from helpers.rooms import room_with_a_bed

MEAN, STD = np.zeros(FEATURE_DIM, np.float32), np.ones(FEATURE_DIM, np.float32)
TWO = torch.ones(1, 2, dtype=torch.bool)


def run(features: np.ndarray, **kwargs) -> np.ndarray:
    """The corrected output of a model that always predicts ``features`` (P, T, 264)."""
    x0 = torch.as_tensor(features[None], dtype=torch.float32)
    scenes = kwargs.pop("scenes")
    model = Corrections.for_scenes(MEAN, STD, TWO, scenes, rest_joints=REST, fps=10.0, **kwargs).wrap(
        lambda x, t: x0.clone())
    return model(torch.zeros_like(x0), torch.zeros(1)).numpy()[0]


def decoded(features: np.ndarray) -> np.ndarray:
    return np.stack([decoded_pose(person, REST, 10.0)[2] for person in features])


def test_two_people_on_one_spot_are_parted_without_a_scene():
    height = lowest_standing_pelvis()
    features = np.stack([features_of(motion(STANDING, [1.0, 1.0, height], frames=20)),
                         features_of(motion(STANDING, [1.1, 1.0, height], frames=20))])
    joints = decoded(run(features, scenes=None))
    assert np.linalg.norm(joints[0, :, 0, :2] - joints[1, :, 0, :2], axis=-1).min() >= 0.6 - 1e-6
    assert (penetration_depths(joints) <= 0.02).all()


def test_in_a_room_the_patient_lying_beside_the_bed_ends_on_it_and_the_one_standing_by_it_stays_out():
    patient = features_of(motion(turned(LYING, [0.0, 0.0, 1.0], 90.0), [2.0, 3.1, 0.75], frames=20))
    nurse = features_of(motion(STANDING, [0.5, 2.5, lowest_standing_pelvis()], frames=20))
    joints = decoded(run(np.stack([nurse, patient]), scenes=[room_with_a_bed()], in_bed=[True]))
    trunk = joints[1][:, [0, 3, 6, 9, 12, 15]]
    assert ((trunk[..., 0] > 1.0) & (trunk[..., 0] < 3.0) & (trunk[..., 1] > 1.0) & (trunk[..., 1] < 2.0)).all()
    standing_in_bed = (joints[0, :, :, 0] > 1.0) & (joints[0, :, :, 0] < 3.0) & (joints[0, :, :, 1] > 1.0) & \
        (joints[0, :, :, 1] < 2.0) & (joints[0, :, :, 2] < 0.45)
    assert not standing_in_bed.any()
    # The same prompt placed in an action that is not lying in bed: the patient stays beside the bed.
    joints = decoded(run(np.stack([nurse, patient]), scenes=[room_with_a_bed()], in_bed=[False]))
    assert (joints[1][:, 0, 1] > 2.5).all()


def test_finishing_filters_the_shake_and_then_leaves_no_overlap():
    height = lowest_standing_pelvis()
    features = np.stack([features_of(motion(STANDING, [1.0, 1.0, height], frames=20)),
                         features_of(motion(STANDING, [1.15, 1.05, height], frames=20))])
    assert (penetration_depths(decoded(features)) > 0.02).all()
    x0 = torch.as_tensor(features[None], dtype=torch.float32)
    shake = torch.zeros_like(x0)
    shake[:, :, 1::2, :3] = 0.03  # the pelvis jumps 3 cm every other frame
    out = Corrections.for_scenes(MEAN, STD, TWO, None, rest_joints=REST, fps=10.0).finish(x0 + shake).numpy()[0]
    assert (penetration_depths(decoded(out)) <= 0.02).all()
    jumps = np.abs(np.diff(out[:, :, :3], axis=1)).max()
    assert jumps < 0.01  # filtered (a separation push is the same on every frame of a still pair)


def test_finishing_takes_a_leg_that_enters_the_bed_for_a_moment_all_the_way_out():
    # Standing beside the bed (its side at y = 1), stepping into it for four frames: the
    # sampling's push, averaged over two seconds, takes the body only part of the way out.
    one = torch.ones(1, 1, dtype=torch.bool)
    height = lowest_standing_pelvis()
    features = features_of(motion(STANDING, [2.0, 0.75, height], frames=30))[None]
    features[:, 14:18] = features_of(motion(STANDING, [2.0, 1.2, height], frames=4))[None]
    corrections = Corrections.for_scenes(MEAN, STD, one, [room_with_a_bed()], rest_joints=REST, fps=10.0)
    x0 = torch.as_tensor(features[None], dtype=torch.float32)
    sampled = corrections.wrap(lambda x, t: x0.clone())(torch.zeros_like(x0), torch.zeros(1))

    def depth_in_bed(out: torch.Tensor) -> float:  # how far a leg or trunk joint is inside the bed's side, m
        joints = decoded(out.numpy()[0])
        x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
        inside = (x > 1.0) & (x < 3.0) & (y > 1.0) & (y < 2.0) & (z < 0.45)
        return float(np.where(inside, y - 1.0, 0.0).max())

    assert depth_in_bed(x0) > 0.2 and depth_in_bed(sampled) > 0.12
    assert depth_in_bed(corrections.finish(sampled)) <= INSIDE_TOLERANCE_M  # keep_out's own tolerance
