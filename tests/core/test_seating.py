"""Sitters onto chairs (core.diffusion.seating) and the pose test it shares with the evaluation (core.motion.sitting).

The sitter is a procedural sit-on-a-chair clip (seated on its chair, as the data set makes it)
moved as the bundled model leaves its sitters: the whole clip turned and put beside the chair,
sitting in mid-air.
"""

import numpy as np
import pytest
import torch

from addon.core.body.model import load_body_model
from addon.core.data.procedural.dataset import make_clip
from addon.core.data.procedural.rooms import heading as room_heading
from addon.core.diffusion.corrections import Corrections
from addon.core.diffusion.seating import (
    ANKLE_AHEAD_M,
    SIT_ABOVE_M,
    SIT_REACH_M,
    chairs_of,
    seat_sitters,
    seated_features,
    seating,
    sitting_persons,
)
from addon.core.eval.physical import foot_skating_ratio, scene_penetration, seated_share
from addon.core.labels import ACTION_INDEX
from addon.core.motion.decode import decoded_pose
from addon.core.motion.representation import FEATURE_DIM, LOCAL_ROTATIONS, POSITIONS, turn_about_vertical
from addon.core.motion.sitting import heading, sitting_frames
from addon.core.skeleton import JOINT_INDEX
from addon.core.time_series import runs
from addon.core.train.features import encode_clip

FPS = 10.0
ANKLES = (JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"])


@pytest.fixture(scope="module")
def sitter():
    """(procedural clip, its features (T, 264) on the stand-in body, rest joints (24, 3))."""
    model = load_body_model(None)
    rest = np.asarray(model.rest_joints(), dtype=np.float64)
    clip = make_clip(2024, "train", 0, model, script="sit_on_chair")
    return clip, encode_clip(clip.clip, rest).features[0].astype(np.float64), rest


def beside(features: np.ndarray, degrees: float = 60.0, away=(0.7, 0.5)) -> np.ndarray:
    """The whole clip turned about its first frame's pelvis and moved ``away`` (m) along the floor."""
    T = len(features)
    moved = turn_about_vertical(features, np.full(T, np.radians(degrees)), np.broadcast_to(features[0, :2], (T, 2)))
    positions = moved[:, POSITIONS].reshape(T, -1, 3)
    positions[..., :2] += away
    moved[:, POSITIONS] = positions.reshape(T, -1)
    return moved


def rig(features: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """(T, 22, 3): the joints the decode keys (planted feet held)."""
    return decoded_pose(features, rest, FPS)[2]


def test_chairs_are_found_where_the_procedural_room_puts_them(sitter):
    clip, _, _ = sitter
    chairs = chairs_of(clip.clip.scene_points)
    seats = [b for b in clip.boxes if 0.3 <= b[6] <= 0.75 and b[3] * b[4] < 1.0]
    assert len(chairs.top) == len(clip.room.chairs) >= 1
    for middle, top, facing in zip(chairs.middle, chairs.top, chairs.facing):
        box = min(seats, key=lambda b: np.linalg.norm(b[:2] - middle))
        assert np.linalg.norm(box[:2] - middle) < 0.06  # 0.04 median over 93 test-scene chairs
        assert abs(top - box[6]) < 0.03
        seat = min(clip.room.chairs, key=lambda s: np.hypot(*(np.asarray(s.xy) - middle)))
        # The room's seats face their yaw's heading, away from the backrest.
        way = heading_of_seat(seat.yaw)
        assert abs((facing - way + np.pi) % (2 * np.pi) - np.pi) < np.radians(15)


def heading_of_seat(yaw: float) -> float:
    """The way a sitter on a procedural seat of ``yaw`` faces (rooms.heading's convention)."""
    direction = room_heading(yaw)
    return float(np.arctan2(direction[1], direction[0]))


def test_beds_are_not_chairs():
    floor = np.stack(np.meshgrid(np.arange(0, 4.01, 0.05), np.arange(0, 4.01, 0.05), [0.0], indexing="ij"), -1)
    bed = np.stack(np.meshgrid(np.arange(1, 3.01, 0.05), np.arange(1, 2.01, 0.05), [0.5], indexing="ij"), -1)
    assert len(chairs_of(np.concatenate([floor.reshape(-1, 3), bed.reshape(-1, 3)])).top) == 0


def test_the_procedural_sitter_sits_on_its_chair(sitter):
    clip, features, rest = sitter
    joints = rig(features, rest)[None]
    sits = sitting_frames(joints)[0]
    labels = clip.clip.motions[0].labels
    assert sits[labels == ACTION_INDEX["sit"]].all()
    assert not sits[labels == ACTION_INDEX["walk"]].any()
    assert seated_share(joints, clip.boxes) > 0.9  # 0.93: the last frames of sitting down are over the front edge


def test_a_sitter_beside_the_chair_is_seated_on_it_without_sliding_feet(sitter):
    clip, features, rest = sitter
    displaced = beside(features)
    before = rig(displaced, rest)
    assert seated_share(before[None], clip.boxes) == 0.0
    move = seating(before, chairs_of(clip.clip.scene_points), FPS)
    assert move is not None
    after_features = seated_features(displaced, move, rest)
    after = rig(after_features, rest)
    assert seated_share(after[None], clip.boxes) > 0.9
    assert foot_skating_ratio(after[None], FPS) <= foot_skating_ratio(before[None], FPS) + 0.01
    assert scene_penetration(after[None], clip.boxes)["frames_fraction"] < 0.05
    held = move.weight == 1.0
    # Seated, the pelvis is SIT_ABOVE_M over the seat, the ankles still, on the floor ahead of it.
    np.testing.assert_allclose(after[held, 0, 2], move.place[2], atol=0.02)
    assert np.abs(np.diff(after[held][:, ANKLES], axis=0)).max() < 0.005
    ahead = np.array([np.cos(move.facing), np.sin(move.facing)])
    reach = (after[held][:, ANKLES, :2].mean(axis=1) - move.place[:2]) @ ahead
    np.testing.assert_allclose(reach, ANKLE_AHEAD_M, atol=0.05)
    assert after[held][:, ANKLES, 2].max() < 0.15
    # Facing the way the chair faces.
    error = (heading(after[held]) - move.facing + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(error).max() < np.radians(10)
    chairs = chairs_of(clip.clip.scene_points)
    chair = np.linalg.norm(chairs.middle - move.place[:2], axis=-1).argmin()
    assert move.place[2] == pytest.approx(chairs.top[chair] + SIT_ABOVE_M)


def test_outside_the_sitting_the_clip_only_moves_rigidly(sitter):
    clip, features, rest = sitter
    displaced = beside(features)
    move = seating(rig(displaced, rest), chairs_of(clip.clip.scene_points), FPS)
    after = seated_features(displaced, move, rest)
    free = move.weight == 0
    assert free.sum() > 10
    expected = (displaced[free, POSITIONS].reshape(-1, 22, 3)[..., :2] + move.shift - move.pivot)
    cos, sin = np.cos(move.turn), np.sin(move.turn)
    expected = np.stack([cos * expected[..., 0] - sin * expected[..., 1],
                         sin * expected[..., 0] + cos * expected[..., 1]], axis=-1) + move.pivot
    moved = after[free, POSITIONS].reshape(-1, 22, 3)
    np.testing.assert_allclose(moved[..., :2], expected, atol=1e-9)
    np.testing.assert_allclose(moved[..., 2], displaced[free, POSITIONS].reshape(-1, 22, 3)[..., 2], atol=1e-9)
    np.testing.assert_allclose(after[free, LOCAL_ROTATIONS], displaced[free, LOCAL_ROTATIONS], atol=1e-9)
    # The walk to the chair stays in the room and out of the furniture.
    grid = chairs_of(clip.clip.scene_points).grid
    shifted_only = rig(displaced, rest)[free] + [*move.shift, 0.0]
    assert grid.blocked(rig(after, rest)[free]).sum() <= grid.blocked(shifted_only).sum()


def test_nobody_is_seated_without_a_long_enough_sitting_or_a_chair_in_reach(sitter):
    clip, features, rest = sitter
    chairs = chairs_of(clip.clip.scene_points)
    joints = rig(beside(features), rest)
    sits = sitting_frames(joints[None])[0]
    start, stop = max(runs(sits), key=lambda r: r[1] - r[0])
    standing = joints.copy()
    standing[start:stop] = joints[start - 1]  # never sits
    assert seating(standing, chairs, FPS) is None
    far = rig(beside(features, away=(SIT_REACH_M + 3.0, 0.0)), rest)
    assert seating(far, chairs, FPS) is None


def test_only_rows_and_persons_that_may_sit_are_moved(sitter):
    clip, features, rest = sitter
    displaced = beside(features)
    mean, std = np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM)
    x0 = torch.as_tensor(np.stack([displaced[None], displaced[None]]), dtype=torch.float32)  # (2, 1, T, F)
    chairs = chairs_of(clip.clip.scene_points)
    out = seat_sitters(x0, mean, std, [chairs, chairs], [(True,), None], fps=FPS, rest_joints=rest)
    assert torch.equal(out[1], x0[1])
    assert not torch.allclose(out[0], x0[0])
    assert torch.equal(seat_sitters(x0, mean, std, [chairs, None], [None, (True,)], fps=FPS, rest_joints=rest), x0)
    assert sitting_persons(("patient",)) == (True,)
    assert sitting_persons(("staff",)) == (True,)
    assert sitting_persons(("staff", "patient")) == (False, True)


def test_the_finishing_corrections_seat_sitters_only_when_the_prompt_asks(sitter):
    clip, features, rest = sitter
    mean, std = np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM)
    x0 = torch.as_tensor(beside(features)[None, None], dtype=torch.float32)
    shares = []
    for seated in ([(True,)], [None], None):
        corrections = Corrections.for_scenes(mean, std, torch.ones(1, 1, dtype=torch.bool), [clip.clip.scene_points],
                                             rest_joints=rest, fps=FPS, seated=seated, smoothing_s=0.0)
        finished = corrections.finish(x0)[0, 0].numpy().astype(np.float64)
        shares.append(seated_share(rig(finished, rest)[None], clip.boxes))
    assert shares[0] > 0.9 and shares[1] == shares[2] == 0.0
