"""Several people retargeted together: their spacing scales with the avatars about their common
centre, so a helper's hands still reach the person they held (and bigger avatars do not walk
into each other); one person alone, or ``scale_spacing`` off, scales about its own start."""

import numpy as np
import pytest

from addon.core.body.model import load_body_model
from addon.core.data.procedural.dataset import make_clip
from addon.core.retarget.api import RetargetConfig, group_centre, retarget_one, retarget_people
from addon.core.retarget.quality import target_joints
from addon.core.skeleton import JOINT_INDEX
from helpers.avatar_rigs import avatar_spec, rest_joints, source_of

WRISTS = (JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"])


def pair(script: str, scale: float, config: RetargetConfig):
    motions = list(make_clip(1, "test", 0, load_body_model(None), script=script).clip.motions)
    sources = [source_of(m, f"P{k}") for k, m in enumerate(motions)]
    rigs = [avatar_spec("unreal", rest_joints(m), scale=scale, jitter=0.0).target_rig(f"A{k}")
            for k, m in enumerate(motions)]
    return sources, retarget_people(list(zip(sources, rigs)), config)


def held_distances(results) -> tuple[np.ndarray, np.ndarray]:
    """Each wrist's distance to the other person's nearest joint, on the source and the targets,
    at the frames where the source's wrist is within 15 cm of the other person."""
    targets = [target_joints(r.plan, r.smpl, r.solution) for r in results]
    sources = [r.smpl.joints[:, :22] for r in results]
    source_d, target_d = [], []
    for a, b in ((0, 1), (1, 0)):
        for wrist in WRISTS:
            ds = np.linalg.norm(sources[a][:, wrist, None] - sources[b], axis=-1).min(axis=1)
            dt = np.linalg.norm(targets[a][:, wrist, None] - targets[b], axis=-1).min(axis=1)
            source_d.append(ds[ds < 0.15])
            target_d.append(dt[ds < 0.15])
    return np.concatenate(source_d), np.concatenate(target_d)


@pytest.mark.parametrize("scale", [0.8, 1.2])
def test_hands_that_held_the_other_person_still_reach_them_on_scaled_avatars(scale):
    _, exact = pair("help_up_from_floor", scale, RetargetConfig(foot_cleanup=False))
    source, target = held_distances(exact)
    assert len(source) > 20
    assert abs(target.mean() - scale * source.mean()) < 0.01, (target.mean(), source.mean())  # as far, times s
    _, together = pair("help_up_from_floor", scale, RetargetConfig())  # planting the feet moves a few cm
    _, cleaned = held_distances(together)
    _, apart = pair("help_up_from_floor", scale, RetargetConfig(scale_spacing=False))
    _, old = held_distances(apart)
    assert cleaned.mean() < scale * source.mean() + 0.04, cleaned.mean()
    assert old.mean() > cleaned.mean() + 0.15  # each about its own start: the hands lose their hold


def test_the_pair_is_the_source_scene_scaled_about_the_common_centre():
    sources, results = pair("support_walking", 1.3, RetargetConfig(foot_cleanup=False))
    cx, cy = group_centre(sources)
    for source, result in zip(sources, results):
        hips = result.smpl.joints[:, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]], :2].mean(axis=1)
        thighs = [result.bone("thigh_l"), result.bone("thigh_r")]
        on_target = result.solution.heads[:, thighs, :2].mean(axis=1)
        expected = np.array([cx, cy]) + result.solution.leg_scale * (hips - [cx, cy])
        np.testing.assert_allclose(on_target, expected, atol=1e-6)
    alone = retarget_one(sources[0], avatar_spec("unreal", sources[0].rest_joints_y, scale=1.3, jitter=0.0)
                         .target_rig("Alone"), RetargetConfig(foot_cleanup=False))
    start = alone.smpl.joints[0, [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]], :2].mean(axis=0)
    first = alone.solution.heads[0, [alone.bone("thigh_l"), alone.bone("thigh_r")], :2].mean(axis=0)
    np.testing.assert_allclose(first, start, atol=1e-6)  # one person keeps its place


def test_bigger_avatars_supporting_a_walk_do_not_walk_into_each_other():
    _, together = pair("support_walking", 1.3, RetargetConfig())
    _, apart = pair("support_walking", 1.3, RetargetConfig(scale_spacing=False))
    assert together[0].score.penetration_max_m <= together[0].score.source_penetration_max_m * 1.3 + 0.01
    assert apart[0].score.penetration_max_m > together[0].score.penetration_max_m + 0.03
