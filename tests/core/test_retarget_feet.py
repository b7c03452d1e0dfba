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
