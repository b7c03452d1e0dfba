"""Retargeting in Blender, measured on the evaluated pose: bone directions, planted feet, the
target's rest data untouched, linked and overridden avatars, batch pairs and bad input."""

import json

import bpy
import numpy as np
import pytest

from addon.bridge import people
from addon.bridge.actions import Channel, read_action, write_action
from addon.core.retarget.feet import foot_contacts
from addon.core.retarget.smpl_world import smpl_world
from addon.core.skeleton import JOINT_INDEX, forward_kinematics
from helpers.avatar_rigs import avatar_spec, build_avatar, rest_joints, source_of, walk_motions

RIGS = {
    "mixamo T 1.0 rolls": ("mixamo", {}),
    "rigify A 0.8 twist": ("rigify", {"rest": "A", "scale": 0.8, "twist_bones": True}),
    "unreal A 1.3 twist 5-spine euler": ("unreal", {"rest": "A", "scale": 1.3, "twist_bones": True, "spine_bones": 5,
                                                    "euler_bones": ("calf_l", "hand_r", "spine_03")}),
    "unreal T 2-spine": ("unreal", {"spine_bones": 2}),
}
# SMPL joint -> the child joint its bone points at (the next one the avatar has a bone for).
CHILDREN = {
    "pelvis": ("spine1",), "spine1": ("spine2", "spine3"), "spine2": ("spine3",), "spine3": ("neck",), "neck": ("head",),
    **{f"{s}_{a}": (f"{s}_{b}",) for s in ("left", "right") for a, b in (
        ("collar", "shoulder"), ("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "hand"),
        ("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"))},
}
EVALUATED_FRAMES = 10


def make_persons():
    collection = bpy.data.collections.new("People")
    bpy.context.scene.collection.children.link(collection)
    rigs = []
    for k, motion in enumerate(walk_motions()):
        person = people.create_person(collection, f"Person {k}", rest_joints(motion), metadata={"role": motion.role})
        people.apply_smpl_poses(person.armature, motion.local_rotations(), motion.transl, f"Person {k} motion",
                                motion.fps, bpy.context.scene.frame_start)
        rigs.append(person.armature)
    return rigs


def make_avatar(key, motion, name="Avatar", seed=7):
    scheme, options = RIGS[key]
    spec = avatar_spec(scheme, rest_joints(motion), seed=seed, roll_seed=seed + 4, **options)
    return spec, build_avatar(spec, name)


def rest_state(obj) -> dict:
    """Everything a retarget must not change: rest matrices (rolls included), heads, tails,
    connections, pose rotation modes and the object transform."""
    bones = obj.data.bones
    out = {}
    for attribute, size in (("matrix_local", 16), ("head_local", 3), ("tail_local", 3)):
        flat = np.empty(len(bones) * size, dtype=np.float32)
        bones.foreach_get(attribute, flat)
        out[attribute] = flat
    out["connect"] = [b.use_connect for b in bones]
    out["names"] = [b.name for b in bones]
    out["modes"] = [pb.rotation_mode for pb in obj.pose.bones]
    out["matrix_world"] = np.array(obj.matrix_world)
    return out


def assert_same_rest(before, after):
    for key in before:
        if isinstance(before[key], np.ndarray):
            np.testing.assert_array_equal(before[key], after[key], err_msg=key)
        else:
            assert before[key] == after[key], key


def smpl_joints(motion) -> np.ndarray:
    """(T, 24, 3) world joints of the source (its rig sits at the origin)."""
    return forward_kinematics(motion.local_rotations(), rest_joints(motion), motion.transl)[1]


def evaluated(obj, frame):
    """World (rotation (B, 3, 3), head (B, 3), tail (B, 3)) of every pose bone at ``frame``."""
    bpy.context.scene.frame_set(frame)
    M = np.array(obj.matrix_world)
    count = len(obj.pose.bones)
    matrices = np.empty(count * 16, dtype=np.float32)
    obj.pose.bones.foreach_get("matrix", matrices)
    matrices = matrices.reshape(count, 4, 4).transpose(0, 2, 1).astype(np.float64)
    world = M[None] @ matrices
    heads, tails = np.empty(count * 3, dtype=np.float32), np.empty(count * 3, dtype=np.float32)
    obj.pose.bones.foreach_get("head", heads)
    obj.pose.bones.foreach_get("tail", tails)
    to_world = lambda p: p.reshape(-1, 3).astype(np.float64) @ M[:3, :3].T + M[:3, 3]  # noqa: E731
    rotations = world[:, :3, :3] / np.linalg.norm(world[:, :3, :3], axis=1, keepdims=True)
    return rotations, to_world(heads), to_world(tails)


def angle_deg(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


def direction_errors(obj, spec, motion, frames) -> dict[str, np.ndarray]:
    """Per mapped SMPL joint, degrees at ``frames`` (0-based clip frames): the angle between the
    SMPL segment and (a) the evaluated bone turned onto its rest chord towards the bone of the
    child joint, (b) the evaluated head -> tail, where the rest tail lies on that chord."""
    joints = smpl_joints(motion)
    index = {b.name: i for i, b in enumerate(obj.pose.bones)}
    rest = {b.name: np.array(b.matrix_local) for b in obj.data.bones}
    M = np.array(obj.matrix_world)
    out = {}
    for joint, children in CHILDREN.items():
        bone = spec.expected.get(joint)
        child = next((c for c in children if c in spec.expected or c == "hand" or c.endswith("_hand")), None)
        if bone is None or child is None:
            continue
        head_rest = rest[bone][:3, 3]
        if child in spec.expected:
            chord = rest[spec.expected[child]][:3, 3] - head_rest
        else:
            chord = np.array(obj.data.bones[bone].tail_local) - head_rest
        chord_world = M[:3, :3] @ chord
        local = np.linalg.inv(M[:3, :3] @ rest[bone][:3, :3]) @ chord_world
        tail_world = M[:3, :3] @ (np.array(obj.data.bones[bone].tail_local) - head_rest)
        tail_on_chord = angle_deg(tail_world, chord_world) < 0.5
        chord_err, tail_err = [], []
        for t in frames:
            rotations, heads, tails = evaluated(obj, bpy.context.scene.frame_start + int(t))
            segment = joints[t, JOINT_INDEX[child]] - joints[t, JOINT_INDEX[joint]]
            chord_err.append(angle_deg(rotations[index[bone]] @ local, segment))
            if tail_on_chord:
                tail_err.append(angle_deg(tails[index[bone]] - heads[index[bone]], segment))
        out[joint] = (np.array(chord_err), np.array(tail_err))
    return out


def planted_foot_heights(obj, spec, motion) -> np.ndarray:
    """|height of the lowest planted foot joint above its rest height| (m) at every contact frame."""
    contacts = foot_contacts(smpl_world(source_of(motion)))
    M = np.array(obj.matrix_world)
    clearance = {}
    for side in ("left", "right"):
        for joint in ("ankle", "foot"):
            name = spec.expected[f"{side}_{joint}"]
            clearance[name] = (M @ np.array([*obj.data.bones[name].head_local, 1.0]))[2] - M[2, 3]
    heights = []
    index = {b.name: i for i, b in enumerate(obj.pose.bones)}
    for t in range(len(motion.transl)):
        planted = [side for side in ("left", "right") if contacts[side][t].any()]
        if not planted:
            continue
        _, heads, _ = evaluated(obj, bpy.context.scene.frame_start + t)
        for side in planted:
            names = [spec.expected[f"{side}_ankle"], spec.expected[f"{side}_foot"]]
            heights.append(min(heads[index[n], 2] - clearance[n] for n in names))
    return np.abs(np.array(heights))


@pytest.fixture
def scene_with_persons(extension):
    bpy.context.scene.render.fps = 10
    return make_persons()


@pytest.mark.parametrize("key", list(RIGS))
def test_retarget_follows_smpl_directions_and_plants_feet_in_blender(scene_with_persons, key):
    motion = walk_motions()[0]
    spec, avatar = make_avatar(key, motion)
    before = rest_state(avatar)
    result = bpy.ops.isynth.retarget(source=scene_with_persons[0].name, target=avatar.name)
    assert result == {"FINISHED"}
    assert_same_rest(before, rest_state(avatar))
    frames = np.linspace(0, len(motion.transl) - 1, EVALUATED_FRAMES).round().astype(int)
    errors = direction_errors(avatar, spec, motion, frames)
    assert len(errors) >= 18  # 19 body segments (18 on a two-bone spine)
    worst = {joint: float(chord.max()) for joint, (chord, _) in errors.items()}
    assert max(worst.values()) <= 2.0, worst
    tails = [tail.max() for _, tail in errors.values() if tail.size]
    assert len(tails) >= 15 and max(tails) <= 2.0
    heights = planted_foot_heights(avatar, spec, motion)
    assert heights.size > 40 and heights.max() <= 0.02, heights.max()
    action = avatar.animation_data.action
    score = json.loads(action["isynth_retarget_score"])
    assert score["direction_max_deg"] <= 2.0 and score["foot_max_m"] <= 0.02
    assert action["isynth_retarget_source"] == scene_with_persons[0].name
    report = bpy.context.scene.isynth_retarget.report
    assert "in Blender" in report and avatar.name in report
    print(f"\n{key}: directions max {max(worst.values()):.3f} deg (head->tail {max(tails):.3f}), "
          f"feet max {100 * heights.max():.2f} cm at {heights.size} contacts")


def test_negative_control_copying_local_rotations_fails_the_same_test(scene_with_persons):
    """The naive retarget: each SMPL bone's local rotation copied onto the avatar's bone."""
    motion = walk_motions()[0]
    spec, avatar = make_avatar("rigify A 0.8 twist", motion)
    source = scene_with_persons[0]
    curves = read_action(source)
    channels = []
    for joint, bone in spec.expected.items():
        for i in range(4):
            values = curves[(f'pose.bones["{joint}"].rotation_quaternion', i)]
            channels.append(Channel(f'pose.bones["{bone}"].rotation_quaternion', i, values, bone))
    for i in range(3):
        channels.append(Channel(f'pose.bones["{spec.expected["pelvis"]}"].location', i,
                                curves[('pose.bones["pelvis"].location', i)], spec.expected["pelvis"]))
    write_action(avatar, "naive copy", channels, bpy.context.scene.frame_start)
    frames = np.linspace(0, len(motion.transl) - 1, EVALUATED_FRAMES).round().astype(int)
    errors = direction_errors(avatar, spec, motion, frames)
    worst = max(float(chord.max()) for chord, _ in errors.values())
    assert worst > 20.0
    print(f"\nnegative control (local rotations copied): directions max {worst:.1f} deg")


@pytest.mark.compat
def test_two_persons_at_once_stash_old_actions_and_keep_rest_data(extension):
    bpy.context.scene.render.fps = 10
    sources = make_persons()
    motion = walk_motions()[0]
    avatars = [make_avatar("mixamo T 1.0 rolls", motion, f"Avatar {k}", seed=k)[1] for k in range(2)]
    old = bpy.data.actions.new("the user's own walk")
    avatars[0].animation_data_create().action = old
    before = [rest_state(a) for a in avatars]
    result = bpy.ops.isynth.retarget(source=",".join(s.name for s in sources), target=",".join(a.name for a in avatars))
    assert result == {"FINISHED"}
    for avatar, state, source in zip(avatars, before, sources):
        assert_same_rest(state, rest_state(avatar))
        action = avatar.animation_data.action
        assert action.name.startswith(f"{source.name} -> {avatar.name}")
        assert len(read_action(avatar)) > 20 * 4
        score = json.loads(action["isynth_retarget_score"])
        assert score["penetration_max_m"] >= 0.0 and score["source_penetration_max_m"] > 0.0
    stash = [t for t in avatars[0].animation_data.nla_tracks if t.name == "[Action Stash]"]
    assert stash and stash[0].strips[0].action == old
    # Again: a second new action, the first one stashed, the rest still untouched.
    first = avatars[1].animation_data.action
    assert bpy.ops.isynth.retarget(source=sources[1].name, target=avatars[1].name) == {"FINISHED"}
    assert avatars[1].animation_data.action != first
    assert any(t.strips[0].action == first for t in avatars[1].animation_data.nla_tracks)
    assert_same_rest(before[1], rest_state(avatars[1]))


def test_panel_pairs_retarget_everyone(scene_with_persons):
    motion = walk_motions()[0]
    avatars = [make_avatar("unreal T 2-spine", motion, f"Avatar {k}", seed=k)[1] for k in range(2)]
    settings = bpy.context.scene.isynth_retarget
    assert bpy.ops.isynth.retarget_pairs_from_scene() == {"FINISHED"}
    assert [p.source for p in settings.pairs] == [o.name for o in scene_with_persons]
    assert bpy.ops.isynth.retarget_pairs_from_scene() == {"FINISHED"}  # listed once only
    assert len(settings.pairs) == 2
    with pytest.raises(RuntimeError, match="pair 1 \\('Person 0'\\): choose both a person and an avatar"):
        bpy.ops.isynth.retarget(use_scene_pairs=True)
    for pair, avatar in zip(settings.pairs, avatars):
        pair.target = avatar.name
    assert bpy.ops.isynth.retarget(use_scene_pairs=True) == {"FINISHED"}
    assert all(a.animation_data.action for a in avatars)
    lines = settings.report.splitlines()
    assert len(lines) == 2 and all("penetration" in line for line in lines)
    assert bpy.ops.isynth.retarget_pair_remove(index=0) == {"FINISHED"}
    assert len(settings.pairs) == 1


def test_defaults_come_from_the_selection(scene_with_persons):
    spec, avatar = make_avatar("mixamo T 1.0 rolls", walk_motions()[1])
    for obj in bpy.context.scene.objects:
        obj.select_set(False)
    scene_with_persons[1].select_set(True)
    avatar.select_set(True)
    bpy.context.view_layer.objects.active = avatar
    assert bpy.ops.isynth.retarget() == {"FINISHED"}
    assert avatar.animation_data.action["isynth_retarget_source"] == scene_with_persons[1].name


def test_linked_and_overridden_avatars(scene_with_persons, tmp_path):
    motion = walk_motions()[0]
    spec, avatar = make_avatar("mixamo T 1.0 rolls", motion, "Linked Avatar")
    library = tmp_path / "avatars.blend"
    bpy.data.libraries.write(str(library), {avatar}, fake_user=True)
    bpy.data.objects.remove(avatar)
    with bpy.data.libraries.load(str(library), link=True) as (_, data):
        data.objects = ["Linked Avatar"]
    linked = data.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    before = rest_state(linked)
    assert bpy.ops.isynth.retarget(source=scene_with_persons[0].name, target=linked.name) == {"FINISHED"}
    override = next(o for o in bpy.context.scene.objects if o.name == "Linked Avatar" and o.override_library)
    assert override.data.library is not None  # the armature data stays linked, untouched
    assert override.animation_data.action["isynth_retarget_source"] == scene_with_persons[0].name
    assert_same_rest(before, rest_state(override))
    frames = [0, 30, 60]
    assert max(c.max() for c, _ in direction_errors(override, spec, motion, frames).values()) <= 2.0
    # An existing library override is keyed as it is.
    assert bpy.ops.isynth.retarget(source=scene_with_persons[1].name, target=override.name) == {"FINISHED"}
    assert override.animation_data.action["isynth_retarget_source"] == scene_with_persons[1].name


def test_match_pose_calibration_from_a_posed_avatar(scene_with_persons):
    motion = walk_motions()[0]
    spec = avatar_spec("mixamo", rest_joints(motion), rest="A", a_pose_deg=40.0, jitter=0.0, roll_seed=3)
    avatar = build_avatar(spec, "Posed")
    # The user poses the A-posed avatar into SMPL's T-pose: the arms raised by 40 degrees.
    from mathutils import Matrix

    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        bone = avatar.pose.bones[f"mixamorig:{side}Arm"]
        raise_arm = Matrix.Rotation(-sign * np.radians(40.0), 4, "Y")
        head = Matrix.Translation(bone.bone.head_local)
        bone.matrix = head @ raise_arm @ head.inverted() @ bone.bone.matrix_local
    bpy.context.view_layer.update()
    assert bpy.ops.isynth.retarget(source=scene_with_persons[0].name, target=avatar.name,
                                   calibration="MATCH_POSE", foot_cleanup=False) == {"FINISHED"}
    frames = np.linspace(0, len(motion.transl) - 1, 6).round().astype(int)
    assert max(c.max() for c, _ in direction_errors(avatar, spec, motion, frames).values()) <= 2.0


def test_mapping_file_round_trip_and_bad_files(scene_with_persons, tmp_path):
    motion = walk_motions()[0]
    spec, avatar = make_avatar("unreal A 1.3 twist 5-spine euler", motion)
    path = tmp_path / "avatar.json"
    assert bpy.ops.isynth.retarget_export_mapping(filepath=str(path), target=avatar.name) == {"FINISHED"}
    bones = json.loads(path.read_text())["bones"]
    assert bones == spec.expected
    assert bpy.ops.isynth.retarget(source=scene_with_persons[0].name, target=avatar.name,
                                   mapping="FILE", mapping_file=str(path)) == {"FINISHED"}
    keyed = avatar.animation_data.action
    assert json.loads(keyed["isynth_retarget_mapping"])["bones"] == bones
    actions = len(bpy.data.actions)
    for content, message in (
        ({**bones, "tail": "pelvis"}, "bad.json: field 'bones': unknown SMPL joint 'tail'"),
        ({**bones, "spine2": bones["spine1"]}, "bad.json: field 'bones': one bone mapped to several SMPL joints"),
        ({**bones, "head": "skull"}, "armature 'Avatar' has no bone.*head -> 'skull'"),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"format": "isynth-bone-mapping", "version": 1, "bones": content}))
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.isynth.retarget(source=scene_with_persons[0].name, target=avatar.name, mapping="FILE",
                                    mapping_file=str(bad))
    assert len(bpy.data.actions) == actions and avatar.animation_data.action == keyed  # nothing half-written


def test_bad_objects_are_errors_naming_them(scene_with_persons):
    spec, avatar = make_avatar("mixamo T 1.0 rolls", walk_motions()[0])
    mesh = bpy.data.objects.new("Cube", bpy.data.meshes.new("Cube"))
    bpy.context.scene.collection.objects.link(mesh)
    still = people.create_person(bpy.data.collections["People"], "Still", rest_joints(walk_motions()[0])).armature
    actions = len(bpy.data.actions)
    for kwargs, message in (
        ({"source": "Nobody", "target": avatar.name}, "source: no object named 'Nobody'"),
        ({"source": scene_with_persons[0].name, "target": "Cube"}, "target: object 'Cube' is a mesh, not an armature"),
        ({"source": avatar.name, "target": scene_with_persons[0].name}, "source 'Avatar' is not an SMPL rig"),
        ({"source": still.name, "target": avatar.name}, "armature 'Still' has no animation"),
        ({"source": scene_with_persons[0].name, "target": scene_with_persons[0].name}, "source and target are the same"),
        ({"source": scene_with_persons[0].name, "target": avatar.name, "mapping": "vroid"}, "preset 'vroid'.*'Avatar'"),
        ({"source": f"{scene_with_persons[0].name},{scene_with_persons[1].name}", "target": avatar.name},
         "2 source\\(s\\) but 1 target"),
        ({"source": f"{scene_with_persons[0].name},{scene_with_persons[1].name}", "target": f"{avatar.name},{avatar.name}"},
         "avatar 'Avatar' is the target of both"),
    ):
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.isynth.retarget(**kwargs)
    assert len(bpy.data.actions) == actions and avatar.animation_data is None


@pytest.mark.compat
def test_euler_keys_match_blenders_euler_orders():
    from mathutils import Euler

    from addon.core.retarget.channels import euler_to_matrix

    angles = np.array([0.4, -1.1, 2.3])
    for order in ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"):
        expected = np.array(Euler(angles.tolist(), order).to_matrix())
        np.testing.assert_allclose(euler_to_matrix(angles, order), expected, atol=1e-6)


def test_panel_is_a_sub_panel_with_its_scene_settings(extension):
    panel = bpy.types.ISYNTH_PT_retarget
    assert panel.bl_parent_id == "ISYNTH_PT_interaction" and panel.bl_category == "Interaction"
    settings = bpy.context.scene.isynth_retarget
    assert settings.mapping == "AUTO" and settings.calibration == "DIRECTIONS" and settings.foot_cleanup
