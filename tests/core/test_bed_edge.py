"""Sitters onto a bed's edge (core.diffusion.bed_edge).

The sitters are procedural clips (sitting on the bed's edge, getting out of bed) moved as the
bundled model leaves them: sitting in mid-air beside the bed.
"""

import numpy as np
import pytest
import torch

from addon.core.body.model import load_body_model
from addon.core.data.procedural.dataset import make_clip
from addon.core.diffusion.bed_edge import (
    EDGE_INSIDE_M,
    GROUP_DRIFT_M,
    REACH_M,
    beds_of,
    edge_seating,
    sit_on_bed_edges,
)
from addon.core.diffusion.corrections import Corrections
from addon.core.diffusion.seating import ANKLE_AHEAD_M, SIT_ABOVE_M, seated_features
from addon.core.eval.physical import foot_skating_ratio, seated_share
from addon.core.motion.decode import decoded_pose
from addon.core.motion.level import lying_weight
from addon.core.motion.representation import FEATURE_DIM, LOCAL_ROTATIONS, POSITIONS, VELOCITIES, joint_velocities
from addon.core.motion.sitting import heading, sitting_frames
from addon.core.time_series import eased_peaks, runs
from addon.core.train.features import encode_clip

FPS = 10.0
ANKLES = (7, 8)


def procedural(script: str):
    """(clip, its features (T, 264) on the stand-in body, rest joints (24, 3), the bed's box row)."""
    model = load_body_model(None)
    rest = np.asarray(model.rest_joints(), dtype=np.float64)
    clip = make_clip(2024, "train", 0, model, script=script)
    bed = next(b for b in clip.boxes if b[3] * b[4] > 1.0)
    return clip, encode_clip(clip.clip, rest).features[0].astype(np.float64), rest, bed


@pytest.fixture(scope="module")
def edge_sitter():
    return procedural("sit_on_bed_edge")


@pytest.fixture(scope="module")
def getting_up():
    return procedural("get_out_of_bed")


def rig(features: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """(T, 22, 3): the joints the decode keys (planted feet held)."""
    return decoded_pose(features, rest, FPS)[2]


def moved_out(features: np.ndarray, rest: np.ndarray, bed: np.ndarray, metres: float) -> np.ndarray:
    """The frames that do not lie moved ``metres`` along the floor away from the bed's middle,
    eased in over the frames next to those that lie (a lying body stays on the bed)."""
    joints = rig(features, rest)
    lying = (lying_weight(joints) >= 0.5).astype(np.float64)
    share = 1.0 - np.clip(eased_peaks(lying, 4), 0.0, 1.0)
    away = joints[sitting_frames(joints[None])[0], 0, :2].mean(axis=0) - bed[:2]
    away /= np.linalg.norm(away)
    out = features.copy()
    positions = out[:, POSITIONS].reshape(len(out), -1, 3)
    positions[..., :2] += share[:, None, None] * metres * away
    out[:, POSITIONS] = positions.reshape(len(out), -1)
    out[:, VELOCITIES] = joint_velocities(positions).reshape(len(out), -1)
    return out


def test_beds_are_found_where_the_procedural_room_puts_them(edge_sitter, getting_up):
    for clip, _, _, bed in (edge_sitter, getting_up):
        beds = beds_of(clip.clip.scene_points)
        assert len(beds.top) == 1
        assert beds.top[0] == pytest.approx(bed[6], abs=0.03)
        # The long axis along the box's longer side, to the degree.
        long_side = bed[2] + (np.pi / 2 if bed[4] > bed[3] else 0.0)
        assert abs(np.sin(beds.axis[0] - long_side)) < np.sin(np.radians(1.5))
        # The long sides where the box has them; the ends may stop at the pillow (on top of the
        # mattress, it is not part of the level top), up to 0.25 m short of the head end.
        across = np.array([-np.sin(beds.axis[0]), np.cos(beds.axis[0])])
        assert abs((beds.centre[0] - bed[:2]) @ across) < 0.05
        length, width = max(bed[3:5]) / 2, min(bed[3:5]) / 2
        assert beds.half[0, 1] == pytest.approx(width, abs=0.05)
        assert length - 0.125 <= beds.half[0, 0] <= length + 0.05


def test_a_bedside_table_next_to_the_bed_does_not_widen_it():
    """The demo room (core.room): a 0.9 x 2 m bed at (1.0, 2.6), 0.55 m high, the bedside
    table 0.18 m from its side at the head end, 0.6 m high: one surface in the height map."""
    from addon.core.room import RoomLayout, build_room

    layout = RoomLayout()
    rng = np.random.default_rng(0)
    points = []
    for part in build_room(layout):
        if part.label == "wall":
            continue
        for quad in part.faces:  # points on every face of every box, 2 cm apart
            a, b, _, d = part.vertices[quad].astype(np.float64)
            u, v = rng.random((2, int(np.linalg.norm(b - a) * np.linalg.norm(d - a) / 0.0004) + 4))
            points.append(a + u[:, None] * (b - a) + v[:, None] * (d - a))
    beds = beds_of(np.concatenate(points))
    assert len(beds.top) == 1
    assert beds.top[0] == pytest.approx(layout.bed_size[2], abs=0.02)
    assert abs(np.cos(beds.axis[0])) < np.sin(np.radians(1.5))  # along y
    assert beds.centre[0, 0] == pytest.approx(layout.bed_position[0], abs=0.03)
    assert beds.half[0, 1] == pytest.approx(layout.bed_size[0] / 2, abs=0.03)  # the table's 0.45 m not added


def test_a_sitter_beside_the_bed_is_sat_on_its_edge_facing_out(edge_sitter):
    clip, features, rest, bed = edge_sitter
    displaced = moved_out(features, rest, bed, 0.6)
    before = rig(displaced, rest)
    assert seated_share(before[None], clip.boxes, on="bed") < 0.1
    move = edge_seating(before, beds_of(clip.clip.scene_points), FPS)
    assert move is not None and move.moved.min() == 1.0  # nobody lies: the whole clip moves
    after = rig(seated_features(displaced, move, rest), rest)
    assert seated_share(after[None], clip.boxes, on="bed") > 0.85  # 0.88: sitting down, the pelvis still on its way
    assert foot_skating_ratio(after[None], FPS) <= foot_skating_ratio(before[None], FPS) + 0.01
    held = move.weight == 1.0
    np.testing.assert_allclose(after[held, 0, 2], bed[6] + SIT_ABOVE_M, atol=0.04)
    # EDGE_INSIDE_M inside the long side, facing out of the bed, ankles on the floor ahead.
    beds = beds_of(clip.clip.scene_points)
    out = np.array([np.cos(move.facing), np.sin(move.facing)])
    edge = beds.centre[0] + beds.half[0, 1] * out  # the middle of the long side it sits on
    inside = (edge - after[held, 0, :2]) @ out
    np.testing.assert_allclose(inside, EDGE_INSIDE_M, atol=0.03)
    assert abs(np.cross([np.cos(beds.axis[0]), np.sin(beds.axis[0])], out)) > 0.99  # across the long axis
    error = (heading(after[held]) - move.facing + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(error).max() < np.radians(10)
    reach = (after[held][:, ANKLES, :2].mean(axis=1) - move.place[:2]) @ out
    np.testing.assert_allclose(reach, ANKLE_AHEAD_M, atol=0.05)
    assert after[held][:, ANKLES, 2].max() < 0.15


def test_getting_out_of_bed_the_lying_frames_stay_and_the_sitting_moves_to_the_edge(getting_up):
    clip, features, rest, bed = getting_up
    displaced = moved_out(features, rest, bed, 0.6)
    before = rig(displaced, rest)
    move = edge_seating(before, beds_of(clip.clip.scene_points), FPS)
    assert move is not None
    after_features = seated_features(displaced, move, rest)
    lies = (move.moved == 0.0) & (move.weight == 0.0)
    assert lies.sum() >= 10
    for part in (POSITIONS, LOCAL_ROTATIONS):
        np.testing.assert_allclose(after_features[lies, part], displaced[lies, part], atol=1e-9)
    still = lies & np.append(lies[1:], True)  # a velocity is the step to the next frame
    np.testing.assert_allclose(after_features[still, VELOCITIES], displaced[still, VELOCITIES], atol=1e-9)
    after = rig(after_features, rest)
    sits = sitting_frames(after[None])[0]
    assert seated_share(after[None], clip.boxes, on="bed") > seated_share(before[None], clip.boxes, on="bed") + 0.3
    assert after[sits & (move.weight == 1.0)][:, ANKLES, 2].max() < 0.15  # feet on the floor, not dangling
    # Where the move changes from frame to frame, the velocities follow the positions.
    changing = np.flatnonzero(np.abs(np.diff(move.moved)) > 0)
    positions = after_features[:, POSITIONS].reshape(len(after_features), -1, 3)
    velocities = after_features[:, VELOCITIES].reshape(len(after_features), -1, 3)
    stored = displaced[:, VELOCITIES].reshape(len(displaced), -1, 3)
    difference = joint_velocities(displaced[:, POSITIONS].reshape(len(displaced), -1, 3))
    np.testing.assert_allclose((velocities - joint_velocities(positions))[changing],
                               (stored - difference)[changing], atol=1e-9)


def test_nobody_is_moved_without_a_long_sitting_a_bed_in_reach_or_with_a_travelling_sitter(edge_sitter, getting_up):
    clip, features, rest, bed = edge_sitter
    beds = beds_of(clip.clip.scene_points)
    joints = rig(moved_out(features, rest, bed, 0.6), rest)
    start, stop = max(runs(sitting_frames(joints[None])[0]), key=lambda r: r[1] - r[0])
    standing = joints.copy()
    standing[start:stop] = joints[start - 1]
    assert edge_seating(standing, beds, FPS) is None
    far = rig(moved_out(features, rest, bed, REACH_M + 2.0), rest)
    assert edge_seating(far, beds, FPS) is None
    # Sitting up in the middle of the bed (on it, legs on it) is not sitting on its edge.
    clip, features, rest, bed = getting_up
    joints = rig(features, rest)
    deep = joints.copy()
    deep[..., :2] += bed[:2] - joints[sitting_frames(joints[None])[0], 0, :2].mean(axis=0)
    assert edge_seating(deep, beds_of(clip.clip.scene_points), FPS) is None
    # A "sitter" whose pelvis travels more than GROUP_DRIFT_M is only moved when alone.
    travelling = rig(moved_out(features, rest, bed, 0.6), rest)
    sits = sitting_frames(travelling[None])[0]
    travelling[sits, :, 0] += np.linspace(0.0, 3 * GROUP_DRIFT_M, sits.sum())[:, None]
    assert edge_seating(travelling, beds_of(clip.clip.scene_points), FPS) is not None
    assert edge_seating(travelling, beds_of(clip.clip.scene_points), FPS, max_drift=GROUP_DRIFT_M) is None


def test_only_rows_and_persons_that_may_sit_are_moved_and_only_when_the_prompt_asks(edge_sitter):
    clip, features, rest, bed = edge_sitter
    displaced = moved_out(features, rest, bed, 0.6)
    mean, std = np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM)
    x0 = torch.as_tensor(np.stack([displaced[None], displaced[None]]), dtype=torch.float32)  # (2, 1, T, F)
    beds = beds_of(clip.clip.scene_points)
    out = sit_on_bed_edges(x0, mean, std, [beds, beds], [(True,), None], fps=FPS, rest_joints=rest)
    assert torch.equal(out[1], x0[1]) and not torch.allclose(out[0], x0[0])
    assert torch.equal(sit_on_bed_edges(x0, mean, std, [beds, None], [None, (True,)], fps=FPS, rest_joints=rest), x0)
    shares = []
    for sitters in ([(True,)], [None], None):
        corrections = Corrections.for_scenes(mean, std, torch.ones(1, 1, dtype=torch.bool), [clip.clip.scene_points],
                                             rest_joints=rest, fps=FPS, bed_sitters=sitters, smoothing_s=0.0)
        finished = corrections.finish(x0[:1])[0, 0].numpy().astype(np.float64)
        shares.append(seated_share(rig(finished, rest)[None], clip.boxes, on="bed"))
    assert shares[0] > 0.85 and shares[1] == shares[2] < 0.1
    # The local rotations of the frames before the sitting (the walk to the bed) are the model's.
    move = edge_seating(rig(displaced, rest), beds, FPS)
    free = move.weight == 0.0
    np.testing.assert_allclose(out[0, 0, free][:, LOCAL_ROTATIONS].numpy(), x0[0, 0, free][:, LOCAL_ROTATIONS].numpy(),
                               atol=1e-6)


def test_a_side_against_the_wall_is_not_sat_on_and_sitters_go_to_the_long_sides():
    from addon.core.diffusion.bed_edge import _edge_place
    from helpers.rooms import room_with_a_bed  # bed: x 1-3, y 1-2, top 0.5 m

    points = room_with_a_bed()
    beds = beds_of(points)
    place, facing = _edge_place(np.array([2.0, 0.6]), beds)  # in front of the -y side
    np.testing.assert_allclose(place, [2.0, 1.0 + EDGE_INSIDE_M, 0.5 + SIT_ABOVE_M], atol=0.04)
    assert np.degrees(facing) == pytest.approx(-90.0, abs=1.5)
    wall = np.stack(np.meshgrid(np.arange(0.5, 3.51, 0.05), [0.9, 0.95], np.arange(0.0, 2.51, 0.1), indexing="ij"),
                    -1).reshape(-1, 3)
    beds = beds_of(np.concatenate([points, wall]))
    place, facing = _edge_place(np.array([0.6, 1.3]), beds)  # past the foot end, nearer the walled side
    np.testing.assert_allclose(place[:2], [1.0 + 0.3, 2.0 - EDGE_INSIDE_M], atol=0.04)  # END_MARGIN_M in
    assert np.degrees(facing) == pytest.approx(90.0, abs=1.5)
