"""The retarget solve, checked by value: the change-of-basis formula, calibration, chains, root,
Blender's pose-channel convention (an independent FK here) and bad input."""

import numpy as np
import pytest

from addon.core.axes import Y_UP_TO_Z_UP
from addon.core.retarget.api import RetargetConfig, retarget_one, retarget_people
from addon.core.retarget.channels import euler_to_matrix, matrix_to_euler, rotation_channels
from addon.core.retarget.mapping import MappingError
from addon.core.retarget.quality import direction_errors
from addon.core.retarget.rig import SourceMotion, TargetRig
from addon.core.retarget.rotmath import angle_between_deg, twist_angle, unit
from addon.core.rig_pose import bone_channels_from_smpl, rig_rest
from addon.core.rotations import axis_angle_to_matrix, quaternion_to_matrix
from addon.core.skeleton import JOINT_NAMES, PARENTS
from helpers.avatar_rigs import _frames, avatar_spec, random_motion, rest_joints, source_of, walk_motions

EXACT = RetargetConfig(calibration="NONE", foot_cleanup=False)
NO_FEET = RetargetConfig(foot_cleanup=False)

RIGS = {
    "mixamo T 1.0 rolls": ("mixamo", {}),
    "rigify A 0.8 twist": ("rigify", {"rest": "A", "scale": 0.8, "twist_bones": True}),
    "unreal A 1.3 twist 5-spine euler": ("unreal", {"rest": "A", "scale": 1.3, "twist_bones": True, "spine_bones": 5,
                                                    "euler_bones": ("calf_l", "hand_r", "spine_03")}),
    "unreal T 2-spine": ("unreal", {"spine_bones": 2}),
    "mixamo A facing +X": ("mixamo", {"rest": "A", "yaw_deg": 90.0}),
}


def spec_of(key, motion):
    scheme, options = RIGS[key]
    return avatar_spec(scheme, rest_joints(motion), seed=7, roll_seed=11, **options)


def blender_fk(rig: TargetRig, result) -> tuple[np.ndarray, np.ndarray]:
    """World heads (T, B, 3) and rotations (T, B, 3, 3) of the keyed channels, composed the way
    Blender composes pose bones: pose_b = pose_parent (rest_parent^-1 rest_b) basis_b."""
    T, B = result.smpl.num_frames, rig.num_bones
    basis = np.tile(np.eye(4), (T, B, 1, 1))  # Blender's basis: T(location) R(rotation)
    rotations = {}
    for channel in result.channels:
        rotations.setdefault((channel.bone, channel.prop), {})[channel.index] = channel.values
    for (bone, prop), values in rotations.items():
        b = rig.bone_names.index(bone)
        stacked = np.stack([values[i] for i in sorted(values)], axis=1)
        if prop == "rotation_quaternion":
            basis[:, b, :3, :3] = quaternion_to_matrix(stacked)
        elif prop == "rotation_euler":
            basis[:, b, :3, :3] = euler_to_matrix(stacked, rig.rotation_modes[b])
        elif prop == "rotation_axis_angle":
            basis[:, b, :3, :3] = axis_angle_to_matrix(stacked[:, 1:] * stacked[:, :1])
    for (bone, prop), values in rotations.items():
        if prop == "location":
            b = rig.bone_names.index(bone)
            basis[:, b, :3, 3] = np.stack([values[i] for i in range(3)], axis=1)
    rest = np.asarray(rig.rest_matrices, dtype=np.float64).copy()
    u, _, vt = np.linalg.svd(rest[:, :3, :3])
    rest[:, :3, :3] = u @ vt
    pose = np.empty((T, B, 4, 4))
    done = set()
    while len(done) < B:
        for b in range(B):
            p = rig.parents[b]
            if b in done or (p >= 0 and p not in done):
                continue
            local = rest[b] if p < 0 else np.linalg.inv(rest[p]) @ rest[b]
            pose[:, b] = (local if p < 0 else pose[:, p] @ local) @ basis[:, b]
            done.add(b)
    world = np.asarray(rig.object_matrix) @ pose
    scale = np.cbrt(np.linalg.det(np.asarray(rig.object_matrix)[:3, :3]))
    return world[..., :3, 3], world[..., :3, :3] / scale


def test_change_of_basis_formula_is_exact_for_equal_rests():
    """B_tgt = C^-1 B_src C, C = S^-1 T, on an SMPL-named target with other bone rolls."""
    motion = random_motion()
    rest_y = rest_joints(motion)
    smpl = rig_rest(rest_y)
    S = _frames(smpl.heads, smpl.tails, roll_seed=1)  # the source rig's bone frames
    T = _frames(smpl.heads, smpl.tails, roll_seed=2)  # the target's: same bones, other rolls
    matrices = np.tile(np.eye(4), (24, 1, 1))
    matrices[:, :3, :3], matrices[:, :3, 3] = T, smpl.heads
    rig = TargetRig("SMPL-like", JOINT_NAMES, PARENTS, matrices, smpl.tails)
    result = retarget_one(source_of(motion), rig, RetargetConfig(mapping="smpl", calibration="NONE", foot_cleanup=False))
    source_q, _ = bone_channels_from_smpl(motion.local_rotations(), motion.transl, rest_y, S)
    C = np.swapaxes(S, -1, -2) @ T
    expected = np.linalg.inv(C)[None] @ quaternion_to_matrix(source_q) @ C[None]
    got = quaternion_to_matrix(result.solution.quaternions)
    order = [list(result.solution.keyed).index(j) for j in range(24)]
    np.testing.assert_allclose(got[:, order], expected, atol=1e-9)
    assert direction_errors(result.plan, result.smpl, result.solution).max() < 1e-6


@pytest.mark.parametrize("key", list(RIGS))
def test_every_rig_follows_the_smpl_bone_directions_within_2_degrees(key):
    for motion, config in ((random_motion(), NO_FEET), *((m, RetargetConfig()) for m in walk_motions())):
        spec = spec_of(key, motion)
        result = retarget_one(source_of(motion), spec.target_rig(), config)
        errors = direction_errors(result.plan, result.smpl, result.solution)
        assert errors.max() <= 2.0, (key, result.score.summary())
        # The measured chains: every SMPL body joint that has a direction.
        measured = {JOINT_NAMES[j] for j in result.plan.measured_joints}
        assert {"left_hip", "right_knee", "left_shoulder", "right_elbow", "left_wrist", "spine1", "neck"} <= measured
        assert result.mapping.as_dict() == spec.expected


@pytest.mark.parametrize("key", ["rigify A 0.8 twist", "unreal A 1.3 twist 5-spine euler", "mixamo A facing +X"])
def test_negative_control_without_calibration_fails_the_same_test(key):
    motion = random_motion()
    result = retarget_one(source_of(motion), spec_of(key, motion).target_rig(), EXACT)
    assert direction_errors(result.plan, result.smpl, result.solution).max() > 20.0


@pytest.mark.parametrize("key", ["unreal A 1.3 twist 5-spine euler", "rigify A 0.8 twist", "mixamo A facing +X"])
def test_keyed_channels_reproduce_the_solution_through_blenders_pose_convention(key):
    motion = walk_motions()[0]
    spec = spec_of(key, motion)
    result = retarget_one(source_of(motion), spec.target_rig(), RetargetConfig())
    heads, rotations = blender_fk(spec.target_rig(), result)
    np.testing.assert_allclose(heads, result.solution.heads, atol=1e-9)
    rest_world = result.rest.rotations
    np.testing.assert_allclose(rotations, result.solution.deltas @ rest_world[None], atol=1e-9)
    props = {c.prop for c in result.channels}
    assert "rotation_euler" in props if "euler" in key else props == {"rotation_quaternion", "location"}


def test_object_transform_of_an_fbx_style_rig_changes_nothing_in_world():
    """Armature data Y-up in centimetres, object turned +90 deg about X and scaled 0.01."""
    motion = walk_motions()[1]
    spec = avatar_spec("mixamo", rest_joints(motion), seed=2)
    plain = retarget_one(source_of(motion), spec.target_rig(), RetargetConfig())
    to_y_up = Y_UP_TO_Z_UP.T
    matrices = spec.rest_matrices()
    matrices[:, :3, :3] = to_y_up @ matrices[:, :3, :3]
    matrices[:, :3, 3] = 100.0 * spec.heads @ to_y_up.T
    obj = np.eye(4)
    obj[:3, :3] = 0.01 * Y_UP_TO_Z_UP
    obj[:3, 3] = [0.5, -2.0, 0.0]  # the avatar stands elsewhere: it is moved to the person
    fbx = TargetRig("FBX", spec.names, spec.parents, matrices, 100.0 * spec.tails @ to_y_up.T, obj, connected=spec.connected)
    result = retarget_one(source_of(motion), fbx, RetargetConfig())
    np.testing.assert_allclose(result.solution.heads, plain.solution.heads, atol=1e-7)
    heads, _ = blender_fk(fbx, result)
    np.testing.assert_allclose(heads, plain.solution.heads, atol=1e-7)
    assert abs(result.score.direction_max_deg - plain.score.direction_max_deg) < 1e-6


def test_facing_is_calibrated_from_the_hips():
    motion = walk_motions()[0]
    result = retarget_one(source_of(motion), spec_of("mixamo A facing +X", motion).target_rig(), RetargetConfig())
    pelvis = result.plan.bone_of_joint[0]
    # The avatar rests facing +X; turned by its pelvis delta it must face where SMPL faces.
    facing = np.einsum("tij,j->ti", result.solution.deltas[:, pelvis], [1.0, 0.0, 0.0])
    assert angle_between_deg(facing, result.smpl.forward()).max() < 2.0


def test_match_pose_reproduces_the_direction_calibration():
    motion = walk_motions()[0]
    spec = spec_of("rigify A 0.8 twist", motion)
    directions = retarget_one(source_of(motion), spec.target_rig(), NO_FEET)
    frame = 17
    posed = np.tile(np.eye(4), (len(spec.names), 1, 1))
    posed[:, :3, :3] = directions.solution.deltas[frame] @ directions.rest.rotations  # world = armature here
    posed[:, :3, 3] = directions.solution.heads[frame]
    rig = TargetRig("A", spec.names, spec.parents, spec.rest_matrices(), spec.tails, connected=spec.connected,
                    pose_matrices=posed)
    matched = retarget_one(source_of(motion), rig, RetargetConfig(calibration="MATCH_POSE", match_frame=frame, foot_cleanup=False))
    mapped = directions.plan.bone_of_joint[directions.plan.mapped_joints]
    np.testing.assert_allclose(matched.solution.deltas[:, mapped], directions.solution.deltas[:, mapped], atol=1e-9)


def test_match_pose_of_an_a_posed_avatar_raised_to_a_t_pose():
    motion = random_motion()
    spec = avatar_spec("mixamo", rest_joints(motion), rest="A", a_pose_deg=40.0, jitter=0.0)
    posed = spec.rest_matrices()
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        turn = axis_angle_to_matrix(np.array([0.0, -sign * np.radians(40.0), 0.0]))  # undo the A-pose
        for name in (f"{side}Arm", f"{side}ForeArm", f"{side}Hand", f"{side}HandIndex1"):
            b = spec.names.index(f"mixamorig:{name}")
            posed[b, :3, :3] = turn @ posed[b, :3, :3]
    rig = TargetRig("A", spec.names, spec.parents, spec.rest_matrices(), spec.tails, pose_matrices=posed)
    matched = retarget_one(source_of(motion), rig, RetargetConfig(calibration="MATCH_POSE", foot_cleanup=False))
    assert direction_errors(matched.plan, matched.smpl, matched.solution).max() < 1e-6
    unmatched = retarget_one(source_of(motion), rig, EXACT)
    assert direction_errors(unmatched.plan, unmatched.smpl, unmatched.solution).max() > 20.0


def test_root_height_and_path_scale_with_the_legs_and_in_place_holds_still():
    motion = walk_motions()[0]
    source = source_of(motion)
    small = retarget_one(source, avatar_spec("mixamo", rest_joints(motion), scale=0.8, jitter=0.0).target_rig(), NO_FEET)
    big = retarget_one(source, avatar_spec("mixamo", rest_joints(motion), scale=1.3, jitter=0.0).target_rig(), NO_FEET)
    for result, scale in ((small, 0.8), (big, 1.3)):
        assert abs(result.solution.leg_scale - scale) < 0.01
        root = result.solution.heads[:, result.plan.root]
        pelvis = result.smpl.joints[:, 0]
        np.testing.assert_allclose(root[:, :2] - root[0, :2], result.solution.leg_scale * (pelvis[:, :2] - pelvis[0, :2]), atol=1e-9)
        assert np.abs(np.diff(root[:, 2]) - result.solution.leg_scale * np.diff(pelvis[:, 2])).max() < 1e-9
    still = retarget_one(source, avatar_spec("mixamo", rest_joints(motion)).target_rig(),
                         RetargetConfig(root_motion="IN_PLACE", foot_cleanup=False))
    root = still.solution.heads[:, still.plan.root]
    assert np.ptp(root[:, 0]) < 1e-9 and np.ptp(root[:, 1]) < 1e-9 and np.ptp(root[:, 2]) > 0.005
    unscaled = retarget_one(source, avatar_spec("mixamo", rest_joints(motion), scale=1.3).target_rig(),
                            RetargetConfig(scale_root=False, foot_cleanup=False))
    assert unscaled.solution.leg_scale == 1.0


def test_spine_bend_spreads_over_in_between_bones_and_limb_segments_only_twist():
    motion = random_motion()
    ue5 = spec_of("unreal A 1.3 twist 5-spine euler", motion)
    result = retarget_one(source_of(motion), ue5.target_rig(), NO_FEET)
    d = result.solution.deltas
    index = ue5.names.index
    relative = lambda a, b: np.swapaxes(d[:, index(a)], -1, -2) @ d[:, index(b)]  # noqa: E731
    whole = np.linalg.norm(_axis_angle(relative("spine_01", "spine_03")), axis=1)
    half = np.linalg.norm(_axis_angle(relative("spine_01", "spine_02")), axis=1)
    np.testing.assert_allclose(half, 0.5 * whole, rtol=0.03, atol=1e-6)  # spine_02 sits half way up
    # Unreal's side twist bones keep the limb's direction and take a share of the next joint's twist.
    for twist, owner, nxt, share in (("lowerarm_twist_01_l", "lowerarm_l", "hand_l", 0.7),
                                     ("upperarm_twist_01_r", "upperarm_r", "lowerarm_r", 0.5)):
        axis = unit(ue5.heads[index(nxt)] - ue5.heads[index(owner)])
        along_twist = np.einsum("tij,j->ti", d[:, index(twist)], axis)
        along_owner = np.einsum("tij,j->ti", d[:, index(owner)], axis)
        assert angle_between_deg(along_twist, along_owner).max() < 1e-6
        full = twist_angle(relative(owner, nxt), np.broadcast_to(axis, (len(d), 3)))
        part = twist_angle(relative(owner, twist), np.broadcast_to(axis, (len(d), 3)))
        np.testing.assert_allclose(part, share * full, atol=0.02)
        assert np.abs(full).max() > 0.3
    rigify = spec_of("rigify A 0.8 twist", motion)
    result = retarget_one(source_of(motion), rigify.target_rig(), NO_FEET)
    d = result.solution.deltas
    upper, segment = rigify.names.index("DEF-upper_arm.L"), rigify.names.index("DEF-upper_arm.L.001")
    axis = unit(rigify.tails[upper] - rigify.heads[upper])
    # The second segment of the upper arm does not bend: it points where the first one points.
    assert angle_between_deg(d[:, segment] @ axis, d[:, upper] @ axis).max() < 1e-6


def _axis_angle(matrices):
    from addon.core.rotations import matrix_to_axis_angle

    return matrix_to_axis_angle(matrices)


@pytest.mark.parametrize("mode", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_channels_round_trip_in_every_order(mode):
    rng = np.random.default_rng(4)
    R = axis_angle_to_matrix(rng.normal(size=(200, 3)))
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(R, mode), mode), R, atol=1e-12)
    # Blender's order letters: the first is applied first (XYZ: R = Rz Ry Rx).
    angles = np.array([0.3, -0.2, 0.5])
    rx, ry, rz = (axis_angle_to_matrix(np.eye(3)[i] * angles[i]) for i in range(3))
    assert np.allclose(euler_to_matrix(angles, "XYZ"), rz @ ry @ rx)


def test_rotation_channels_are_continuous_and_axis_angle_matches():
    rng = np.random.default_rng(5)
    steps = axis_angle_to_matrix(rng.normal(scale=0.2, size=(300, 3)))
    R = np.empty_like(steps)
    R[0] = steps[0]
    for t in range(1, len(steps)):  # a random walk that passes every orientation, gimbal lock included
        R[t] = R[t - 1] @ steps[t]
    from addon.core.rotations import matrix_to_quaternion, quaternion_continuity

    q = quaternion_continuity(matrix_to_quaternion(R))
    _, euler = rotation_channels(q, "ZXY")
    raw = matrix_to_euler(R, "ZXY")
    assert np.abs(np.diff(raw, axis=0)).max() > np.pi  # the plain conversion wraps and flips ...
    assert np.abs(np.diff(euler, axis=0)).max() < 2.0  # ... the keyed channels do not (steps ~0.35 rad)
    np.testing.assert_allclose(euler_to_matrix(euler, "ZXY"), R, atol=1e-9)
    _, aa = rotation_channels(q, "AXIS_ANGLE")
    np.testing.assert_allclose(axis_angle_to_matrix(aa[:, 1:] * aa[:, :1]), R, atol=1e-9)


def test_bad_input_gives_errors_naming_the_object_and_field():
    motion = walk_motions()[0]
    source = source_of(motion)
    spec = avatar_spec("mixamo", rest_joints(motion))
    rig = spec.target_rig("Hero")
    with pytest.raises(MappingError, match="'Hero'.*pelvis"):
        retarget_one(source, TargetRig("Hero", ("Bone",), (-1,), np.eye(4)[None], np.array([[0.0, 1.0, 0.0]])), RetargetConfig())
    connected = list(spec.connected)
    connected[spec.names.index("mixamorig:Hips")] = True
    stuck = TargetRig("Hero", spec.names, spec.parents, spec.rest_matrices(), spec.tails, connected=tuple(connected))
    with pytest.raises(MappingError, match="'mixamorig:Hips' \\(the pelvis\\) is connected"):
        retarget_one(source, stuck, RetargetConfig())
    squashed = np.diag([1.0, 1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="armature 'Hero': non-uniform object scale"):
        spec.target_rig("Hero", squashed)
    with pytest.raises(ValueError, match="source 'P': local_rotations must be"):
        SourceMotion("P", np.zeros((5, 23, 3, 3)), np.zeros((5, 3)), np.zeros((24, 3)), 30.0)
    with pytest.raises(ValueError, match="calibration: expected one of"):
        RetargetConfig(calibration="ROUGHLY")
    with pytest.raises(ValueError, match="mapping FILE: no mapping file"):
        RetargetConfig(mapping="FILE")
    with pytest.raises(ValueError, match="avatar 'Hero' is the target of both 'A' and 'B'"):
        retarget_people([(source_of(motion, "A"), rig), (source_of(motion, "B"), rig)], RetargetConfig())
    with pytest.raises(ValueError, match="match_frame 500 outside"):
        posed = TargetRig("Hero", spec.names, spec.parents, spec.rest_matrices(), spec.tails, pose_matrices=spec.rest_matrices())
        retarget_one(source, posed, RetargetConfig(calibration="MATCH_POSE", match_frame=500))
