"""People on what carries them during sampling (core.diffusion.onto_support): beside the bed onto it, hovering down."""

import numpy as np
import torch

from addon.core.diffusion.onto_support import (
    LIE_ABOVE_M,
    STAND_ABOVE_M,
    _cells,
    onto_support,
    support_map,
    support_moves,
)
from addon.core.motion.decode import decoded_pose
from addon.core.motion.representation import FEATURE_DIM, LOCAL_ROTATIONS, turn_about_vertical
from addon.core.skeleton import JOINT_INDEX
from helpers.poses import LYING, REST, STANDING, features_of, joints_of, lowest_standing_pelvis, motion, turned
from helpers.rooms import room_with_a_bed

BED_X, BED_Y, BED_TOP = (1.0, 3.0), (1.0, 2.0), 0.5  # helpers.rooms.room_with_a_bed
NECK, PELVIS = JOINT_INDEX["neck"], JOINT_INDEX["pelvis"]
# Pelvis, hips, spine, neck, head, knees: what must lie on the bed (the fixture's T-pose arms span
# 1.4 m, wider than the 1 m bed, and its feet may reach past the end).
LIES_ON = [JOINT_INDEX[n] for n in ("pelvis", "left_hip", "right_hip", "spine1", "spine2", "spine3", "neck", "head",
                                     "left_knee", "right_knee")]


def over_bed(joints: np.ndarray) -> np.ndarray:
    """(..., 3) -> (...,) bool: over the bed's footprint."""
    return ((joints[..., 0] > BED_X[0]) & (joints[..., 0] < BED_X[1]) &
            (joints[..., 1] > BED_Y[0]) & (joints[..., 1] < BED_Y[1]))


def room_with_a_chair() -> np.ndarray:
    """A 4 x 4 m floor and a 0.5 x 0.5 m seat 0.45 m high: something to sit on, too small to lie on."""
    floor = np.stack(np.meshgrid(np.arange(0, 4.01, 0.05), np.arange(0, 4.01, 0.05), [0.0], indexing="ij"), -1)
    seat = np.stack(np.meshgrid(np.arange(1, 1.51, 0.05), np.arange(1, 1.51, 0.05), [0.45], indexing="ij"), -1)
    return np.concatenate([floor.reshape(-1, 3), seat.reshape(-1, 3)])


def test_the_map_finds_the_bed_and_its_long_axis_and_no_bed_in_a_room_with_a_chair():
    beds = support_map(room_with_a_bed())
    assert beds.axis[1:].tolist() == [0.0]  # one bed, along x
    assert len(beds.targets) > 0 and over_bed(np.c_[beds.targets, np.zeros(len(beds.targets))]).all()
    inset = np.minimum.reduce([beds.targets[:, 0] - BED_X[0], BED_X[1] - beds.targets[:, 0],
                               beds.targets[:, 1] - BED_Y[0], BED_Y[1] - beds.targets[:, 1]])
    assert inset.min() >= 0.15  # well inside the edge
    assert len(support_map(room_with_a_chair()).targets) == 0


def lying_beside_the_bed(across_it: bool = True, height: float = 0.75) -> np.ndarray:
    """(T, 22, 3) joints of a body lying at mattress height a metre beside the bed, across it."""
    orient = turned(LYING, [0.0, 0.0, 1.0], 90.0) if across_it else LYING  # head towards +y: across the bed
    return joints_of(motion(orient, [2.0, 3.1, height]))


def moved_by(joints: np.ndarray, turn: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """(T, 22, 3) joints turned about their pelvis by ``turn`` (T,) and shifted by ``shift`` (T, 3)."""
    pelvis = joints[:, PELVIS, None]
    cos, sin = np.cos(turn)[:, None], np.sin(turn)[:, None]
    rel = joints - pelvis
    out = np.stack([cos * rel[..., 0] - sin * rel[..., 1], sin * rel[..., 0] + cos * rel[..., 1], rel[..., 2]], -1)
    return out + pelvis + shift[:, None]


def test_a_body_lying_across_beside_the_bed_is_turned_along_it_moved_onto_it_and_laid_on_its_top():
    joints = lying_beside_the_bed()
    assert not over_bed(joints).any()
    turn, shift = support_moves(joints[None], support_map(room_with_a_bed()), in_bed=True, fps=10.0)
    after = moved_by(joints, turn[0], shift[0])
    trunk = after[:, NECK] - after[:, PELVIS]
    assert np.abs(trunk[:, 1]).max() < 0.02  # along the bed (x)
    assert over_bed(after[:, LIES_ON]).all() and over_bed(after).mean() > 0.75
    lowest_on_bed = np.where(over_bed(after), after[..., 2], np.inf).min(axis=-1)
    np.testing.assert_allclose(lowest_on_bed, BED_TOP + LIE_ABOVE_M, atol=1e-9)


def test_without_an_in_bed_prompt_nobody_is_moved_across_and_a_body_on_the_floor_stays_in_either_case():
    room = support_map(room_with_a_bed())
    turn, shift = support_moves(lying_beside_the_bed()[None], room, in_bed=False, fps=10.0)
    assert not turn.any() and not shift[..., :2].any()
    # Hovering 0.75 m up with nothing under it, it comes down to the floor.
    after = lying_beside_the_bed()[None] + shift[..., None, :]
    np.testing.assert_allclose(after[..., 2].min(axis=-1), LIE_ABOVE_M, atol=1e-9)
    on_floor = lying_beside_the_bed(height=0.1)
    assert 0.0 < on_floor[..., 2].min() < LIE_ABOVE_M
    turn, shift = support_moves(on_floor[None], room, in_bed=True, fps=10.0)
    assert not turn.any() and not shift.any()
    # Fallen half under the bed's edge (the trunk over its footprint, at floor level): not lifted onto it.
    under_the_edge = joints_of(motion(LYING, [1.6, 1.2, 0.1]))
    assert over_bed(under_the_edge[:, [0, 3, 6, 9, 12]].mean(axis=1)).all()
    turn, shift = support_moves(under_the_edge[None], room, in_bed=False, fps=10.0)
    assert (shift[..., 2] <= 0.0).all() and not shift[..., :2].any()


def test_people_standing_or_walking_come_down_to_the_floor_but_sitters_do_not():
    room = support_map(room_with_a_bed())
    height = lowest_standing_pelvis()
    hovering = joints_of(motion(STANDING, [0.5, 3.0, height + 0.2], frames=30))
    turn, shift = support_moves(hovering[None], room, in_bed=False, fps=10.0)
    assert not turn.any()
    np.testing.assert_allclose((hovering + shift[0, :, None])[..., 2].min(axis=-1), STAND_ABOVE_M, atol=1e-6)
    path = np.c_[np.linspace(0.3, 3.3, 30), np.full(30, 3.0), np.full(30, height + 0.2)]  # 1 m/s at 10 fps
    walking = joints_of(motion(STANDING, path, frames=30))
    turn, shift = support_moves(walking[None], room, in_bed=False, fps=10.0)
    assert not turn.any() and not shift[..., :2].any()
    np.testing.assert_allclose((walking + shift[0, :, None])[..., 2].min(axis=-1), STAND_ABOVE_M, atol=1e-6)
    # A walker's swinging foot keeps its height above the stance foot's floor: the lowest over a
    # second either side decides, so a step up the lowest frame's height does not take it down.
    stepping = walking.copy()
    stepping[::4, :, 2] -= 0.1  # every 4th frame 10 cm lower (a stance frame)
    shift = support_moves(stepping[None], room, in_bed=False, fps=10.0)[1]
    np.testing.assert_allclose(shift[0, :, 2], shift[0, 0, 2], atol=1e-9)
    # Sitting on the bed's edge: the pelvis is over the bed, the feet off the floor.
    pose = np.zeros((23, 3))
    pose[JOINT_INDEX["left_hip"] - 1] = pose[JOINT_INDEX["right_hip"] - 1] = [-np.pi / 2, 0.0, 0.0]
    sitting = joints_of(motion(STANDING, [2.0, 1.9, BED_TOP + 0.12], frames=30, body_pose=pose))
    assert sitting[..., 2].min() > 0.1 and over_bed(sitting[:, PELVIS]).all()
    assert not support_moves(sitting[None], room, in_bed=True, fps=10.0)[1].any()


def test_one_hovering_beside_the_bed_leaning_over_it_comes_down_and_one_kneeling_on_it_does_not():
    room = support_map(room_with_a_bed())
    height = lowest_standing_pelvis()
    # At the bed's long side (y = 1), facing away from it, the pelvis over the bed's cells in the
    # height map (which closes a 10 cm gap) and the feet 12 cm beyond its edge, the whole body
    # 15 cm in the air: the pelvis is 0.6 m over the mattress, not sitting on it.
    leaning = joints_of(motion(STANDING, [2.0, 0.98, height + 0.15], frames=30))
    assert (room.top[_cells(leaning[:, PELVIS, :2], room)] == BED_TOP).all()
    assert (leaning[:, [10, 11], 1] < BED_Y[0] - 0.1).all()
    turn, shift = support_moves(leaning[None], room, in_bed=False, fps=10.0)
    np.testing.assert_allclose((leaning + shift[0, :, None])[..., 2].min(axis=-1), STAND_ABOVE_M, atol=1e-6)
    # Upright on the mattress (feet on its top): carried by the bed, left where it is.
    on_the_bed = joints_of(motion(STANDING, [2.0, 1.5, BED_TOP + height + 0.02], frames=30))
    assert over_bed(on_the_bed[:, [10, 11]]).all()
    assert not support_moves(on_the_bed[None], room, in_bed=False, fps=10.0)[1].any()


def test_the_sampling_wrapper_lays_the_decoded_body_on_the_bed_and_keeps_its_pose():
    features = features_of(motion(turned(LYING, [0.0, 0.0, 1.0], 90.0), [2.0, 3.1, 0.75], frames=30))
    mean, std = np.zeros(FEATURE_DIM, np.float32), np.ones(FEATURE_DIM, np.float32)
    x0 = torch.as_tensor(features[None, None], dtype=torch.float32)
    guided = onto_support(lambda x, t: x0.clone(), mean, std, [support_map(room_with_a_bed())], [True], fps=10.0,
                          rest_joints=REST)
    out = guided(torch.zeros_like(x0), torch.zeros(1)).numpy()[0, 0]
    np.testing.assert_allclose(out[:, LOCAL_ROTATIONS], features[:, LOCAL_ROTATIONS], atol=1e-6)
    joints = decoded_pose(out, REST)[2]
    assert over_bed(joints[:, LIES_ON]).all() and over_bed(joints).mean() > 0.75
    assert np.abs(joints[..., 2].min(axis=-1) - (BED_TOP + LIE_ABOVE_M)).max() < 0.01
    # Nothing to do (no in-bed prompt, a body standing on the floor): the prediction passes unchanged.
    standing = features_of(motion(STANDING, [0.5, 3.0, lowest_standing_pelvis() + 0.02], frames=30))
    x0 = torch.as_tensor(standing[None, None], dtype=torch.float32)
    guided = onto_support(lambda x, t: x0.clone(), mean, std, [support_map(room_with_a_bed())], [False], fps=10.0,
                          rest_joints=REST)
    assert torch.equal(guided(torch.zeros_like(x0), torch.zeros(1)), x0)


def test_turning_features_about_the_vertical_turns_the_body_they_decode_to():
    features = features_of(motion(turned(STANDING, [0.0, 0.0, 1.0], 20.0), [1.0, 2.0, 0.9], frames=4))
    angle, pivot = np.full(4, np.radians(35.0)), np.tile([1.5, 1.0], (4, 1))
    out = turn_about_vertical(features, angle, pivot)
    expected = decoded_pose(features, REST)[2].copy()  # the body as it was, then turned by hand
    c, s = np.cos(angle[0]), np.sin(angle[0])
    rel = expected[..., :2] - pivot[:, None]
    expected[..., :2] = np.stack([c * rel[..., 0] - s * rel[..., 1], s * rel[..., 0] + c * rel[..., 1]], -1)
    expected[..., :2] += pivot[:, None]
    np.testing.assert_allclose(decoded_pose(out, REST)[2], expected, atol=1e-9)
    np.testing.assert_allclose(out[:, LOCAL_ROTATIONS], features[:, LOCAL_ROTATIONS], atol=1e-12)
