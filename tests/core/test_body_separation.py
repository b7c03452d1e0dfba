"""Bodies kept apart during sampling: torch closest points, the capsule push, its spread over time, the wrapper."""

import numpy as np
import pytest
import torch

from addon.core.body.model import load_body_model
from addon.core.demo_motion import waving_motion
from addon.core.diffusion.body_separation import (
    SPREAD_FRAMES,
    _floor_direction,
    _floor_distance,
    body_push,
    closest_points,
    deepest_overlap,
    keep_bodies_apart,
    separating_shift,
    spread_over_time,
)
from addon.core.eval.geometry import BONE_CHILDREN, BONE_PARENTS, BONE_RADII, segment_distance
from addon.core.eval.physical import FOREARM_CHILDREN, PENETRATION_TOLERANCE_M, penetration_depths
from addon.core.motion.decode import generated_joints
from addon.core.motion.representation import FEATURE_DIM, LOCAL_ROTATIONS, POSITIONS, encode_motion, features_to_joints
from addon.core.rotations import axis_angle_to_matrix

REST = np.asarray(load_body_model(None).rest_joints(), dtype=np.float64)
UPRIGHT = REST[:22] @ np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]).T  # template Y-up -> Z-up, facing -y
STANDING = UPRIGHT - [0.0, 0.0, UPRIGHT[:, 2].min() - 0.03]  # (22, 3) rest pose, feet on the floor


def pair_of(first: np.ndarray, second: np.ndarray) -> torch.Tensor:
    """Two persons' (T, 22, 3) joints -> (B=1, P=2, T, 22, 3) float64."""
    return torch.as_tensor(np.stack([first, second])[None], dtype=torch.float64)


def moved(joints: torch.Tensor, push: torch.Tensor) -> np.ndarray:
    """(1, P, T, 22, 3) joints shifted by (1, P, T, 2) -> (P, T, 22, 3) numpy."""
    out = joints.clone()
    out[..., :2] += push[..., None, :]
    return out[0].numpy()


def waving_joints() -> np.ndarray:
    """(T, 22, 3) joints of a moving person (the demo's wave), metres."""
    return features_to_joints(encode_motion(waving_motion(seconds=2.0, fps=10.0), REST).astype(np.float64))


def test_closest_points_match_the_numpy_segment_distance():
    rng = np.random.default_rng(0)
    p1, q1, p2, q2 = (rng.normal(size=(500, 3)) for _ in range(4))
    # Parallel (some overlapping along the line, some not), collinear, and degenerate ones.
    q2[:100] = p2[:100] + 0.7 * (q1[:100] - p1[:100])
    p2[100:150] = p1[100:150] + rng.uniform(-1, 2, (50, 1)) * (q1[100:150] - p1[100:150])
    q2[100:150] = p1[100:150] + rng.uniform(-1, 2, (50, 1)) * (q1[100:150] - p1[100:150])
    q1[150:200] = p1[150:200]  # first is a point
    q2[200:250] = p2[200:250]  # second is a point
    q1[250:300], q2[250:300] = p1[250:300], p2[250:300]  # both points
    found = closest_points(*(torch.as_tensor(v) for v in (p1, q1, p2, q2)))
    np.testing.assert_allclose(found.distance.numpy(), segment_distance(p1, q1, p2, q2), atol=1e-9)
    np.testing.assert_allclose((found.first - found.second).norm(dim=-1).numpy(), found.distance.numpy(), atol=1e-12)
    for point, start, end in ((found.first.numpy(), p1, q1), (found.second.numpy(), p2, q2)):
        np.testing.assert_allclose(segment_distance(start, end, point, point), 0.0, atol=1e-9)  # on its segment
    crossing = closest_points(*(torch.tensor(v, dtype=torch.float32) for v in
                                ([-1.0, 0, 0], [1.0, 0, 0], [0.3, -1, 0.5], [0.3, 1, 0.5])))
    np.testing.assert_allclose(crossing.first.numpy(), [0.3, 0, 0], atol=1e-6)
    np.testing.assert_allclose(crossing.second.numpy(), [0.3, 0, 0.5], atol=1e-6)
    assert abs(float(crossing.distance) - 0.5) < 1e-6


def test_one_push_parts_two_bodies_standing_inside_each_other():
    behind = STANDING + [0.0, 0.1, 0.0]  # torsos 0.1 m apart front to back: 0.1 m deep
    joints = pair_of(STANDING[None], behind[None])
    assert penetration_depths(joints[0].numpy()).max() > 0.09
    push = body_push(joints, torch.ones(1, 2, dtype=torch.bool), margin_m=0.02)
    np.testing.assert_allclose(push[0, 0, 0].numpy(), -push[0, 1, 0].numpy(), atol=1e-12)  # half each, opposite
    assert push[0, 1, 0, 1] > 0.05 and abs(float(push[0, 1, 0, 0])) < 1e-3  # the one behind moves back
    depth = penetration_depths(moved(joints, push)).max()
    assert -0.021 < depth < -0.015  # resolved to about the margin (the spine leans, the push is level)


def test_rounds_part_moving_bodies_facing_each_other():
    wave = waving_joints()
    turn = axis_angle_to_matrix(np.array([0.0, 0.0, np.pi]))  # about z: face the other way
    pelvis = wave[:1, :1]
    facing = (wave - pelvis) @ turn.T + pelvis + [0.12, 0.08, 0.0]
    joints = pair_of(wave, facing)
    assert (penetration_depths(joints[0].numpy()) > PENETRATION_TOLERANCE_M).all()
    push = separating_shift(joints, torch.ones(1, 2, dtype=torch.bool))
    assert penetration_depths(moved(joints, push)).max() <= PENETRATION_TOLERANCE_M


def test_persons_apart_and_padded_persons_get_no_push():
    far = STANDING + [3.0, 0.0, 0.0]
    assert not body_push(pair_of(STANDING[None], far[None]), torch.ones(1, 2, dtype=torch.bool)).any()
    inside = STANDING + [0.05, 0.0, 0.0]
    joints = torch.as_tensor(np.stack([STANDING, inside, far])[None, :, None], dtype=torch.float64)  # (1, 3, 1, 22, 3)
    assert not body_push(joints, torch.tensor([[True, False, True]])).any()
    both = body_push(joints, torch.tensor([[True, True, False]]))
    assert both[0, :2].abs().sum() > 0.1 and not both[0, 2].any()
    # A third person overlapping both others: its pushes from the two pairs add up.
    three = torch.as_tensor(np.stack([STANDING - [0, 0.1, 0], STANDING, STANDING + [0, 0.1, 0]])[None, :, None])
    push = body_push(three, torch.ones(1, 3, dtype=torch.bool), margin_m=0.0)[0, :, 0]
    np.testing.assert_allclose(push[:, 1].numpy(), [-0.05, 0.0, 0.05], atol=0.003)  # the middle: both ways
    assert abs(float(push[1, 1])) < 1e-9


def test_spread_keeps_the_peak_and_eases_in_and_out():
    T, peak = 60, torch.tensor([0.12, -0.16])  # |peak| = 0.2 m
    push = torch.zeros(1, 2, T, 2)
    push[0, 0, 30:33] = peak  # needed in three frames
    push[0, 1, 0] = -peak  # at the very first frame
    spread = spread_over_time(push)
    np.testing.assert_allclose(spread[0, 0, 30:33].numpy(), np.tile(peak.numpy(), (3, 1)), atol=1e-6)  # in full
    np.testing.assert_allclose(spread[0, 1, 0].numpy(), -peak.numpy(), atol=1e-6)
    step = spread[0].diff(dim=1).norm(dim=-1)
    assert step.max() <= 0.2 / SPREAD_FRAMES + 1e-6  # planted feet do not slide
    assert not spread[0, 0, : 30 - SPREAD_FRAMES].any() and not spread[0, 0, 33 + SPREAD_FRAMES:].any()
    assert spread[0, 0, 25].norm() > 0.0  # eases in before it is needed
    assert torch.equal(spread_over_time(push[:, :, :1]), push[:, :, :1])


def test_the_wrapper_moves_positions_only_and_leaves_one_person_alone():
    T = 12
    mean, std = np.zeros(FEATURE_DIM, np.float32), np.full(FEATURE_DIM, 2.0, np.float32)
    x0 = torch.zeros(1, 2, T, FEATURE_DIM)
    x0[0, 0, :, POSITIONS] = torch.as_tensor(STANDING.reshape(66), dtype=torch.float32) / 2.0
    x0[0, 1, :, POSITIONS] = torch.as_tensor((STANDING + [0.0, 0.1, 0.0]).reshape(66), dtype=torch.float32) / 2.0
    x0[..., LOCAL_ROTATIONS] = torch.randn(1, 2, T, 126, generator=torch.Generator().manual_seed(0))
    out = keep_bodies_apart(lambda x, t: x0, mean, std, torch.ones(1, 2, dtype=torch.bool))(None, None)
    assert torch.equal(out[..., LOCAL_ROTATIONS], x0[..., LOCAL_ROTATIONS])
    assert torch.equal(out[..., 66:], x0[..., 66:])  # velocities and rotations
    joints = (out[0, :, :, POSITIONS] * 2.0).reshape(2, T, 22, 3).numpy()
    assert penetration_depths(joints).max() <= PENETRATION_TOLERANCE_M
    np.testing.assert_allclose(joints[..., 2], np.broadcast_to(STANDING[:, 2], (2, T, 22)), atol=1e-6)  # level shifts
    single = keep_bodies_apart(lambda x, t: x0[:, :1], mean, std, torch.ones(1, 1, dtype=torch.bool))
    assert torch.equal(single(None, None), x0[:, :1])
    padded = keep_bodies_apart(lambda x, t: x0, mean, std, torch.tensor([[True, False]]))
    assert torch.equal(padded(None, None), x0)


def test_the_broad_phase_loses_no_overlap():
    rng = np.random.default_rng(1)
    wave = waving_joints()
    for offset in rng.uniform(-0.6, 0.6, (6, 2)):
        other = wave[::-1] + [offset[0], offset[1], 0.0]  # the wave backwards, somewhere near
        joints = pair_of(wave, other)
        kept = ~np.isin(BONE_CHILDREN, FOREARM_CHILDREN)
        start_a, start_b, end_a, end_b = (joints[0, p][:, idx] for p, idx in
                                          ((0, BONE_PARENTS[kept]), (1, BONE_PARENTS[kept]),
                                           (0, BONE_CHILDREN[kept]), (1, BONE_CHILDREN[kept])))
        depth, _ = deepest_overlap(start_a, end_a, start_b, end_b, torch.as_tensor(BONE_RADII[kept]), 0.05)
        expected = penetration_depths(joints[0].numpy())[0]
        near = expected > -0.05
        np.testing.assert_allclose(depth.numpy()[near], expected[near], atol=1e-9)
        assert np.all(depth.numpy()[~near] <= -0.05 + 1e-9)


def test_the_wrapper_parts_the_decoded_bodies_and_ignores_padded_frames():
    motion = waving_motion(seconds=2.0, fps=10.0)
    features = encode_motion(motion, REST).astype(np.float64)  # (T, 264)
    T = len(features)
    narrow = features.copy()
    hips = narrow[:, 3:9].reshape(T, 2, 3)
    hips[:] = narrow[:, None, 0:3] + 0.2 * (hips - narrow[:, None, 0:3])  # the model's too-narrow hips
    narrow[:, 3:9] = hips.reshape(T, 6)
    other = narrow.copy()
    other[:, 0:66:3] += 0.15  # the second person 15 cm along x: inside the first
    x0 = torch.as_tensor(np.stack([narrow, other])[None], dtype=torch.float32)
    mean, std = np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM)
    valid = torch.ones(1, 2, dtype=torch.bool)
    # Margin 0: parted on the predicted positions, the decoded bodies would still overlap by ~3 cm.
    out = keep_bodies_apart(lambda x, t: x0, mean, std, valid, margin_m=0.0, rest_joints=REST)(None, None)
    out = out[0].double().numpy()
    assert penetration_depths(generated_joints(out, REST)).max() <= 1e-3
    assert np.array_equal(out[..., 66:], x0[0, ..., 66:].double().numpy())
    # Overlapping only in frames that are padding: nothing moves.
    apart = x0.clone()
    apart[0, 1, :, 0:66:3] += 2.0
    apart[0, 1, T - 4:, 0:66:3] -= 2.0  # back inside the first person, in the padded frames
    frames = torch.ones(1, T, dtype=torch.bool)
    frames[0, T - 4:] = False
    padded = keep_bodies_apart(lambda x, t: apart, mean, std, valid, rest_joints=REST, frames_valid=frames)
    assert torch.equal(padded(None, None), apart)


def test_shallow_overlaps_part_along_the_closest_points_deep_ones_along_the_pelvises():
    gap = torch.tensor([[0.0, 0.12, 0.0],  # b's arm 12 cm behind a's spine, 2.5 cm into it
                        [0.01, 0.0, 0.0],  # bones crossing, 15 cm deep
                        [0.0, 0.0, 0.15],  # one above the other
                        [0.01, 0.0, 0.0]])
    depth = torch.tensor([0.025, 0.15, 0.05, 0.15])
    pelvis = torch.tensor([[0.0, -0.3], [0.0, -0.3], [0.0, -0.3], [0.0, 0.0]])
    direction, shallow = _floor_direction(gap, depth, pelvis)
    np.testing.assert_allclose(direction.numpy(), [[0, 1], [0, -1], [0, -1], [-1, 0]], atol=1e-6)
    assert shallow[:, 0].tolist() == [True, False, False, False]


def test_a_steep_overlap_parts_by_what_opens_it_in_the_floor_plane_not_by_its_depth():
    # Closest points 5 cm apart, capsule radii summing to 8 cm: 3 cm deep. Level, moving 3 cm
    # apart opens it; 4 cm above one another (3 cm across), the floor-plane offset has to grow
    # from 3 cm to sqrt(8² - 4²) = 6.93 cm.
    gap = torch.tensor([[0.05, 0.0, 0.0], [0.03, 0.0, 0.04], [0.03, 0.0, 0.04]], dtype=torch.float64)
    depth = torch.full((3,), 0.03, dtype=torch.float64)
    shallow = torch.tensor([[True], [True], [False]])
    distance = _floor_distance(gap, depth, 0.0, shallow)
    np.testing.assert_allclose(distance.numpy(), [0.03, np.sqrt(0.08**2 - 0.04**2) - 0.03, 0.03], atol=1e-12)
    moved_gap = gap[1] + torch.tensor([float(distance[1]), 0.0, 0.0], dtype=torch.float64)
    assert float(moved_gap.norm()) == pytest.approx(0.08)  # just touching afterwards
    assert float(_floor_distance(gap, torch.full((3,), -0.5, dtype=torch.float64), 0.0, shallow).abs().max()) == 0.0


def test_along_pelvis_pushes_part_even_shallow_overlaps_along_the_pelvises():
    # b 40 cm to a's side (x), rest poses: their outstretched arms overlap. Along the pelvises
    # every push is in x only, a away from b.
    a = STANDING.copy()
    b = STANDING + [0.40, 0.0, 0.0]
    joints = pair_of(a[None], b[None])
    valid = torch.ones(1, 2, dtype=torch.bool)
    pelvis = body_push(joints, valid, along_pelvis=True)
    assert float(pelvis.norm(dim=-1).max()) > 0
    assert float(pelvis[0, 0, 0, 1].abs()) < 1e-9 and float(pelvis[0, 0, 0, 0]) < 0  # a moves -x, away from b
    assert float(pelvis[0, 1, 0, 0]) > 0


def test_later_rounds_resolve_the_overlaps_earlier_ones_made():
    # The middle person is pushed out of the first and into the third.
    row = np.stack([STANDING, STANDING + [0, 0.03, 0], STANDING + [0, 0.28, 0]])[None, :, None]
    joints = torch.as_tensor(row)  # (1, 3, 1, 22, 3)
    valid = torch.ones(1, 3, dtype=torch.bool)
    once = separating_shift(joints, valid, margin_m=0.0, iterations=1)
    assert penetration_depths(moved(joints, once)).max() > 0.03
    done = separating_shift(joints, valid, margin_m=0.0)
    assert penetration_depths(moved(joints, done)).max() <= PENETRATION_TOLERANCE_M


def test_beside_a_bed_the_person_in_the_open_takes_the_whole_push():
    """An even split would part the pair by pushing the one next to the bed into it (the
    negative control); with the room's height map the other one moves instead."""
    from addon.core.diffusion.keep_out import KEPT_OUT_JOINTS, depth_below_top, escape_map
    from helpers.rooms import room_with_a_bed

    frames = 5
    by_the_bed = np.tile(STANDING + [2.0, 0.86, 0.0], (frames, 1, 1))  # the bed's side is at y = 1
    in_the_open = np.tile(STANDING + [2.0, 0.71, 0.0], (frames, 1, 1))  # 15 cm away: inside each other
    joints = pair_of(by_the_bed, in_the_open)
    valid = torch.ones(1, 2, dtype=torch.bool)
    room = escape_map(room_with_a_bed())
    obstacles = [(torch.as_tensor(room.origin), torch.as_tensor(room.top))]

    def legs_in_the_bed(shift: torch.Tensor) -> bool:
        legs = torch.as_tensor(moved(joints, shift)[:, :, list(KEPT_OUT_JOINTS)])
        return bool(depth_below_top(legs, *obstacles[0])[1].any())

    assert not legs_in_the_bed(torch.zeros(1, 2, frames, 2, dtype=torch.float64))
    even = separating_shift(joints, valid, 0.0)
    shared = separating_shift(joints, valid, 0.0, obstacles=obstacles)
    for shift in (even, shared):
        assert penetration_depths(moved(joints, shift)).max() <= PENETRATION_TOLERANCE_M
    assert legs_in_the_bed(even)
    assert not legs_in_the_bed(shared)
    assert shared[0, 0].abs().max() < 1e-9  # the one by the bed stays where it is
    # No scene: the split is even, as before.
    assert torch.equal(separating_shift(joints, valid, 0.0, obstacles=[None]), even)
