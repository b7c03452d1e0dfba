"""The decode's foot-contact clean-up (core.motion.foot_lock): planted feet hold still, nothing else moves."""

import numpy as np

from addon.core.body.model import load_body_model
from addon.core.eval.physical import foot_skating_ratio
from addon.core.motion.foot_lock import LEGS, MAX_DRIFT_M, lock_feet, planted_runs
from addon.core.motion.joint_ik import BODY_PARENTS
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import forward_kinematics

REST = np.asarray(load_body_model(None).rest_joints(), dtype=np.float64)[:22]
FPS = 10.0


def standing(T: int, knee_bend: float = 0.3) -> np.ndarray:
    """(T, 22, 3, 3): upright in the Z-up world (template Y up), knees a little bent."""
    rotations = np.broadcast_to(np.eye(3), (T, 22, 3, 3)).copy()
    rotations[:, 0] = axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))
    for hip, knee, ankle, _ in LEGS:
        rotations[:, hip] = axis_angle_to_matrix(np.array([-knee_bend / 2, 0.0, 0.0]))
        rotations[:, knee] = axis_angle_to_matrix(np.array([knee_bend, 0.0, 0.0]))
        rotations[:, ankle] = axis_angle_to_matrix(np.array([-knee_bend / 2, 0.0, 0.0]))
    return rotations


def fk(rotations, pelvis):
    return forward_kinematics(rotations, REST, pelvis - REST[0], parents=BODY_PARENTS)


def on_the_floor(rotations, sway):
    """Pelvis (T, 3): ``sway`` (T, 2) in the floor plane, at the height that puts the lowest foot
    joint 2 cm above the floor."""
    _, joints = fk(rotations, np.zeros((len(rotations), 3)) + REST[0])
    lowest = joints[:, [10, 11], 2].min()
    return np.column_stack([sway, np.full(len(sway), REST[0, 2] - lowest + 0.02)])


def test_feet_of_a_swaying_body_hold_still_and_only_the_legs_turn():
    T = 30
    rotations = standing(T)
    t = np.arange(T) / FPS
    pelvis = on_the_floor(rotations, np.column_stack([0.04 * np.sin(2 * np.pi * 0.8 * t), np.zeros(T)]))
    before = rotations.copy()
    locked = lock_feet(rotations, pelvis, REST, FPS)
    np.testing.assert_array_equal(rotations, before)  # the input is not modified
    world_before, joints_before = fk(rotations, pelvis)
    world_after, joints_after = fk(locked, pelvis)
    for hip, knee, ankle, foot in LEGS:
        # The posed ankle sways 8 cm; the held one stays within millimetres of its mean.
        assert np.ptp(joints_before[:, ankle, 0]) > 0.07
        assert np.abs(joints_after[:, ankle, :2] - joints_after[:, ankle, :2].mean(0)).max() < 0.003
        np.testing.assert_allclose(joints_after[:, ankle, 2], joints_before[:, ankle, 2], atol=2e-3)  # height kept
        np.testing.assert_allclose(world_after[:, ankle], world_before[:, ankle], atol=1e-9)  # foot orientation
    legs = sorted(j for leg in LEGS for j in leg[:3])
    others = [j for j in range(22) if j not in legs]
    np.testing.assert_array_equal(locked[:, others], rotations[:, others])
    np.testing.assert_allclose(joints_after[:, :3], joints_before[:, :3], atol=1e-9)  # pelvis and hips stay
    assert foot_skating_ratio(joints_after[None], FPS) <= foot_skating_ratio(joints_before[None], FPS)


def test_raised_fast_and_single_frame_feet_are_left_alone_and_straight_legs_stay_finite():
    T = 20
    rotations = standing(T)
    t = np.arange(T) / FPS
    walking = on_the_floor(rotations, np.column_stack([1.2 * t, np.zeros(T)]))  # feet glide at 1.2 m/s
    np.testing.assert_array_equal(lock_feet(rotations, walking, REST, FPS), rotations)
    raised = on_the_floor(rotations, np.zeros((T, 2))) + [0.0, 0.0, 0.1]  # feet 12 cm up: a jump, a seat
    np.testing.assert_array_equal(lock_feet(rotations, raised, REST, FPS), rotations)
    assert planted_runs(fk(rotations[:1], raised[:1])[1], FPS) == [[], []]
    straight = standing(T, knee_bend=0.0)
    sway = on_the_floor(straight, np.column_stack([0.03 * np.sin(2 * np.pi * t), np.zeros(T)]))
    assert np.isfinite(lock_feet(straight, sway, REST, FPS)).all()


def test_a_foot_that_slides_too_far_takes_a_new_step():
    T = 40
    rotations = standing(T)
    slide = np.column_stack([0.5 * np.arange(T) / FPS, np.zeros(T)])  # 0.5 m/s: slow enough to be planted
    joints = fk(rotations, on_the_floor(rotations, slide))[1]
    for runs in planted_runs(joints, FPS):
        assert len(runs) >= 2 and runs[0][0] == 0 and runs[-1][1] >= T - 1  # a last run of one frame is dropped
        assert all(a[1] == b[0] for a, b in zip(runs, runs[1:]))  # each split starts the next step
        for start, stop in runs:
            ankle = joints[start:stop, LEGS[0][2], :2]
            assert np.linalg.norm(ankle - ankle[0], axis=-1).max() <= MAX_DRIFT_M + 1e-9
