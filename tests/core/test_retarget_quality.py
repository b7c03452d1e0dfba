"""The quality score: direction error against an independent measurement, penetration, the summary."""

import numpy as np

from addon.core.retarget.api import RetargetConfig, retarget_one, retarget_people
from addon.core.retarget.quality import direction_errors, target_joints
from addon.core.retarget.rotmath import angle_between_deg
from addon.core.skeleton import JOINT_INDEX
from helpers.avatar_rigs import avatar_spec, random_motion, rest_joints, source_of, walk_motions


def test_direction_error_agrees_with_the_posed_bone_heads():
    """Mixamo bones point at their child's head, so head -> child head is the bone's direction."""
    motion = random_motion()
    spec = avatar_spec("mixamo", rest_joints(motion), rest="A")
    result = retarget_one(source_of(motion), spec.target_rig(), RetargetConfig(calibration="NONE", foot_cleanup=False))
    heads, joints = result.solution.heads, result.smpl.joints
    index = result.bone
    for joint, bone, child_bone, child in (("left_shoulder", "mixamorig:LeftArm", "mixamorig:LeftForeArm", "left_elbow"),
                                           ("right_knee", "mixamorig:RightLeg", "mixamorig:RightFoot", "right_ankle")):
        independent = angle_between_deg(heads[:, index(child_bone)] - heads[:, index(bone)],
                                         joints[:, JOINT_INDEX[child]] - joints[:, JOINT_INDEX[joint]])
        column = list(result.plan.measured_joints).index(JOINT_INDEX[joint])
        np.testing.assert_allclose(direction_errors(result.plan, result.smpl, result.solution)[:, column], independent, atol=1e-6)
    assert result.score.direction_max_deg > 20.0 and result.score.worst_joint in {"left_shoulder", "right_shoulder",
                                                                                  "left_elbow", "right_elbow",
                                                                                  "left_wrist", "right_wrist"}


def pair_scores(scale, config, shift=(0.0, 0.0, 0.0)):
    motions = list(walk_motions())
    motions[1] = motions[1].copy()
    motions[1].transl = motions[1].transl + shift
    rigs = [avatar_spec("unreal", rest_joints(m), scale=scale, jitter=0.0).target_rig(f"A{k}") for k, m in enumerate(motions)]
    results = retarget_people([(source_of(m, f"P{k}"), rig) for k, (m, rig) in enumerate(zip(motions, rigs))], config)
    return [r.score for r in results]


def test_penetration_compares_the_retargeted_pair_with_the_source_pair():
    same_a, same_b = pair_scores(1.0, RetargetConfig())  # avatars shaped like the source bodies
    assert same_a.source_penetration_max_m == same_b.source_penetration_max_m > 0.0
    assert same_a.penetration_max_m == same_b.penetration_max_m
    assert abs(same_a.penetration_max_m - same_a.source_penetration_max_m) < 0.01
    # Bigger avatars on the persons' own paths (arm in arm) overlap a lot more.
    big, _ = pair_scores(1.3, RetargetConfig(scale_root=False))
    assert big.penetration_max_m > big.source_penetration_max_m + 0.02
    assert 0.0 < big.penetration_fraction <= 1.0
    apart, _ = pair_scores(1.0, RetargetConfig(), shift=(5.0, 0.0, 0.0))  # far apart nobody touches
    assert apart.penetration_max_m == 0.0 and apart.penetration_fraction == 0.0
    motion = walk_motions()[0]
    single = retarget_people([(source_of(motion), avatar_spec("unreal", rest_joints(motion)).target_rig())], RetargetConfig())
    assert np.isnan(single[0].score.penetration_max_m) and "penetration" not in single[0].score.summary()


def test_target_joints_sit_on_the_mapped_bone_heads():
    motion = walk_motions()[0]
    spec = avatar_spec("unreal", rest_joints(motion), spine_bones=2)
    result = retarget_one(source_of(motion), spec.target_rig(), RetargetConfig())
    joints = target_joints(result.plan, result.smpl, result.solution)
    pelvis, thigh = result.bone("pelvis"), result.bone("thigh_l")
    np.testing.assert_allclose(joints[:, JOINT_INDEX["pelvis"]], result.solution.heads[:, pelvis])
    np.testing.assert_allclose(joints[:, JOINT_INDEX["left_hip"]], result.solution.heads[:, thigh])
    spine2 = joints[:, JOINT_INDEX["spine2"]]  # unmapped on a two-bone spine: between its neighbours
    below, above = joints[:, JOINT_INDEX["spine1"]], joints[:, JOINT_INDEX["spine3"]]
    assert (np.linalg.norm(spine2 - below, axis=1) < np.linalg.norm(above - below, axis=1) + 0.05).all()


def test_summary_names_the_numbers():
    motion = walk_motions()[0]
    result = retarget_one(source_of(motion), avatar_spec("mixamo", rest_joints(motion)).target_rig(), RetargetConfig())
    text = result.score.summary()
    assert "direction" in text and "deg" in text and "feet" in text and "contacts" in text and "scale" in text
    data = result.score.as_dict()
    assert data["contact_frames"] == result.score.contact_frames and isinstance(data["missing"], list)
    assert data["missing"] == []


def test_follow_warning_only_when_blender_strays_beyond_the_keys():
    from addon.core.retarget.quality import follow_warning

    assert follow_warning(23.0, 0.4).startswith("WARNING: the rig does not follow the keys (23 deg")
    assert follow_warning(4.9, 0.4) == ""  # within the tolerance
    assert follow_warning(9.2, 9.0) == ""  # the keys themselves are that far (the foot clean-up's IK)
