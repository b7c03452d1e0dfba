"""Generate Interaction onto the artist's own avatars: every variation on the avatar, and one
click (undo, or the roll-back after a failure) taken back exactly, the avatar's own earlier
action included.

Same set-up as test_generate_interaction.py (the extension enabled from source, the real
worker, the tiny random-weights checkpoint); the avatars are the Mixamo/Unreal-named test
rigs of tests/helpers/avatar_rigs.py.
"""

import importlib
import json

import bpy
import numpy as np
import pytest

from addon.bridge.actions import Channel, read_action, write_action
from addon.core.body.model import load_body_model
from helpers.avatar_rigs import avatar_spec, build_avatar
from tests.blender.test_generate_interaction import (  # noqa: F401  (fixtures)
    ext,
    full_state,
    generated_rigs,
    tiny_checkpoint,
)

HIPS = "mixamorig:Hips"
POSE_PROPS = (("location", 3), ("rotation_quaternion", 4), ("rotation_euler", 3), ("rotation_axis_angle", 4),
              ("scale", 3))


def make_avatar(name: str, scheme: str = "mixamo", earlier_action: bool = False):
    """A test avatar called ``name``; ``earlier_action``: it already plays an action of its own,
    keyed before the artist renamed the rig (as after an FBX import), so the action's slot is
    named after the old name and Blender does not pick it by itself when the action is
    assigned again."""
    spec = avatar_spec(scheme, load_body_model(None).rest_joints(), rest="A", scale=1.1)
    avatar = build_avatar(spec, "Imported" if earlier_action else name)
    if earlier_action:
        frames = np.linspace(0.0, 1.0, 12)
        write_action(avatar, "Nurse idle", [
            Channel(f'pose.bones["{HIPS}"].location', 1, 0.2 * frames, HIPS),
            Channel('pose.bones["mixamorig:Spine"].rotation_quaternion', 0, np.cos(0.4 * frames), "mixamorig:Spine"),
            Channel('pose.bones["mixamorig:Spine"].rotation_quaternion', 1, np.sin(0.4 * frames), "mixamorig:Spine"),
        ])
        avatar.name = name
        assert avatar.animation_data.action_slot.identifier == "OBImported"
    return avatar


def avatar_state(name: str) -> dict:
    """What the artist sees of one avatar: its active action and slot, its NLA tracks (with their
    strips' actions and slots) and its pose at frame 6, as keyed and as evaluated."""
    obj = bpy.data.objects[name]
    scene = bpy.context.scene
    scene.frame_set(6)
    anim = obj.animation_data
    state = {"action": None, "slot": None, "tracks": []}
    if anim is not None:
        state["action"] = anim.action.name if anim.action else None
        state["slot"] = anim.action_slot.identifier if anim.action_slot else None
        state["tracks"] = [(t.name, t.mute, [(s.action.name, s.action_slot.identifier if s.action_slot else None)
                                              for s in t.strips]) for t in anim.nla_tracks]
    for prop, size in POSE_PROPS:
        values = np.empty(len(obj.pose.bones) * size, dtype=np.float32)
        obj.pose.bones.foreach_get(prop, values)
        state[prop] = values
    state["evaluated"] = np.array([np.array(pb.matrix) for pb in obj.pose.bones])
    return state


def assert_same_avatar(after: dict, before: dict) -> None:
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(after[key], value, atol=1e-6, err_msg=key)
        else:
            assert after[key] == value, key


def module(ext, name: str):
    return importlib.import_module(f"{ext.name}.addon.{name}")


def spy_retarget_people(ext, monkeypatch, fail_on_call: int | None = None, error: Exception | None = None) -> list:
    """Record every retarget_people call of the avatar retargeting ((target names, results) per
    call); with ``fail_on_call`` (1-based) that call raises ``error`` instead."""
    api = module(ext, "bridge.generated_avatars").retarget_api
    real, calls = getattr(api.retarget_people, "real", api.retarget_people), []

    def spy(pairs, config):
        if fail_on_call is not None and len(calls) + 1 == fail_on_call:
            # The scene evaluated with the variation keyed before, as re-keying a control rig
            # (Rigify) through its constraints does at every frame: the avatar's pose bones
            # then hold that variation's pose.
            bpy.context.scene.frame_set(bpy.context.scene.frame_start + 10)
            raise error
        results = real(pairs, config)
        calls.append(([rig.name for _, rig in pairs], results))
        return results

    spy.real = real
    monkeypatch.setattr(api, "retarget_people", spy)
    return calls


def test_one_undo_takes_back_three_variations_on_an_avatar_and_gives_back_its_own_action(ext):
    """Edit > Undo after a click (``undo=True`` pushes the step as a click does): the avatar's
    three actions and two "seed" tracks, the stash of its own action and the SMPL rig go; its
    own action is active again, with its slot, and the avatar poses as before."""
    make_avatar("Nurse", earlier_action=True)
    bpy.ops.ed.undo_push(message="Avatar")
    before, avatar_before = full_state(), avatar_state("Nurse")
    rigs_before = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction("EXEC_DEFAULT", True, prompt="a nurse walks in", roles="staff",
                                               seconds=1.0, seed=4, variations=3, targets="Nurse") == {"FINISHED"}
    (smpl_rig,) = generated_rigs(rigs_before)
    anim = bpy.data.objects["Nurse"].animation_data
    assert anim.action["isynth_seed"] == 4
    # The earlier action is stashed (with its own slot) under the click's variations, not overwritten.
    assert [t.name for t in anim.nla_tracks] == ["[Action Stash]", "seed 6", "seed 5"]
    stash = anim.nla_tracks[0].strips[0]
    assert stash.action.name == "Nurse idle" and stash.action_slot.identifier == "OBImported"
    assert len(smpl_rig.animation_data.nla_tracks) == 2
    bpy.ops.ed.undo()
    assert full_state() == before
    assert_same_avatar(avatar_state("Nurse"), avatar_before)


def test_a_failure_retargeting_a_later_variation_puts_the_avatar_back_as_it_was(ext, monkeypatch):
    """retarget_people fails on its second call: the first call's variation (seed 6) is already
    keyed on the avatar, its earlier action stashed. An unexpected error rolls the whole click
    back: the avatar's own action came back without its slot (animating nothing) and the bones
    it does not key kept the retargeted pose. A ValueError (the retargeting refused) keeps the
    SMPL rigs, with a warning: the avatar was left half keyed and the SMPL body hidden."""
    make_avatar("Nurse", earlier_action=True)
    before, avatar_before = full_state(), avatar_state("Nurse")
    calls = spy_retarget_people(ext, monkeypatch, fail_on_call=2, error=KeyError("a bone vanished"))
    with pytest.raises(RuntimeError, match="the scene is unchanged: 'a bone vanished'"):
        bpy.ops.isynth.generate_interaction(prompt="a nurse walks in", roles="staff", seconds=1.0, seed=4,
                                            variations=3, targets="Nurse", fps=0.0, set_scene_fps=True)
    assert len(calls) == 1  # the failure came after one variation was keyed on the avatar
    assert full_state() == before
    assert_same_avatar(avatar_state("Nurse"), avatar_before)

    make_avatar("Patient")  # no animation of its own: it must stay without, in its rest pose
    before, avatar_before = full_state(), avatar_state("Patient")
    rigs_before = {o.name for o in bpy.data.objects}
    calls = spy_retarget_people(ext, monkeypatch, fail_on_call=2, error=ValueError("the rig changed"))
    assert bpy.ops.isynth.generate_interaction(prompt="a patient sits down", roles="patient", seconds=1.0, seed=4,
                                               variations=2, targets="Patient") == {"FINISHED"}
    assert "generated onto SMPL rigs, but retargeting failed: the rig changed" in \
        bpy.context.window_manager.isynth_status.generation_warning
    (smpl_rig,) = generated_rigs(rigs_before)
    assert smpl_rig.animation_data.action["isynth_seed"] == 4  # the SMPL rig is what was generated
    assert not any(child.hide_viewport or child.hide_render for child in smpl_rig.children)  # and it shows
    assert bpy.data.objects["Patient"].animation_data is None
    assert_same_avatar(avatar_state("Patient"), avatar_before)
    assert not [a for a in bpy.data.actions if "-> Patient" in a.name]


def test_two_avatars_get_both_variations_each_retargeted_as_a_pair(ext, monkeypatch):
    """Per variation one retarget_people call with both persons, so each variation's penetration
    is scored between the two avatars as they move in that variation."""
    make_avatar("Nurse")
    make_avatar("Patient", scheme="unreal")
    calls = spy_retarget_people(ext, monkeypatch)
    rigs_before = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt="a nurse helps a patient stand up", roles="staff,patient",
                                               seconds=1.0, seed=7, variations=2,
                                               targets="Nurse,Patient") == {"FINISHED"}
    assert len(generated_rigs(rigs_before)) == 2  # a new SMPL rig per person
    assert [names for names, _ in calls] == [["Nurse", "Patient"], ["Nurse", "Patient"]]
    by_seed = {8: calls[0][1], 7: calls[1][1]}  # the last variation first
    for index, name in enumerate(["Nurse", "Patient"]):
        anim = bpy.data.objects[name].animation_data
        assert anim.action["isynth_seed"] == 7
        assert [t.name for t in anim.nla_tracks] == ["seed 8"] and anim.nla_tracks[0].mute
        for action in (anim.action, anim.nla_tracks[0].strips[0].action):
            result = by_seed[action["isynth_seed"]][index]
            stored = json.loads(action["isynth_retarget_score"])
            assert np.isfinite(result.score.penetration_max_m)
            assert stored["penetration_max_m"] == pytest.approx(result.score.penetration_max_m)
            channel = next(c for c in result.channels if c.prop == "rotation_quaternion")
            path = f'pose.bones["{bpy.utils.escape_identifier(channel.bone)}"].rotation_quaternion'
            slot = anim.action_slot if action == anim.action else anim.nla_tracks[0].strips[0].action_slot
            before_action, before_slot = anim.action, anim.action_slot
            anim.action, anim.action_slot = action, slot
            keyed = read_action(bpy.data.objects[name])[(path, channel.index)]
            anim.action, anim.action_slot = before_action, before_slot
            np.testing.assert_allclose(keyed, channel.values, atol=1e-6)


def test_an_smpl_rig_and_an_avatar_in_one_click_and_the_same_seed_again_stashes_and_repeats(ext):
    """Person 1 onto an existing SMPL rig (keyed directly), person 2 onto an avatar (through a
    new SMPL rig); the same request again gives the same keys on both and stashes the first
    click's variations under the new ones."""
    from addon.bridge.people import create_person

    staff = create_person(bpy.context.scene.collection, "Staff Rig", load_body_model(None).rest_joints()).armature
    make_avatar("Patient")

    def click():
        rigs_before = {o.name for o in bpy.data.objects}
        assert bpy.ops.isynth.generate_interaction(prompt="a nurse helps a patient stand up",
                                                   roles="staff,patient", seconds=1.0, seed=3, variations=2,
                                                   targets="Staff Rig,Patient") == {"FINISHED"}
        (new_rig,) = [r for r in generated_rigs(rigs_before) if r.name != "Staff Rig"]
        return new_rig

    smpl_rig = click()
    assert smpl_rig.name.startswith("Patient") and all(c.hide_render for c in smpl_rig.children)
    assert ": 2 person(s) in " in bpy.context.window_manager.isynth_status.generation_message  # said 1
    avatar = bpy.data.objects["Patient"]
    for obj in (staff, avatar):  # both variations on each, the first active
        anim = obj.animation_data
        assert anim.action["isynth_seed"] == 3
        assert [t.name for t in anim.nla_tracks] == ["seed 4"]
    first = {obj.name: [obj.animation_data.action, obj.animation_data.nla_tracks[0].strips[0].action]
             for obj in (staff, avatar)}
    keys = {name: read_action(bpy.data.objects[name]) for name in first}

    click()  # the same request again, onto the same two
    for obj in (staff, avatar):
        anim = obj.animation_data
        stashed = [s.action for t in anim.nla_tracks for s in t.strips]
        assert all(action in stashed for action in first[obj.name])  # kept, not overwritten
        assert anim.action not in first[obj.name] and len(stashed) == 3
        # The first click's variations, then this click's second (a repeated seed's track numbered).
        assert [t.name for t in anim.nla_tracks] == ["seed 4", "seed 3", "seed 4 (2)"]
        repeat = read_action(obj)
        assert repeat.keys() == keys[obj.name].keys()
        for key in repeat:
            np.testing.assert_array_equal(repeat[key], keys[obj.name][key], err_msg=str(key))


def test_a_linked_avatar_gets_one_override_with_every_variation_and_a_failure_leaves_it_in_the_scene(
        ext, monkeypatch, tmp_path):
    """A character linked from a library and instanced by an empty: the first variation's write
    overrides it (the override replaces the empty in the scene). Every later variation read and
    wrote the linked avatar again, so each made its own override: two characters, one variation
    each, no "seed" track. And a failure removed the override without putting the empty back:
    the character was gone from the scene."""
    from helpers.avatar_rigs import walk_motions
    from tests.blender.test_retarget import write_avatar_library

    library = tmp_path / "avatar.blend"
    write_avatar_library(library, walk_motions()[0])
    with bpy.data.libraries.load(str(library), link=True) as (_, data):
        data.collections = ["Character"]
    scene = bpy.context.scene
    instance = bpy.data.objects.new("Character", None)
    instance.instance_type, instance.instance_collection = "COLLECTION", data.collections[0]
    instance.location = (2.0, -1.0, 0.0)
    scene.collection.objects.link(instance)
    shown_before = sorted(o.name for o in scene.objects)

    spy_retarget_people(ext, monkeypatch, fail_on_call=2, error=ValueError("the rig changed"))
    assert bpy.ops.isynth.generate_interaction(prompt="a nurse walks in", roles="staff", seconds=1.0, seed=4,
                                               variations=2, targets="Avatar") == {"FINISHED"}
    assert "retargeting failed: the rig changed" in bpy.context.window_manager.isynth_status.generation_warning
    assert sorted(o.name for o in scene.objects if not o.name.startswith("Staff 1")) == shown_before
    assert not any(o.override_library for o in bpy.data.objects)

    spy_retarget_people(ext, monkeypatch)  # no failure now
    assert bpy.ops.isynth.generate_interaction(prompt="a nurse walks in", roles="staff", seconds=1.0, seed=4,
                                               variations=2, targets="Avatar") == {"FINISHED"}
    (override,) = [o for o in bpy.data.objects if o.override_library is not None and o.type == "ARMATURE"]
    anim = override.animation_data
    assert anim.action["isynth_seed"] == 4 and [t.name for t in anim.nla_tracks] == ["seed 5"]
