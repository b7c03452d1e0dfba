"""Retargeting in Blender, measured on the evaluated pose: bone directions, planted feet, the
target's rest data untouched, linked and overridden avatars, batch pairs and bad input, and
awkward rigs (a pose left on unkeyed bones, sides named from the viewer's side, constraints
that override the keys, a generated Rigify rig)."""

import json
import types
from dataclasses import replace

import addon_utils
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
    assert settings.mirror_fill and not settings.swap_sides


class _Layout:
    """Records what a panel draws (background Blender has no regions to draw into)."""

    def __init__(self, calls):
        self.calls = calls

    def _child(self, *args, **kwargs):
        return _Layout(self.calls)

    row = column = box = _child

    def prop(self, data, name, *search, **kwargs):
        assert name in data.bl_rna.properties, name
        self.calls.append(("prop", name, ""))

    prop_search = prop

    def operator(self, idname, **kwargs):
        self.calls.append(("operator", idname, ""))
        return types.SimpleNamespace()

    def label(self, text="", icon="NONE"):
        self.calls.append(("label", text, icon))


def test_panel_offers_swap_and_mirror_fill_and_flags_warnings(extension):
    settings = bpy.context.scene.isynth_retarget
    settings.report = ("P -> A [auto: mixamo]: direction 0.01 deg mean; in Blender 23.00 deg max; "
                       "WARNING: the rig does not follow the keys (23 deg in Blender): constraints")
    calls = []
    bpy.types.ISYNTH_PT_retarget.draw(types.SimpleNamespace(layout=_Layout(calls)), bpy.context)
    assert ("prop", "swap_sides", "") in calls and ("prop", "mirror_fill", "") in calls
    labels = {text: icon for kind, text, icon in calls if kind == "label"}
    assert labels["in Blender 23.00 deg max"] == "NONE"
    assert [icon for text, icon in labels.items() if text.startswith("WARNING")] == ["ERROR"]


@pytest.fixture
def persons(extension):
    bpy.context.scene.render.fps = 10
    return make_persons()


def worst_chord(errors: dict) -> float:
    return max(float(chord.max()) for chord, _ in errors.values())


def test_a_pose_left_on_the_unmapped_root_bone_is_keyed_back_to_rest(persons):
    """Unreal's root bone is above the pelvis and was never keyed: a leftover pose on it (a
    previous root-motion clip) moved the avatar 3.8 m while the score said 0.65 deg."""
    motion = walk_motions()[0]
    spec, avatar = make_avatar("unreal T 2-spine", motion, "UE")
    avatar.pose.bones["root"].location = (0.0, 0.5, 0.0)
    avatar.pose.bones["root"].rotation_quaternion = (0.7071, 0.0, 0.0, 0.7071)
    avatar.pose.bones["hand_l"].location = (0.0, 0.2, 0.0)  # a keyed bone's unkeyed location
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=avatar.name) == {"FINISHED"}
    joints = smpl_joints(motion)
    for t in (0, 30, 60):
        bpy.context.scene.frame_set(bpy.context.scene.frame_start + t)
        pelvis = np.array(avatar.matrix_world @ avatar.pose.bones["pelvis"].head)
        hips = joints[t, [1, 2]].mean(axis=0)
        assert np.linalg.norm(pelvis[:2] - joints[t, 0, :2]) < 0.05 and abs(pelvis[2] - hips[2]) < 0.15
    assert tuple(avatar.pose.bones["hand_l"].location) == (0.0, 0.0, 0.0)
    assert worst_chord(direction_errors(avatar, spec, motion, [0, 30, 60])) <= 2.0
    assert "WARNING" not in bpy.context.scene.isynth_retarget.report


def test_swap_sides_retargets_a_rig_named_from_the_viewers_side(persons):
    motion = walk_motions()[0]
    spec = avatar_spec("mixamo", rest_joints(motion), seed=3, roll_seed=5)
    swap = lambda name: name.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right")  # noqa: E731
    viewer_named = replace(spec, names=tuple(swap(n) for n in spec.names),
                           expected={joint: swap(bone) for joint, bone in spec.expected.items()})
    avatar = build_avatar(viewer_named, "Mirror")  # .expected: the bone at each joint's place
    settings = bpy.context.scene.isynth_retarget
    assert settings.mirror_fill and not settings.swap_sides  # the panel's defaults
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=avatar.name) == {"FINISHED"}
    assert worst_chord(direction_errors(avatar, viewer_named, motion, [0, 40])) > 20.0  # limbs swapped
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=avatar.name, swap_sides=True) == {"FINISHED"}
    assert worst_chord(direction_errors(avatar, viewer_named, motion, [0, 40])) <= 2.0
    assert "(mirrored)" in bpy.context.scene.isynth_retarget.report


def test_constraints_that_override_the_keys_are_reported_as_a_warning(persons):
    motion = walk_motions()[0]
    spec, avatar = make_avatar("mixamo T 1.0 rolls", motion)
    constraint = avatar.pose.bones["mixamorig:LeftForeArm"].constraints.new("COPY_ROTATION")
    constraint.target, constraint.subtarget = avatar, "mixamorig:Hips"
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=avatar.name) == {"FINISHED"}
    report = bpy.context.scene.isynth_retarget.report
    assert "WARNING: the rig does not follow the keys" in report
    # Re-keying cannot turn a bone whose rotation is copied outright: it says so and leaves its keys.
    assert "held by constraints whatever their keys: mixamorig:LeftForeArm;" in report, report
    constraint.mute = True
    path = 'pose.bones["mixamorig:LeftForeArm"].rotation_quaternion'
    forearm = np.array([v for (p, _), v in sorted(read_action(avatar).items()) if p == path])
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=avatar.name, through_constraints=False) == {"FINISHED"}
    solved = np.array([v for (p, _), v in sorted(read_action(avatar).items()) if p == path])
    np.testing.assert_allclose(forearm, solved, atol=1e-6)
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=avatar.name) == {"FINISHED"}
    assert "WARNING" not in bpy.context.scene.isynth_retarget.report


def test_an_avatar_showing_its_rest_position_is_keyed_and_the_report_says_why_it_does_not_move(persons):
    """Every evaluated bone sits at rest then: the check and the re-keying would blame the rig's
    constraints (all keyed bones "held") for what one toggle does."""
    motion = walk_motions()[0]
    spec, avatar = make_avatar("mixamo T 1.0 rolls", motion)
    constraint = avatar.pose.bones["mixamorig:Hips"].constraints.new("LIMIT_LOCATION")  # any constraint
    constraint.mute = False
    avatar.data.pose_position = "REST"
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=avatar.name) == {"FINISHED"}
    report = bpy.context.scene.isynth_retarget.report
    assert "shows its Rest Position" in report and "held" not in report and "re-keyed" not in report, report
    assert avatar.animation_data.action is not None
    avatar.data.pose_position = "POSE"
    assert worst_chord(direction_errors(avatar, spec, motion, [0, 40])) <= 2.0


def test_only_a_rig_that_reads_nothing_but_itself_is_re_keyed_without_the_scene(persons):
    """The fast path poses the rig alone after the first frame; anything else that changes with
    the frame (another object a constraint reads, a driver on the frame, NLA strips playing
    under the action) needs the whole scene evaluated at every frame."""
    from addon.bridge.retarget_refine import depends_on_itself_only

    motion = walk_motions()[0]
    _, avatar = make_avatar("mixamo T 1.0 rolls", motion)
    bone = avatar.pose.bones["mixamorig:Spine"]
    copy = bone.constraints.new("COPY_ROTATION")
    copy.target, copy.subtarget = avatar, "mixamorig:Hips"
    assert depends_on_itself_only(avatar)
    copy.target = persons[0]
    assert not depends_on_itself_only(avatar)
    copy.mute = True
    assert depends_on_itself_only(avatar)
    driver = bone.driver_add("rotation_quaternion", 1).driver
    driver.expression = "sin(frame / 10)"
    assert not depends_on_itself_only(avatar)
    driver.expression = "0.1"
    assert depends_on_itself_only(avatar)
    anim = avatar.animation_data
    track = anim.nla_tracks.new()
    assert not depends_on_itself_only(avatar)
    track.mute = True
    assert depends_on_itself_only(avatar)


@pytest.fixture
def rigify_rig(persons):
    addon_utils.enable("rigify", default_set=True)
    try:
        bpy.ops.object.armature_human_metarig_add()
        meta = bpy.context.active_object
        bpy.ops.pose.rigify_generate()
        rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o not in (meta, *persons))
        meta.hide_set(True)
        yield rig
    finally:
        addon_utils.disable("rigify", default_set=True)


# Rigify deform bone -> (the deform bone its head ends the segment at, SMPL joints of the segment).
RIGIFY_SEGMENTS = {
    "DEF-upper_arm.L": ("DEF-forearm.L", "left_shoulder", "left_elbow"),
    "DEF-forearm.L": ("DEF-hand.L", "left_elbow", "left_wrist"),
    "DEF-upper_arm.R": ("DEF-forearm.R", "right_shoulder", "right_elbow"),
    "DEF-forearm.R": ("DEF-hand.R", "right_elbow", "right_wrist"),
    "DEF-spine.004": ("DEF-spine.006", "neck", "head"),  # the two neck bones
    "DEF-thigh.L": ("DEF-shin.L", "left_hip", "left_knee"),
    "DEF-shin.L": ("DEF-foot.L", "left_knee", "left_ankle"),
    "DEF-thigh.R": ("DEF-shin.R", "right_hip", "right_knee"),
    "DEF-shin.R": ("DEF-foot.R", "right_knee", "right_ankle"),
}


def rigify_deform_errors(rig, joints, frames=range(0, 80, 7)) -> dict:
    """Worst angle (degrees) per segment of RIGIFY_SEGMENTS between the evaluated deform bones
    (head to the next deform bone's head) and the SMPL segment, over ``frames``."""
    scene = bpy.context.scene
    M = np.array(rig.matrix_world)[:3, :3]
    worst = dict.fromkeys(RIGIFY_SEGMENTS, 0.0)
    for t in frames:
        scene.frame_set(scene.frame_start + t)
        for bone, (end, a, b) in RIGIFY_SEGMENTS.items():
            d = M @ (np.array(rig.pose.bones[end].head) - np.array(rig.pose.bones[bone].head))
            s = joints[t, JOINT_INDEX[b]] - joints[t, JOINT_INDEX[a]]
            cosine = d @ s / np.linalg.norm(d) / np.linalg.norm(s)
            worst[bone] = max(worst[bone], float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))))
    return worst


def test_a_generated_rigify_rig_is_switched_to_fk_and_its_deform_bones_follow(persons, rigify_rig):
    """The limbs default to IK (IK_FK = 0): keying the FK controls alone left the deform bones
    81-147 deg off while the operator reported success. Its head copies the torso's rotation
    instead of the neck's and its FK spine half-copies the chest control: keyed for the plain
    hierarchy, the neck was 23 deg off and the arms 5-7; re-keyed through the constraints, the
    arms and neck follow SMPL within 2 deg and the legs as closely as the keys themselves (their
    planted feet bend the knees of the avatar's differently proportioned legs)."""
    rig = rigify_rig
    scene = bpy.context.scene
    scene.frame_set(scene.frame_start + 3)
    assert rig.pose.bones["thigh_parent.L"]["IK_FK"] == 0.0
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=rig.name) == {"FINISHED"}
    assert scene.frame_current == scene.frame_start + 3
    action = rig.animation_data.action
    report = scene.isynth_retarget.report
    assert "[auto: rigify_controls]" in report
    assert "re-keyed through the rig's constraints" in report and "WARNING" not in report, report
    keyed_max = json.loads(action["isynth_retarget_score"])["direction_max_deg"]
    worst = rigify_deform_errors(rig, smpl_joints(walk_motions()[0]))
    assert rig.pose.bones["thigh_parent.L"]["IK_FK"] == pytest.approx(1.0)
    for bone, degrees in worst.items():
        bound = keyed_max + 1.0 if "thigh" in bone or "shin" in bone else 2.0
        assert degrees <= bound, (bone, worst, keyed_max)
    assert action is rig.animation_data.action


def test_a_turned_and_scaled_rigify_rig_is_re_keyed_in_its_own_armature_space(persons, rigify_rig):
    """The goals are world rotations taken into armature space (R_objᵀ · ...); a rig object that
    is turned and scaled must come out as well as one at the origin."""
    rig = rigify_rig
    rig.rotation_euler = (0.0, 0.0, 1.2)
    rig.scale = (1.25, 1.25, 1.25)
    rig.location = (0.7, -0.4, 0.0)
    bpy.context.view_layer.update()
    assert bpy.ops.isynth.retarget(source=persons[0].name, target=rig.name) == {"FINISHED"}
    report = bpy.context.scene.isynth_retarget.report
    assert "re-keyed through the rig's constraints" in report and "WARNING" not in report, report
    keyed_max = json.loads(rig.animation_data.action["isynth_retarget_score"])["direction_max_deg"]
    worst = rigify_deform_errors(rig, smpl_joints(walk_motions()[0]))
    for bone, degrees in worst.items():
        bound = keyed_max + 1.0 if "thigh" in bone or "shin" in bone else 2.0
        assert degrees <= bound, (bone, worst, keyed_max)


def test_without_re_keying_the_rigify_neck_does_not_follow_the_keys(persons, rigify_rig):
    """The negative control: the same rig keyed for the plain hierarchy only."""
    rig = rigify_rig
    result = bpy.ops.isynth.retarget(source=persons[0].name, target=rig.name, through_constraints=False)
    assert result == {"FINISHED"}
    report = bpy.context.scene.isynth_retarget.report
    assert "re-keyed" not in report and "WARNING: the rig does not follow the keys" in report, report
    worst = rigify_deform_errors(rig, smpl_joints(walk_motions()[0]))
    assert worst["DEF-spine.004"] > 15.0, worst
    assert worst["DEF-upper_arm.L"] > 3.0, worst


def write_avatar_library(path, motion) -> None:
    """A library file with collection "Character": a Mixamo avatar and a mesh "Body" it deforms
    (parented, Armature modifier, three vertices weighted to the left thigh)."""
    collection = bpy.data.collections.new("Character")
    bpy.context.scene.collection.children.link(collection)
    spec = avatar_spec("mixamo", rest_joints(motion), seed=7, roll_seed=11)
    avatar = build_avatar(spec, "Avatar", collection)
    mesh = bpy.data.meshes.new("Body")
    mesh.from_pydata([[0.1, 0.0, 0.9], [0.1, 0.05, 0.7], [0.1, 0.0, 0.5]], [], [])
    body = bpy.data.objects.new("Body", mesh)
    collection.objects.link(body)
    body.parent = avatar
    body.vertex_groups.new(name="mixamorig:LeftUpLeg").add([0, 1, 2], 1.0, "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = avatar
    bpy.data.libraries.write(str(path), {collection}, fake_user=True)
    bpy.data.objects.remove(body)
    bpy.data.objects.remove(avatar)
    bpy.data.collections.remove(collection)
    return spec


def evaluated_vertices(obj, frame) -> np.ndarray:
    bpy.context.scene.frame_set(frame)
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    return np.array([(evaluated.matrix_world @ v.co)[:] for v in evaluated.data.vertices])


@pytest.mark.parametrize("how", ["objects linked", "collection linked", "collection instanced"])
def test_a_linked_avatars_mesh_follows_the_overridden_armature(persons, tmp_path, how):
    """The override was made for the armature object only, so a linked mesh's Armature
    modifier kept deforming with the linked, unanimated armature; an instanced collection
    could not be overridden at all (a traceback)."""
    motion = walk_motions()[0]
    library = tmp_path / "avatar.blend"
    spec = write_avatar_library(library, motion)
    scene = bpy.context.scene
    if how == "objects linked":
        with bpy.data.libraries.load(str(library), link=True) as (_, data):
            data.objects = ["Avatar", "Body"]
        for obj in data.objects:
            scene.collection.objects.link(obj)
    else:
        with bpy.data.libraries.load(str(library), link=True) as (_, data):
            data.collections = ["Character"]
        if how == "collection linked":
            scene.collection.children.link(data.collections[0])
        else:
            instance = bpy.data.objects.new("Character", None)
            instance.instance_type, instance.instance_collection = "COLLECTION", data.collections[0]
            instance.location = (2.0, -1.0, 0.0)  # where the user placed the character
            scene.collection.objects.link(instance)
    assert bpy.ops.isynth.retarget(source=persons[0].name, target="Avatar") == {"FINISHED"}
    shown = [o for o in scene.objects if o.name.startswith(("Avatar", "Body", "Character"))]
    assert all(o.override_library is not None for o in shown), [(o.name, o.library) for o in shown]
    avatar = next(o for o in shown if o.type == "ARMATURE")
    body = next(o for o in shown if o.type == "MESH")
    assert body.modifiers["Armature"].object == avatar and body.parent == avatar
    assert not avatar.override_library.is_system_override  # editable by the user, like the action
    assert avatar.animation_data.action["isynth_retarget_source"] == persons[0].name
    moved = evaluated_vertices(body, scene.frame_start + 40) - evaluated_vertices(body, scene.frame_start)
    assert np.abs(moved).max() > 0.05  # the mesh walks with the avatar
    frames = [0, 40]
    assert max(c.max() for c, _ in direction_errors(avatar, spec, motion, frames).values()) <= 2.0
    joints = smpl_joints(motion)
    for t in frames:
        scene.frame_set(scene.frame_start + t)
        pelvis = np.array(avatar.matrix_world @ avatar.pose.bones["mixamorig:Hips"].head)
        assert np.linalg.norm(pelvis[:2] - joints[t, 0, :2]) < 0.05  # keyed for where it stands
