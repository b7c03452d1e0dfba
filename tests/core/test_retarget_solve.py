"""The retarget solve, checked by value: the change-of-basis formula, calibration, chains, root,
Blender's pose-channel convention (an independent FK here) and bad input."""

import numpy as np
import pytest

from addon.core.axes import Y_UP_TO_Z_UP
from addon.core.motion.motion import Motion
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


def blender_fk(rig: TargetRig, result, leftover: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World heads (T, B, 3) and rotations (T, B, 3, 3) of the keyed channels, composed the way
    Blender composes pose bones: pose_b = pose_parent (rest_parent^-1 rest_b) basis_b.

    leftover: (B, 4, 4) the pose basis the bones had before (default: rest); it stays on every
    bone the action has no channel for (a bone with any channel is reset first, as the bridge
    does for the channels it does not key)."""
    T, B = result.smpl.num_frames, rig.num_bones
    basis = np.tile(np.eye(4), (T, B, 1, 1))  # Blender's basis: T(location) R(rotation) S(scale)
    if leftover is not None:
        basis[:] = leftover
    rotations = {}
    for channel in result.channels:
        rotations.setdefault((channel.bone, channel.prop), {})[channel.index] = channel.values
    for bone in {bone for bone, _ in rotations}:
        basis[:, rig.bone_names.index(bone)] = np.eye(4)
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
        b = rig.bone_names.index(bone)
        stacked = np.stack([values[i] for i in sorted(values)], axis=1)
        if prop == "location":
            basis[:, b, :3, 3] = stacked
        elif prop == "scale":
            basis[:, b, :3, :3] = basis[:, b, :3, :3] * stacked[:, None, :]
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
    order = [list(result.plan.bones[result.solution.keyed]).index(j) for j in range(24)]
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
    solved = result.plan.bones  # the keyed bones and their ancestors
    np.testing.assert_allclose(heads[:, solved], result.solution.heads, atol=1e-9)
    rest_world = result.rest.rotations
    np.testing.assert_allclose(rotations[:, solved], result.solution.deltas @ rest_world[None], atol=1e-9)
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
    np.testing.assert_allclose(heads[:, result.plan.bones], plain.solution.heads, atol=1e-7)
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
    posed = spec.rest_matrices()
    solved = directions.plan.bones
    posed[solved, :3, :3] = directions.solution.deltas[frame] @ directions.rest.rotations  # world = armature here
    posed[solved, :3, 3] = directions.solution.heads[frame]
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
    index = result.bone
    relative = lambda a, b: np.swapaxes(d[:, index(a)], -1, -2) @ d[:, index(b)]  # noqa: E731
    whole = np.linalg.norm(_axis_angle(relative("spine_01", "spine_03")), axis=1)
    half = np.linalg.norm(_axis_angle(relative("spine_01", "spine_02")), axis=1)
    np.testing.assert_allclose(half, 0.5 * whole, rtol=0.03, atol=1e-6)  # spine_02 sits half way up
    # Unreal's forearm/shin twist bones keep the limb's direction and take a share of the next joint's twist.
    for twist, owner, nxt, share in (("lowerarm_twist_01_l", "lowerarm_l", "hand_l", 0.7),
                                     ("calf_twist_01_r", "calf_r", "foot_r", 0.5)):
        axis = unit(ue5.heads[ue5.names.index(nxt)] - ue5.heads[ue5.names.index(owner)])
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
    upper, segment = result.bone("DEF-upper_arm.L"), result.bone("DEF-upper_arm.L.001")
    full_upper = rigify.names.index("DEF-upper_arm.L")
    axis = unit(rigify.tails[full_upper] - rigify.heads[full_upper])
    # The second segment of the upper arm does not bend: it points where the first one points.
    assert angle_between_deg(d[:, segment] @ axis, d[:, upper] @ axis).max() < 1e-6


def test_upper_arm_and_thigh_twist_bones_share_the_shoulder_and_hip_roll():
    """A shoulder (hip) rolling about the arm (leg): upperarm_twist_01 half way down takes half
    the roll relative to the clavicle (pelvis), the upper arm all of it; the elbow, a hinge,
    has no twist, so sharing its twist (as before) left the twist bone a copy of its parent."""
    T = 9
    roll = np.linspace(-1.0, 1.0, T)  # radians
    body_pose = np.zeros((T, 23, 3))
    body_pose[:, JOINT_NAMES.index("left_shoulder") - 1, 0] = roll  # template: the left arm along +x
    body_pose[:, JOINT_NAMES.index("left_hip") - 1, 1] = roll  # template: the leg along -y
    motion = Motion(np.tile([np.pi / 2, 0.0, 0.0], (T, 1)), body_pose, np.tile([0.0, 0.0, 0.95], (T, 1)),
                    np.zeros(10), 30.0)
    spec = avatar_spec("unreal", rest_joints(motion), twist_bones=True, jitter=0.0, roll_seed=5)
    result = retarget_one(source_of(motion), spec.target_rig(), NO_FEET)
    d = result.solution.deltas
    for parent, upper, twist, lower in (("clavicle_l", "upperarm_l", "upperarm_twist_01_l", "lowerarm_l"),
                                        ("pelvis", "thigh_l", "thigh_twist_01_l", "calf_l")):
        axis = np.broadcast_to(unit(spec.heads[spec.names.index(lower)] - spec.heads[spec.names.index(upper)]), (T, 3))
        relative = lambda bone: np.swapaxes(d[:, result.bone(parent)], -1, -2) @ d[:, result.bone(bone)]  # noqa: E731
        np.testing.assert_allclose(np.abs(twist_angle(relative(upper), axis)), np.abs(roll), atol=0.01)
        np.testing.assert_allclose(twist_angle(relative(twist), axis), 0.5 * twist_angle(relative(upper), axis), atol=1e-6)
        # ... and still points along the limb.
        along = lambda bone: np.einsum("tij,tj->ti", d[:, result.bone(bone)], axis)  # noqa: E731
        assert angle_between_deg(along(twist), along(upper)).max() < 1e-6


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


def random_pose(count: int, seed: int) -> np.ndarray:
    """(count, 4, 4) pose bases with random rotations (~1 rad) and locations (~0.3 m)."""
    rng = np.random.default_rng(seed)
    out = np.tile(np.eye(4), (count, 1, 1))
    out[:, :3, :3] = axis_angle_to_matrix(rng.normal(scale=0.6, size=(count, 3)))
    out[:, :3, 3] = rng.normal(scale=0.3, size=(count, 3))
    return out


@pytest.mark.parametrize("key", ["unreal A 1.3 twist 5-spine euler", "mixamo T 1.0 rolls"])
def test_bones_the_solve_assumes_at_rest_are_keyed_at_rest(key):
    """Unreal's root (above the pelvis) was never keyed: a pose left on it (a previous
    root-motion clip) moved the whole avatar, 3.8 m in the audit, with a perfect score."""
    motion = walk_motions()[0]
    spec = spec_of(key, motion)
    rig = spec.target_rig()
    result = retarget_one(source_of(motion), rig, RetargetConfig())
    heads, rotations = blender_fk(rig, result, leftover=random_pose(rig.num_bones, 1))
    solved = result.plan.bones
    np.testing.assert_allclose(heads[:, solved], result.solution.heads, atol=1e-9)
    np.testing.assert_allclose(rotations[:, solved], result.solution.deltas @ result.rest.rotations[None], atol=1e-9)
    rest_keyed = {result.rig.bone_names[b] for b in result.plan.rest_keyed}
    assert rest_keyed == ({"root"} if key.startswith("unreal") else set())
    if rest_keyed:
        props = {(c.prop, c.index): c.values for c in result.channels if c.bone == "root"}
        np.testing.assert_array_equal(props[("rotation_quaternion", 0)], 1.0)
        assert set(props) == {("rotation_quaternion", i) for i in range(4)} | {(p, i) for p in ("location", "scale") for i in range(3)}


def test_only_keyed_bones_and_their_ancestors_are_solved_on_a_rig_with_hundreds_of_extra_bones():
    """A production rig: the test avatar plus 400 face/hair/finger bones. The result is the
    plain avatar's, and the solve works on the plain avatar's bones only."""
    motion = walk_motions()[0]
    spec = spec_of("unreal A 1.3 twist 5-spine euler", motion)
    plain = retarget_one(source_of(motion), spec.target_rig(), RetargetConfig())
    big = with_extra_bones(spec.target_rig(), 400)
    result = retarget_one(source_of(motion), big, RetargetConfig())
    assert big.num_bones == spec.target_rig().num_bones + 400
    assert len(result.plan.bones) == len(plain.plan.bones) <= spec.target_rig().num_bones
    assert [(c.bone, c.prop, c.index) for c in result.channels] == [(c.bone, c.prop, c.index) for c in plain.channels]
    for a, b in zip(result.channels, plain.channels):
        np.testing.assert_allclose(a.values, b.values, atol=1e-12)
    np.testing.assert_allclose(result.solution.heads, plain.solution.heads, atol=1e-12)
    heads, _ = blender_fk(big, result)
    np.testing.assert_allclose(heads[:, result.plan.bones], result.solution.heads, atol=1e-9)


def with_extra_bones(rig: TargetRig, count: int, seed: int = 0) -> TargetRig:
    """``rig`` plus ``count`` small unmapped bones in chains of 4 under the head, the hands and
    the pelvis (face, hair, fingers, a skirt)."""
    rng = np.random.default_rng(seed)
    names, parents = list(rig.bone_names), list(rig.parents)
    matrices, tails = list(np.asarray(rig.rest_matrices)), list(np.asarray(rig.tails))
    anchors = [rig.index(n) for n in ("head", "hand_l", "hand_r", "pelvis")]
    for k in range(count):
        parent = anchors[k % len(anchors)] if k % 4 == 0 else len(names) - 1
        head = tails[parent] if k % 4 else matrices[parent][:3, 3] + rng.normal(scale=0.03, size=3)
        tail = head + rng.normal(scale=0.02, size=3)
        matrix = np.eye(4)
        matrix[:3, :3] = _frames(head[None], tail[None], k)[0]
        matrix[:3, 3] = head
        names.append(f"extra_{k:03d}")
        parents.append(parent)
        matrices.append(matrix)
        tails.append(tail)
    return TargetRig(rig.name, tuple(names), tuple(parents), np.array(matrices), np.array(tails),
                     rig.object_matrix, rig.rotation_modes + ("QUATERNION",) * count,
                     rig.connected + (False,) * count)


def test_mechanism_bones_never_take_roles_and_ik_fk_switches_are_keyed_to_fk():
    """Rigify's MCH-/ORG-/tweak bones between or beside mapped bones were keyed as in-between
    and twist bones; constraints drive them. The limbs' IK/FK switches are keyed to FK (1.0)."""
    motion = walk_motions()[0]
    spec = avatar_spec("mixamo", rest_joints(motion), roll_seed=2)
    names, parents = list(spec.names), list(spec.parents)
    heads, tails = list(spec.heads), list(spec.tails)

    def insert(name, above, below):
        """A bone from ``above``'s tail to ``below``'s head, between them in the hierarchy."""
        a, b = names.index(above), names.index(below)
        names.append(name)
        parents.append(a)
        heads.append(heads[b] - 0.3 * (heads[b] - heads[a]))
        tails.append(heads[b].copy())
        parents[b] = len(names) - 1

    insert("MCH-foot_fk.L", "mixamorig:LeftLeg", "mixamorig:LeftFoot")
    insert("MCH-spine.003", "mixamorig:Spine1", "mixamorig:Spine2")
    spine = names.index("mixamorig:Spine")
    for name in ("ORG-spine.001", "tweak_spine.001"):  # side bones along the spine: twist candidates
        names.append(name)
        parents.append(spine)
        heads.append(heads[spine].copy())
        tails.append(heads[names.index("mixamorig:Spine1")].copy())
    heads, tails = np.array(heads), np.array(tails)
    matrices = np.tile(np.eye(4), (len(names), 1, 1))
    matrices[:, :3, :3] = _frames(heads, tails, 2)
    matrices[:, :3, 3] = heads
    rig = TargetRig("Rigify-like", tuple(names), tuple(parents), matrices, tails,
                    fk_switches=("thigh_parent.L", "upper_arm_parent.L"))
    result = retarget_one(source_of(motion), rig, RetargetConfig())
    roles = {result.rig.bone_names[item.bone] for item in (*result.plan.between, *result.plan.twists)}
    assert not {n for n in roles if n.startswith(("MCH-", "ORG-", "tweak"))}, roles
    assert {result.rig.bone_names[b] for b in result.plan.rest_keyed} == {"MCH-foot_fk.L", "MCH-spine.003"}
    switches = {c.bone: c.values for c in result.channels if c.prop == '["IK_FK"]'}
    assert set(switches) == {"thigh_parent.L", "upper_arm_parent.L"}
    assert all(np.all(v == 1.0) and len(v) == len(motion.transl) for v in switches.values())
    assert result.score.direction_max_deg < 2.0
