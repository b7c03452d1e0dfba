"""Where the retarget puts the avatar: the root's height from the world floor and SMPL's
standing skeleton (not from the clip), and the scale and root placement from the legs and
hips (not from the pelvis bone's head)."""

import numpy as np
import pytest

from addon.core.motion.motion import Motion
from addon.core.retarget.api import RetargetConfig, retarget_one
from addon.core.retarget.rig import TargetRig
from addon.core.skeleton import JOINT_INDEX
from helpers.avatar_rigs import _frames, avatar_spec, rest_joints, source_of, walk_motions

NO_FEET = RetargetConfig(foot_cleanup=False)
HIPS = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
SMPL_PELVIS_ABOVE_HIPS = 0.09  # metres, SMPL's pelvis joint above its hip joints (about)


def lying(pelvis_z: float, frames: int = 3) -> Motion:
    """On the back (global_orient = identity: the Y-up template lies along +Y facing up),
    feet off the floor the whole clip (a bed), the pelvis joint near ``pelvis_z``."""
    return Motion(np.zeros((frames, 3)), np.zeros((frames, 23, 3)), np.tile([0.0, 0.0, pelvis_z], (frames, 1)),
                  np.zeros(10), 30.0)


def hip_mid(result) -> tuple[np.ndarray, np.ndarray]:
    """(SMPL's, the avatar's) (T, 3) hip midpoints; the avatar's from its mapped thigh heads."""
    bones = [result.plan.bone_of_joint[j] for j in HIPS]
    return result.smpl.joints[:, HIPS].mean(axis=1), result.solution.heads[:, bones].mean(axis=1)


@pytest.mark.parametrize("pelvis_z", [0.3, 0.6, 0.9])
def test_a_body_lying_on_a_bed_keeps_its_height(pelvis_z):
    """The clip's feet never touch the floor; the old source floor (the clip's lowest foot joint,
    clipped to 15 cm) lowered every such body by ~12 cm onto the floor."""
    motion = lying(pelvis_z)
    for scale in (1.0, 1.2):
        spec = avatar_spec("mixamo", rest_joints(motion), jitter=0.0, scale=scale)
        result = retarget_one(source_of(motion), spec.target_rig(), RetargetConfig())
        assert result.solution.leg_scale == pytest.approx(scale, abs=1e-9)
        assert result.score.contact_frames == 0
        source, target = hip_mid(result)
        # Heights scale about the floor (this avatar is SMPL's skeleton, scaled about its floor).
        np.testing.assert_allclose(target[:, 2], scale * source[:, 2], atol=1e-6)
        if scale == 1.0:
            pelvis = result.solution.heads[:, result.plan.root]
            np.testing.assert_allclose(pelvis, result.smpl.joints[:, 0], atol=1e-6)


def offset_pelvis_rig(motion, drop: float = 0.06) -> TargetRig:
    """A same-size Mixamo-named avatar whose Hips head is ``drop`` metres below SMPL's pelvis
    joint (like the Rigify meta-rig's ``spine``, 6 cm below the thigh heads)."""
    spec = avatar_spec("mixamo", rest_joints(motion), jitter=0.0, roll_seed=4)
    heads = spec.heads.copy()
    heads[spec.names.index("mixamorig:Hips"), 2] -= drop
    matrices = np.tile(np.eye(4), (len(spec.names), 1, 1))
    matrices[:, :3, :3] = _frames(heads, spec.tails, 4)
    matrices[:, :3, 3] = heads
    return TargetRig("Offset hips", spec.names, spec.parents, matrices, spec.tails, connected=spec.connected)


def test_scale_comes_from_the_legs_and_the_hips_land_on_smpls_when_the_pelvis_head_is_elsewhere():
    """The old ratio was the pelvis bone's height over the feet (6 cm short: s = 0.94 on this
    same-size rig) and the root was pinned to the pelvis bone's head, so the hips landed up
    to 15 cm off (lying) and 13 cm off (walking)."""
    for motion, config in ((walk_motions()[0], NO_FEET), (lying(0.6), RetargetConfig())):
        rig = offset_pelvis_rig(motion)
        result = retarget_one(source_of(motion), rig, config)
        assert result.solution.leg_scale == pytest.approx(1.0, abs=1e-9)
        source, target = hip_mid(result)
        np.testing.assert_allclose(target, source, atol=1e-6)
        # The pelvis bone's head sits off the hips by its rest offset, turned with the pelvis.
        heads = rig.rest_matrices[:, :3, 3]
        rest_offset = heads[rig.index("mixamorig:Hips")] - heads[[rig.index("mixamorig:LeftUpLeg"),
                                                                  rig.index("mixamorig:RightUpLeg")]].mean(axis=0)
        assert rest_offset[2] == pytest.approx(SMPL_PELVIS_ABOVE_HIPS - 0.06, abs=0.02)
        pelvis = result.solution.heads[:, result.plan.root]
        np.testing.assert_allclose(pelvis, source + result.solution.deltas[:, result.plan.root] @ rest_offset, atol=1e-6)


def test_walking_path_and_heights_scale_with_the_legs():
    motion = walk_motions()[1]
    spec = avatar_spec("mixamo", rest_joints(motion), jitter=0.0, scale=1.25)
    result = retarget_one(source_of(motion), spec.target_rig(), NO_FEET)
    assert result.solution.leg_scale == pytest.approx(1.25, abs=1e-9)
    source, target = hip_mid(result)
    np.testing.assert_allclose(target[:, :2] - target[0, :2], 1.25 * (source[:, :2] - source[0, :2]), atol=1e-9)
    np.testing.assert_allclose(target[:, 2], 1.25 * source[:, 2], atol=1e-6)


def hanging_rig(motion, spec_seed: int = 3) -> tuple[TargetRig, TargetRig, float]:
    """(the avatar standing on its origin, the same avatar hanging from it, the drop in metres):
    the second is every bone moved down by the hips' rest height, as Blender's BVH importer
    builds a motion-capture file whose root offset is zero."""
    spec = avatar_spec("mixamo", rest_joints(motion), jitter=0.0, roll_seed=spec_seed)
    standing = spec.target_rig()
    drop = float(spec.heads[spec.names.index("mixamorig:Hips"), 2])
    matrices = standing.rest_matrices.copy()
    matrices[:, 2, 3] -= drop
    tails = standing.tails.copy()
    tails[:, 2] -= drop
    hanging = TargetRig("Hanging", standing.bone_names, standing.parents, matrices, tails,
                        connected=standing.connected)
    return standing, hanging, drop


@pytest.mark.parametrize("foot_cleanup", [False, True])
def test_a_rig_hanging_from_its_origin_stands_on_the_floor_like_the_same_rig_standing(foot_cleanup, monkeypatch):
    """The armature's origin is where a modelled avatar stands; taken as the floor of a BVH
    import (feet 0.9 m below the origin), the avatar sank by its hip height."""
    motion = walk_motions()[0]
    standing, hanging, drop = hanging_rig(motion)
    config = RetargetConfig(foot_cleanup=foot_cleanup)
    expected = retarget_one(source_of(motion), standing, config).solution.heads
    got = retarget_one(source_of(motion), hanging, config).solution.heads
    np.testing.assert_allclose(got, expected, atol=2e-3)
    import addon.core.retarget.api as api_module

    monkeypatch.setattr(api_module, "standing_floor", lambda plan, rest, smpl: rest)  # the origin as the floor
    sunk = retarget_one(source_of(motion), hanging, RetargetConfig(foot_cleanup=False)).solution.heads
    assert np.median(expected[..., 2] - sunk[..., 2]) > 0.8 * drop
