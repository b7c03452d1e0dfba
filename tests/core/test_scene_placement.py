"""The model's room frame and free-floor placement of generated people."""

import math

import numpy as np
import pytest

from addon.core.body.model import load_body_model
from addon.core.data.procedural.rooms import random_room
from addon.core.demo_motion import waving_motion
from addon.core.generation_plan import world_joints
from addon.core.placement import MIN_BLOCKED_JOINTS, close_gaps, has_floor, height_map, place_on_free_floor
from addon.core.scene_frame import SceneFrame, canonical_frame, translate_motion


def rz(angle):
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


@pytest.fixture(scope="module")
def room_points():
    room = random_room(np.random.default_rng(4))
    return room, room.scene_points(np.random.default_rng(0)).astype(np.float64)


def test_a_moved_and_turned_room_is_laid_out_like_a_training_room(room_points):
    _, points = room_points
    assert canonical_frame(points).yaw == 0.0  # a training room stays as it is
    np.testing.assert_allclose(canonical_frame(points).offset[:2], points[:, :2].min(0), atol=1e-9)
    turned = points @ rz(math.radians(30)).T + [5.0, -2.0, 0.0]
    frame = canonical_frame(turned)
    back = frame.to_room(turned)
    # The same footprint as the original up to a quarter turn, corner at the origin.
    assert back[:, :2].min(0) == pytest.approx([0, 0], abs=1e-9)
    extents = sorted(back[:, :2].max(0))
    assert extents == pytest.approx(sorted(points[:, :2].max(0) - points[:, :2].min(0)), abs=0.03)
    np.testing.assert_allclose(frame.to_world(back), turned, atol=1e-9)


def test_a_motion_in_the_room_frame_lands_where_its_joints_map_to():
    body = load_body_model(None)
    motion = waving_motion(seconds=0.5, fps=10.0)
    rest = body.rest_joints(motion.betas)
    frame = SceneFrame(yaw=0.7, offset=(1.5, -0.5, 0.0))
    moved = frame.motion_to_world(motion, rest[0])
    np.testing.assert_allclose(world_joints(moved, rest), frame.to_world(world_joints(motion, rest)), atol=1e-9)
    shifted = translate_motion(motion, np.array([0.3, 0.2, 0.0]))
    np.testing.assert_allclose(world_joints(shifted, rest), world_joints(motion, rest) + [0.3, 0.2, 0.0], atol=1e-12)


def standing_joints(body, xy, frames=5):
    motion = waving_motion(position_xy=tuple(xy), seconds=frames / 10.0, fps=10.0)
    return world_joints(motion, body.rest_joints(motion.betas))


def test_a_person_inside_the_bed_is_moved_onto_free_floor_and_a_free_one_is_not(room_points):
    room, points = room_points
    body = load_body_model(None)
    free = room.random_free_point(np.random.default_rng(1))
    other = room.random_free_point(np.random.default_rng(2))
    joints = np.stack([standing_joints(body, free), standing_joints(body, other)])
    assert not place_on_free_floor(joints, points).moved
    in_bed = np.stack([standing_joints(body, (room.bed.cx, room.bed.cy)), standing_joints(body, free)])
    grid = height_map(points)
    assert grid.blocked(in_bed[0, 0]).sum() >= MIN_BLOCKED_JOINTS
    placement = place_on_free_floor(in_bed, points)
    assert placement.moved and placement.blocked_before >= MIN_BLOCKED_JOINTS and placement.blocked_after == 0
    assert not placement.still_inside
    # A room whose floor is all furniture: the best shift still leaves the person inside.
    low, high = points[:, :2].min(0), points[:, :2].max(0)
    tops = np.stack(np.meshgrid(np.arange(low[0], high[0], 0.05), np.arange(low[1], high[1], 0.05), [1.0],
                                indexing="ij"), -1).reshape(-1, 3)
    packed = np.concatenate([points, tops])
    assert place_on_free_floor(in_bed[:1], packed).still_inside
    assert np.linalg.norm(placement.shift) <= 2.5 and placement.shift[2] == 0
    assert grid.blocked(in_bed[:, 0] + placement.shift).sum() == 0


def test_people_lying_anywhere_on_a_sampled_floor_stay_where_the_model_put_them(room_points):
    # A room's 2,048 points put about 25 on each square metre of floor: the gaps between them are
    # floor, not holes out of the room (a patient lying on the floor was moved 0.9 m for them).
    room, points = room_points
    grid, rng = height_map(points), np.random.default_rng(5)
    blocked = []
    while len(blocked) < 40:
        along = np.outer(np.linspace(-0.8, 0.8, 22), [1.0, 0.0] if len(blocked) % 2 else [0.0, 1.0])
        body = room.random_free_point(rng) + along  # (22, 2): a body lying along x or y
        if all(room.is_free(xy, 0.25) for xy in body):  # clear of the tops the map widens by a cell
            blocked.append(int(grid.blocked(np.column_stack([body, np.full(22, 0.1)])).sum()))
    assert sum(blocked) == 0, blocked


def test_closing_fills_gaps_and_keeps_the_outline():
    mask = np.zeros((30, 20), dtype=bool)
    mask[5:25, 4:16] = True
    sparse = mask & (np.random.default_rng(0).random(mask.shape) < 0.3)  # a third of the cells sampled
    closed = close_gaps(sparse, 4)
    assert closed[7:23, 6:14].all()  # the inside is floor again
    assert not closed[:4].any() and not closed[26:].any() and not closed[:, :3].any() and not closed[:, 17:].any()


def test_someone_lying_on_the_bed_is_not_inside_it(room_points):
    room, points = room_points
    lying = np.zeros((1, 1, 22, 3))
    lying[..., 0] = room.bed.cx
    lying[..., 1] = room.bed.cy + np.linspace(-0.8, 0.8, 22)
    lying[..., 2] = room.bed_top + 0.1
    assert not place_on_free_floor(lying, points).moved


def test_floor_detection():
    assert has_floor(np.column_stack([np.random.default_rng(0).uniform(0, 3, (50, 2)), np.zeros(50)]))
    assert not has_floor(np.column_stack([np.random.default_rng(0).uniform(0, 3, (50, 2)), np.ones(50)]))
