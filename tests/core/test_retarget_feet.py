"""Foot contacts and the planted-foot clean-up: feet on the floor and not sliding after retargeting."""

import numpy as np
import pytest

from addon.core.retarget.api import RetargetConfig, retarget_one
from addon.core.retarget.feet import CONTACT_HEIGHT_M, foot_contacts, foot_height_error
from addon.core.time_series import runs
from addon.core.retarget.smpl_world import FEET, smpl_world
from helpers.avatar_rigs import avatar_spec, rest_joints, source_of, walk_motions


def max_slide(result) -> float:
    """Largest distance (m) a target foot joint strays from its mean position during a contact."""
    worst = 0.0
    for leg in result.plan.legs:
        contacts = result.solution.contacts[leg.side]
        for column, bone in ((0, leg.foot), (1, leg.toe)):
            for start, stop in runs(contacts[:, column]):
                xy = result.solution.heads[start:stop, bone, :2]
                worst = max(worst, float(np.linalg.norm(xy - xy.mean(axis=0), axis=1).max()))
    return worst


def feet_off_floor(result) -> float:
    """Largest |height of a planted target foot's lowest joint above its rest height|, metres."""
    worst = 0.0
    for leg in result.plan.legs:
        planted = result.solution.contacts[leg.side].any(axis=1)
        heights = foot_height_error(leg, result.rest, result.solution.heads)[planted]
        worst = max(worst, float(np.abs(heights).max()))
    return worst


def test_the_walk_has_planted_feet_on_both_sides_and_a_raised_clip_has_none():
    for motion in walk_motions():
        world = smpl_world(source_of(motion))
        contacts = foot_contacts(world)
        for side, (_, _, ankle, toe) in FEET.items():
            planted = contacts[side].any(axis=1)
            assert 0.2 < planted.mean() < 0.9, side
            z = world.joints[:, [ankle, toe], 2]
            assert (z[contacts[side]] - z.min(axis=0)[np.nonzero(contacts[side])[1]] < CONTACT_HEIGHT_M).all()
    raised = walk_motions()[0].copy()
    raised.transl = raised.transl + [0.0, 0.0, 1.0]  # walking on air: nothing is planted
    assert not any(c.any() for c in foot_contacts(smpl_world(source_of(raised))).values())


@pytest.mark.parametrize("scale", [0.8, 1.3])
def test_default_retarget_keeps_planted_feet_within_2_cm_of_the_floor(scale):
    for motion in walk_motions():
        spec = avatar_spec("unreal", rest_joints(motion), scale=scale, twist_bones=True)
        result = retarget_one(source_of(motion), spec.target_rig(), RetargetConfig())
        assert result.score.contact_frames > 40
        assert feet_off_floor(result) <= 0.02
        assert result.score.foot_max_m == pytest.approx(feet_off_floor(result))


@pytest.mark.parametrize("scale", [0.8, 1.3])
def test_cleanup_plants_feet_when_the_root_path_is_not_scaled(scale):
    """Keeping the persons' paths (no root scaling) makes feet slide (heights stay anchored at
    standing: a person standing on the floor puts the avatar on its feet at any scale); the
    clean-up holds them still."""
    for motion in walk_motions():
        rig = avatar_spec("mixamo", rest_joints(motion), scale=scale).target_rig()
        loose = retarget_one(source_of(motion), rig, RetargetConfig(scale_root=False, foot_cleanup=False))
        planted = retarget_one(source_of(motion), rig, RetargetConfig(scale_root=False, foot_cleanup=True))
        assert feet_off_floor(loose) <= 0.03
        assert feet_off_floor(planted) <= 0.02
        assert max_slide(loose) > 0.025
        source_slide = max_slide_of_source(planted)
        assert max_slide(planted) <= source_slide + 0.01


def max_slide_of_source(result) -> float:
    worst = 0.0
    for side, (_, _, ankle, toe) in FEET.items():
        contacts = result.solution.contacts[side]
        for column, joint in ((0, ankle), (1, toe)):
            for start, stop in runs(contacts[:, column]):
                xy = result.smpl.joints[start:stop, joint, :2]
                worst = max(worst, float(np.linalg.norm(xy - xy.mean(axis=0), axis=1).max()))
    return worst


def test_cleanup_changes_nothing_for_a_scaled_copy_of_the_source_body():
    motion = walk_motions()[1]
    rig = avatar_spec("mixamo", rest_joints(motion), scale=1.3, jitter=0.0).target_rig()
    plain = retarget_one(source_of(motion), rig, RetargetConfig(foot_cleanup=False))
    cleaned = retarget_one(source_of(motion), rig, RetargetConfig(foot_cleanup=True))
    np.testing.assert_allclose(cleaned.solution.heads, plain.solution.heads, atol=2e-3)
    assert cleaned.score.direction_max_deg < 0.5


def test_cleanup_needs_no_feet_and_leaves_a_footless_rig_alone():
    motion = walk_motions()[0]
    spec = avatar_spec("mixamo", rest_joints(motion))
    from addon.core.retarget.rig import TargetRig

    keep = [i for i, n in enumerate(spec.names) if "Foot" not in n and "Toe" not in n]
    parents = tuple(keep.index(spec.parents[i]) if spec.parents[i] >= 0 else -1 for i in keep)
    rig = TargetRig("Footless", tuple(spec.names[i] for i in keep), parents, spec.rest_matrices()[keep], spec.tails[keep])
    result = retarget_one(source_of(motion), rig, RetargetConfig())
    assert not result.plan.legs and result.score.contact_frames == 0 and np.isnan(result.score.foot_max_m)
    assert result.solution.leg_scale == 1.0  # no foot bones: nothing to measure the legs by


def folded_leg(fold: float):
    """Hip, knee and ankle (1, 3) of a leg of two 0.45 m bones whose ankle is ``fold`` x the leg's
    length from the hip, knee forward (+Y), foot below the hip."""
    L = 0.45
    d = fold * 2 * L
    H = np.array([[0.0, 0.0, 1.0]])
    A = H - [0.0, 0.0, d]
    K = H + [0.0, np.sqrt(L**2 - (d / 2) ** 2), -d / 2]
    return H, K, A


def test_a_deeply_folded_leg_turns_at_most_the_bound_and_keeps_part_of_the_slide():
    from addon.core.retarget.feet import MAX_TURN_DEG, _bounded_two_bone, _turn_deg, _two_bone

    forward = np.array([[0.0, 1.0, 0.0]])
    H, K, A = folded_leg(0.1)  # kneeling: the ankle 9 cm under the hip
    goal = A + [0.0, 0.03, 0.0]  # hold the ankle 3 cm away
    free = _two_bone(H, K, A, goal, forward)
    assert max(_turn_deg(free[0])[0], _turn_deg(free[1] @ free[0])[0]) > 1.5 * MAX_TURN_DEG  # what it avoids
    R1, R2 = _bounded_two_bone(H, K, A, goal, forward)
    assert max(_turn_deg(R1)[0], _turn_deg(R2 @ R1)[0]) <= MAX_TURN_DEG
    ankle = H + np.einsum("nij,nj->ni", R1, K - H) + np.einsum("nij,nj->ni", R2 @ R1, A - K)
    moved = float((ankle - A)[0, 1])
    assert 0.0 < moved < 0.03  # part of the way
    H, K, A = folded_leg(0.8)  # standing: the same hold is a small turn, made in full
    goal = A + [0.0, 0.03, 0.0]
    R1, R2 = _bounded_two_bone(H, K, A, goal, forward)
    ankle = H + np.einsum("nij,nj->ni", R1, K - H) + np.einsum("nij,nj->ni", R2 @ R1, A - K)
    np.testing.assert_allclose(ankle, goal, atol=1e-9)
