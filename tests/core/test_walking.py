"""Walkers stepped along a route (core.diffusion.walking) and the walk cycle it shares with the procedural data.

The walker is a procedural stand-and-turn clip (a person standing in a care room, turning on the
spot) whose pelvis drifts 0.4 m across the clip, as the bundled model leaves its walkers: a
body that shuffles instead of stepping.
"""

import numpy as np
import pytest
import torch

from addon.core.body.model import load_body_model
from addon.core.data.procedural.dataset import make_clip
from addon.core.motion.gait import STANCE, stride_for, swing, walk_frames
from addon.core.diffusion.corrections import Corrections
from addon.core.diffusion.walking import (
    APPROACH_M,
    BESIDE_M,
    MAX_WALK_M,
    MIN_WALK_M,
    plan_walk,
    plan_walks,
    walk_walkers,
    walked_features,
    walking_persons,
)
from addon.core.eval.physical import fk_agreement, foot_skating_ratio
from addon.core.labels import SCRIPTS, WALKING_SCRIPTS
from addon.core.motion.decode import decoded_pose
from addon.core.motion.representation import FEATURE_DIM, POSITIONS, VELOCITIES, joint_velocities
from addon.core.motion.sitting import heading
from addon.core.placement import height_map
from addon.core.skeleton import JOINT_INDEX
from addon.core.train.features import encode_clip

FPS = 10.0
ANKLES = (JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"])
DRIFT = np.array([0.4, 0.0])  # metres over the clip


@pytest.fixture(scope="module")
def stander():
    """(procedural clip, its features (T, 264) with the pelvis drifting DRIFT, rest joints (24, 3))."""
    model = load_body_model(None)
    rest = np.asarray(model.rest_joints(), dtype=np.float64)
    clip = make_clip(2024, "train", 0, model, script="stand_and_turn")
    features = encode_clip(clip.clip, rest).features[0].astype(np.float64)
    return clip, drifted(features, DRIFT), rest


def drifted(features: np.ndarray, drift: np.ndarray) -> np.ndarray:
    """Every joint moved by a share of ``drift`` (2,) m growing from 0 to 1 over the clip; the
    velocities follow."""
    T = len(features)
    x = features.copy()
    positions = x[:, POSITIONS].reshape(T, -1, 3)
    positions[..., :2] += np.linspace(0.0, 1.0, T)[:, None, None] * drift
    x[:, POSITIONS] = positions.reshape(T, -1)
    x[:, VELOCITIES] = joint_velocities(positions).reshape(T, -1)
    return x


def walked(x: np.ndarray, rest: np.ndarray, grid=None, roles=("staff",), frames_valid=None) -> np.ndarray:
    """walk_walkers on one row of un-normalised persons (P, T, 264) (mean 0, std 1)."""
    x0 = torch.as_tensor(x[None], dtype=torch.float64)
    out = walk_walkers(x0, np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM), [grid], [walking_persons(roles)], [roles],
                       fps=FPS, rest_joints=rest, frames_valid=frames_valid)
    return out[0].numpy()


def test_the_walk_cycle_moved_out_of_the_track_is_the_one_the_procedural_walkers_use():
    gait = walk_frames(np.array([[0.0, 0.0], [2.5, 0.0]]), 1.1, stride_for(1.1), FPS, 0.0)
    limbs = swing(gait, 1.1, stride_for(1.1), 0.8)
    assert limbs.hip.shape == limbs.knee.shape == limbs.shoulder.shape == (2, len(gait.xy))
    # The legs are half a stride apart and each arm swings with the opposite leg.
    both = (gait.amplitude > 0.99)
    assert np.corrcoef(limbs.hip[0][both], limbs.hip[1][both])[0, 1] < -0.5
    assert np.corrcoef(limbs.shoulder[0][both], limbs.hip[1][both])[0, 1] > 0.9
    assert not limbs.planted[0].any()
    cruising = np.mod(limbs.phase[both], 1.0) < STANCE
    assert (limbs.planted[both, 0] == cruising).all()


def test_a_shuffling_stander_walks_facing_the_way_it_goes_on_steps_that_do_not_slide(stander):
    clip, features, rest = stander
    grid = height_map(clip.clip.scene_points)
    walk = plan_walk(features, rest, FPS, 1.1, grid)
    assert walk is not None
    out = walked(features[None], rest, grid)[0]
    before, after = decoded_pose(features, rest, FPS)[2], decoded_pose(out, rest, FPS)[2]
    travel = np.linalg.norm(after[walk.stop - 1, 0, :2] - after[walk.start, 0, :2])
    assert MIN_WALK_M <= travel <= MAX_WALK_M + 0.05
    assert travel > 2 * np.linalg.norm(DRIFT)
    # Facing the way it goes, once it has turned into the route (over the walk's first 0.4 s).
    settled = walk.start + 5
    step = np.diff(after[settled:walk.stop, 0, :2], axis=0)
    moving = np.linalg.norm(step, axis=-1) * FPS > 0.3
    going = np.arctan2(step[moving, 1], step[moving, 0])
    assert moving.sum() > 5
    assert np.cos(heading(after[settled:walk.stop - 1][moving]) - going).min() > 0.98
    # Steps: the ankles part as a walker's do (the stander's stay together).
    apart = lambda j: np.percentile(np.linalg.norm(j[:, ANKLES[0], :2] - j[:, ANKLES[1], :2], axis=-1), 95)
    assert apart(after) > max(0.45, apart(before) + 0.15)
    # ... and the planted feet hold: the procedural walks' own skating ratio is 0-0.06 (the
    # swing foot that lands at 10 fps counts), this walk's 0.061.
    assert foot_skating_ratio(after[None], FPS) <= 0.07
    # The route is free of the room's furniture and walls.
    assert not grid.blocked(after[walk.start:walk.stop]).any()


def test_walked_features_stay_consistent(stander):
    _, features, rest = stander
    walk = plan_walk(features, rest, FPS, 1.1, None)
    out = walked_features(features, walk, rest, FPS)
    T = len(out)
    # The procedural features agree with their rotations' forward kinematics; walked, they still do.
    assert fk_agreement(features[None], rest) < 0.005
    assert fk_agreement(out[None], rest) < 0.005
    positions = out[:, POSITIONS].reshape(T, -1, 3)
    assert np.abs(out[:, VELOCITIES].reshape(T, -1, 3) - joint_velocities(positions)).max() < 1e-6
    # Before the walk nothing moved; the legs ease into the cycle only over the frames just before it.
    untouched = max(0, walk.start - 3)
    assert np.allclose(out[:untouched], features[:untouched])


def test_what_follows_the_walk_is_carried_to_its_end_rigidly(stander):
    _, features, rest = stander
    T = len(features)
    # The clip's second half down on the floor: the upright run ends there and the walk runs into it.
    half = T // 2
    fallen = features.copy()
    positions = fallen[:, POSITIONS].reshape(T, -1, 3)
    positions[half:, :, 2] -= positions[half:, :1, 2] - 0.15
    fallen[:, POSITIONS] = positions.reshape(T, -1)
    walk = plan_walk(fallen, rest, FPS, 0.65, None)
    assert walk is not None and walk.stop == half and walk.start == 0  # no hold: it may be under way already
    out = walked_features(fallen, walk, rest, FPS)
    before = fallen[half:, POSITIONS].reshape(T - half, -1, 3)
    after = out[half:, POSITIONS].reshape(T - half, -1, 3)
    # Rigid once the legs have eased back to the model's (BLEND_S): every joint keeps its
    # distance to the pelvis and the pelvis's path keeps its steps.
    settled = 4
    for b, a in zip(before[settled:], after[settled:]):
        assert np.allclose(np.linalg.norm(a - a[0], axis=-1), np.linalg.norm(b - b[0], axis=-1), atol=1e-6)
    assert np.allclose(np.linalg.norm(np.diff(after[settled:, 0], axis=0), axis=-1),
                       np.linalg.norm(np.diff(before[settled:, 0], axis=0), axis=-1), atol=1e-6)
    # ... and it goes on from where the walk ended.
    assert np.linalg.norm(out[half, POSITIONS][:2] - out[half - 1, POSITIONS][:2]) < 0.15


def test_nobody_walks_without_an_upright_run_or_a_free_route(stander):
    clip, features, rest = stander
    T = len(features)
    lying = features.copy()
    positions = lying[:, POSITIONS].reshape(T, -1, 3)
    positions[..., 2] = 0.15  # a pelvis 15 cm up is nobody standing
    lying[:, POSITIONS] = positions.reshape(T, -1)
    assert plan_walk(lying, rest, FPS, 1.1, None) is None
    # Boxed in: scene points all round the stander, a wall 0.3 m away whichever way it turns.
    centre = features[0, :2]
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    ring = np.concatenate([np.column_stack([centre + r * np.column_stack([np.cos(angles), np.sin(angles)]),
                                            np.full(len(angles), z)]) for r in (0.45, 0.5) for z in np.arange(0.0, 2.0, 0.1)])
    floor = np.column_stack([centre + np.random.default_rng(0).uniform(-0.4, 0.4, (400, 2)), np.zeros(400)])
    assert plan_walk(features, rest, FPS, 1.1, height_map(np.concatenate([ring, floor]))) is None


def test_a_row_without_walkers_and_the_padding_are_left_alone(stander):
    _, features, rest = stander
    T = len(features)
    padded = np.concatenate([features, np.zeros((7, FEATURE_DIM))])[None]
    valid = torch.zeros(1, T + 7, dtype=torch.bool)
    valid[0, :T] = True
    out = walked(padded, rest, frames_valid=valid)
    assert np.array_equal(out[0, T:], padded[0, T:])
    assert not np.allclose(out[0, :T], padded[0, :T])
    x0 = torch.as_tensor(padded, dtype=torch.float64)
    same = walk_walkers(x0, np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM), None, [None], [("staff",)], fps=FPS,
                        rest_joints=rest)
    assert same is x0


def test_the_corrections_walk_only_the_rows_whose_prompt_is_a_walk(stander):
    clip, features, rest = stander
    x0 = torch.as_tensor(np.stack([features[None], features[None]]), dtype=torch.float32)
    corrections = Corrections.for_scenes(np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM), torch.ones(2, 1, dtype=torch.bool),
                                         [clip.clip.scene_points, clip.clip.scene_points], rest_joints=rest, fps=FPS,
                                         walkers=[walking_persons(("staff",)), None], roles=[("staff",), ("staff",)],
                                         smoothing_s=0.0)
    out = corrections.finish(x0).numpy()
    travel = [np.linalg.norm(out[row, 0, -1, :2] - out[row, 0, 0, :2]) for row in range(2)]
    assert travel[0] > MIN_WALK_M > travel[1]
    assert {"walk_through", "fall_walking", "support_walking"} == WALKING_SCRIPTS <= set(SCRIPTS)


@pytest.mark.parametrize("apart", [0.6, 1.3])
def test_two_walkers_walk_together_side_by_side_at_the_slower_pace(stander, apart):
    _, features, rest = stander
    T = len(features)
    beside = features.copy()
    positions = beside[:, POSITIONS].reshape(T, -1, 3)
    positions[..., 1] += apart  # a helper this far to the patient's side (the drift is along x)
    beside[:, POSITIONS] = positions.reshape(T, -1)
    out = walked(np.stack([features, beside]), rest, roles=("patient", "staff"))
    walks = plan_walks([features, beside], rest, FPS, 0.65, None)
    assert walks is not None and walks[0].start == walks[1].start
    pelvis = out[:, :, :3]  # (2, T, 3)
    start, stop = walks[0].start, min(w.stop for w in walks) - 1
    assert np.linalg.norm(pelvis[0, stop, :2] - pelvis[0, start, :2]) > MIN_WALK_M
    gap = np.linalg.norm(pelvis[0, :, :2] - pelvis[1, :, :2], axis=-1)
    assert gap[start] == pytest.approx(apart, abs=0.01)
    # Side by side, BESIDE_M apart, once the first metre is behind them, and no jump on the way.
    walked_far = np.linalg.norm(pelvis[0, start:stop + 1, :2] - pelvis[0, start, :2], axis=-1)
    assert np.abs(gap[start:stop + 1][walked_far > APPROACH_M + 0.3] - BESIDE_M).max() < 0.02
    assert np.abs(np.diff(gap[start:stop + 1])).max() < 0.15
    # The patient's pace (0.65 m/s) for both: the staff's own (1.1 m/s) would cover more ground.
    alone = plan_walk(beside, rest, FPS, 1.1, None)
    assert np.linalg.norm(alone.xy[-1] - alone.xy[0]) / (alone.stop - alone.start) > \
        np.linalg.norm(walks[1].xy[-1] - walks[1].xy[0]) / (walks[1].stop - walks[1].start)
