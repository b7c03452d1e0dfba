"""Legs out of the furniture during sampling (core.diffusion.keep_out), on the legs a rig will show."""

import numpy as np
import torch

from addon.core.body.model import load_body_model
from addon.core.diffusion.keep_out import KEPT_OUT_JOINTS, escape_map, keep_out
from addon.core.motion.motion import Motion
from addon.core.motion.representation import FEATURE_DIM, LOCAL_ROTATIONS, POSITIONS, encode_motion
from helpers.rooms import room_with_a_bed

REST = load_body_model(None).rest_joints()
T = 6


def standing_at(x: float, y: float) -> np.ndarray:
    """(T, 264) features of a body standing upright with its pelvis over (x, y), feet on the floor."""
    lowest = float(REST[:, 1].min())
    motion = Motion(global_orient=np.tile([np.pi / 2, 0.0, 0.0], (T, 1)), body_pose=np.zeros((T, 23, 3)),
                    transl=np.tile([x, y, -lowest], (T, 1)), betas=np.zeros(10), fps=10.0)
    return encode_motion(motion, REST)


def guided(features: np.ndarray, **kwargs) -> np.ndarray:
    """The keep_out of a model that always predicts ``features`` (P, T, 264), un-normalised."""
    mean, std = np.zeros(FEATURE_DIM, np.float32), np.ones(FEATURE_DIM, np.float32)
    x0 = torch.as_tensor(features[None], dtype=torch.float32)
    model = keep_out(lambda x, t: x0.clone(), mean, std, [escape_map(room_with_a_bed())], **kwargs)
    return model(torch.zeros_like(x0), torch.zeros(1)).numpy()[0]


def test_a_person_standing_in_the_bed_is_moved_out_and_one_beside_it_is_not():
    features = np.stack([standing_at(2.0, 1.5), standing_at(0.5, 3.5)])
    out = guided(features)
    pelvis = out[:, :, 0:2]
    inside = (pelvis[0, :, 0] > 1.0) & (pelvis[0, :, 0] < 3.0) & (pelvis[0, :, 1] > 1.0) & (pelvis[0, :, 1] < 2.0)
    assert not inside.any(), pelvis[0]
    np.testing.assert_allclose(out[1], features[1], atol=1e-6)  # beside the bed: untouched
    np.testing.assert_allclose(out[:, :, LOCAL_ROTATIONS], features[:, :, LOCAL_ROTATIONS], atol=1e-6)


def test_with_the_rest_skeleton_it_is_the_rotations_legs_that_count():
    features = standing_at(2.0, 1.5)[None].copy()
    # Predicted leg positions a metre up (above the bed top): the positions say nothing is inside.
    joints = features[..., POSITIONS].reshape(1, T, 22, 3)
    joints[..., [4, 5, 7, 8, 10, 11], 2] += 1.0
    features[..., POSITIONS] = joints.reshape(1, T, 66)
    np.testing.assert_allclose(guided(features), features, atol=1e-6)
    moved = guided(features, rest_joints=REST)  # the rig's legs stand in the bed: moved out
    assert np.abs(moved[0, :, 0:2] - features[0, :, 0:2]).max() > 0.3


def lying_at(x: float, y: float, height: float) -> np.ndarray:
    """(T, 264) features of a body lying on its back, head towards +x, its pelvis at (x, y, height)."""
    motion = Motion(global_orient=np.tile([0.0, 0.0, -np.pi / 2], (T, 1)), body_pose=np.zeros((T, 23, 3)),
                    transl=np.tile([x, y, height] - REST[0], (T, 1)), betas=np.zeros(10), fps=10.0)
    return encode_motion(motion, REST)


def test_a_body_fallen_into_the_bed_is_moved_out_and_one_lying_on_it_is_not():
    # The bed spans x 1-3: lying with the pelvis just inside its end, the legs are off it.
    on_top, fallen_in = lying_at(1.1, 1.5, 0.62), lying_at(1.1, 1.5, 0.3)
    joints = fallen_in[:, POSITIONS].reshape(T, 22, 3)
    assert joints[:, [4, 5, 7, 8, 10, 11], 0].max() < 1.0 and joints[:, [0, 3, 6, 9, 12, 15], 0].min() > 1.0
    assert set(KEPT_OUT_JOINTS) >= {0, 3, 6, 9, 12, 15}
    np.testing.assert_allclose(guided(on_top[None], rest_joints=REST), on_top[None], atol=1e-6)
    trunk = [0, 3, 6, 9, 12, 15]  # pelvis, spine, neck, head (the arms may rest on a bed)
    moved = guided(fallen_in[None], rest_joints=REST)[0, :, POSITIONS].reshape(T, 22, 3)[:, trunk]
    over_the_bed = (moved[..., 0] > 1.0) & (moved[..., 0] < 3.0) & (moved[..., 1] > 1.0) & (moved[..., 1] < 2.0)
    assert not (over_the_bed & (moved[..., 2] < 0.5 - 0.05)).any()


def test_every_blocked_cell_escapes_to_a_nearest_free_cell_plus_the_margin():
    from addon.core.diffusion.keep_out import LOW_OBSTACLE_M, MARGIN_M
    from addon.core.placement import CELL_M

    emap = escape_map(room_with_a_bed())
    blocked = emap.top > LOW_OBSTACLE_M
    centres = (np.stack(np.meshgrid(*(np.arange(n) for n in blocked.shape), indexing="ij"), -1) + 0.5) * CELL_M
    free = centres[~blocked]
    nearest = np.sqrt(((centres[blocked][:, None] - free[None]) ** 2).sum(-1)).min(axis=1)  # brute force
    escape = emap.escape[blocked]
    np.testing.assert_allclose(np.linalg.norm(escape, axis=-1), nearest + MARGIN_M, atol=1e-9)
    # ... and lands on a free cell (the margin carries it on along the same line).
    landing = centres[blocked] + escape * (nearest / (nearest + MARGIN_M))[:, None]
    index = np.floor(landing / CELL_M + 1e-9).astype(int)
    assert not blocked[index[:, 0], index[:, 1]].any()
    assert not emap.escape[~blocked].any()
