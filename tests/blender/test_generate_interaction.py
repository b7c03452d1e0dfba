"""isynth.generate_interaction headless: rigs equal the decoded motions, seeds, frame rates, cancel,
crashes, errors, undo and roll-back.

The operator runs through the extension enabled from source, with the real worker process and
a tiny random-weights checkpoint (tests/helpers/tiny_checkpoint.py): everything but the
weights is what a user runs.
"""

import importlib
import json
import os
import signal
import sys
import threading
import time

import bpy
import numpy as np
import pytest

from addon.bridge.actions import read_action
from addon.core.skeleton import JOINT_NAMES
from helpers.scene_state import scene_state

PROMPT = "a nurse helps a patient stand up"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from helpers.tiny_checkpoint import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture
def ext(extension, tiny_checkpoint):
    """The enabled extension with the tiny checkpoint; yields a namespace of its core modules."""
    bpy.context.preferences.addons[extension].preferences.checkpoint_path = str(tiny_checkpoint)

    class Modules:
        name = extension
        checkpoint = tiny_checkpoint
        runtime = importlib.import_module(f"{extension}.addon.core.generation_runtime")
        service = importlib.import_module(f"{extension}.addon.core.worker_service")
        api = importlib.import_module(f"{extension}.addon.core.api")
        settings = importlib.import_module(f"{extension}.addon.core.generation_settings")
        plan = importlib.import_module(f"{extension}.addon.core.generation_plan")
        prefs = importlib.import_module(f"{extension}.addon.preferences")

    yield Modules


def demo_room() -> bpy.types.Collection:
    bpy.ops.isynth.add_demo_room()
    return next(c for c in bpy.data.collections if c.name.startswith("Care Room"))


def full_state() -> dict:
    """scene_state and everything else a click could touch: meshes, armatures, active actions."""
    return {
        **scene_state(),
        "meshes": sorted(m.name for m in bpy.data.meshes),
        "armatures": sorted(a.name for a in bpy.data.armatures),
        "active": {o.name: o.animation_data.action.name if o.animation_data.action else None
                   for o in bpy.data.objects if o.animation_data},
    }


def key_count(rig) -> int:
    """Frames keyed in the rig's active action."""
    return len(next(iter(read_action(rig).values())))


def generated_rigs(before: set) -> list:
    return sorted((o for o in bpy.data.objects if o.type == "ARMATURE" and o.name not in before),
                  key=lambda o: o.name)


def evaluated_joints(armature, frames) -> np.ndarray:
    """(F, 24, 3) world positions of the SMPL bones' heads, as Blender evaluates them."""
    out = []
    matrix = np.array(armature.matrix_world)
    for frame in frames:
        bpy.context.scene.frame_set(int(frame))
        flat = np.empty(len(armature.pose.bones) * 3, dtype=np.float32)
        armature.pose.bones.foreach_get("head", flat)
        heads = flat.reshape(-1, 3)[[armature.pose.bones.find(n) for n in JOINT_NAMES]].astype(np.float64)
        out.append(heads @ matrix[:3, :3].T + matrix[:3, 3])
    return np.array(out)


def expected_variation(ext, settings_kwargs, scene_collection):
    """The same request run through core directly (worker + plan), as the operator should."""
    from addon.bridge.scene_points import collection_scene_points

    settings = ext.settings.GenerationSettings(**settings_kwargs)
    points = collection_scene_points(scene_collection, settings.seed) if scene_collection else None
    prefs = ext.prefs.preferences_of(bpy.context)
    plan = ext.api.plan_generation(prefs, settings, points)
    job = ext.plan.new_job(plan)
    interpreter = importlib.import_module(f"{ext.name}.addon.core.environment").select_interpreter(
        prefs, sys.executable, tuple(sys.path))
    job.start(ext.service.client_for(interpreter))
    assert job.run_blocking(600).state == "done"
    try:
        return ext.api.generated_people(plan, job.results, prefs)
    finally:
        job.cleanup()


def test_rigs_show_the_decoded_motion_within_a_millimetre_and_seeds_repeat(ext):
    room = demo_room()
    before = {o.name for o in bpy.data.objects}
    result = bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff,patient", seconds=1.5, seed=5,
                                                 scene=room.name)
    assert result == {"FINISHED"}
    rigs = generated_rigs(before)
    assert [r.name for r in rigs] == ["Patient 2", "Staff 1"]
    status = bpy.context.window_manager.isynth_status
    assert status.generation_state == "DONE" and status.generation_device.startswith("cpu")
    # Keyed at the scene's 24 fps (the tiny checkpoint samples 30 frames at 20 fps: 1.45 s, 35
    # frames at 24); the scene keeps its fps, the frame range follows the clip.
    assert bpy.context.scene.render.fps == 24 and bpy.context.scene.frame_end - bpy.context.scene.frame_start == 34
    assert not status.generation_warning

    variation = expected_variation(ext, dict(prompt=PROMPT, roles=("staff", "patient"), seconds=1.5, seed=5,
                                             fps=24.0), room)[0]
    frames = np.arange(bpy.context.scene.frame_start, bpy.context.scene.frame_end + 1)
    for index, name in enumerate(["Staff 1", "Patient 2"]):
        rig = bpy.data.objects[name]
        shown = evaluated_joints(rig, frames)[:, :22]
        assert np.abs(shown - variation.joints[index]).max() < 1e-3
        assert rig.animation_data.action.name == f"{PROMPT} s5 {name}"
        assert rig.animation_data.action["isynth_seed"] == 5
    # Start poses are on the room's floor: every foot joint of frame 0 is inside the room.
    feet = variation.joints[:, 0, [7, 8, 10, 11]]
    assert np.all((feet[..., 0] > 0) & (feet[..., 0] < 4.5) & (feet[..., 1] > 0) & (feet[..., 1] < 4.0))

    # Same seed, same keys.
    keys = {name: read_action(bpy.data.objects[name]) for name in ("Staff 1", "Patient 2")}
    again_before = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff,patient", seconds=1.5, seed=5,
                                               scene=room.name) == {"FINISHED"}
    again = generated_rigs(again_before)
    for name, rig in zip(("Patient 2", "Staff 1"), again):
        repeat = read_action(rig)
        assert repeat.keys() == keys[name].keys()
        assert all(np.array_equal(repeat[k], keys[name][k]) for k in repeat)

    # The time filter is an argument too: unfiltered, the same seed shows the sampler's own result.
    raw_before = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff,patient", seconds=1.5, seed=5,
                                               scene=room.name, smoothing_s=0.0) == {"FINISHED"}
    raw = expected_variation(ext, dict(prompt=PROMPT, roles=("staff", "patient"), seconds=1.5, seed=5,
                                       smoothing_s=0.0, fps=24.0), room)[0]
    assert np.abs(raw.joints - variation.joints).max() > 1e-2
    staff = next(r for r in generated_rigs(raw_before) if r.name.startswith("Staff"))
    assert np.abs(evaluated_joints(staff, frames)[:, :22] - raw.joints[0]).max() < 1e-3


def test_keys_take_the_scene_fps_and_the_scene_changes_only_when_asked(ext):
    scene, status = bpy.context.scene, bpy.context.window_manager.isynth_status
    scene.render.fps, scene.frame_start, scene.frame_end = 25, 1, 250

    def generate(**kwargs):
        before = {o.name for o in bpy.data.objects}
        assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="patient", seconds=1.0, seed=1,
                                                   **kwargs) == {"FINISHED"}
        return key_count(generated_rigs(before)[0])

    # The panel's default, Frame Rate: Scene. 20 frames at 20 fps span 0.95 s: 24 frames at 25 fps.
    assert generate() == 24 and scene.render.fps == 25 and (scene.frame_start, scene.frame_end) == (1, 24)
    assert not status.generation_warning
    # The checkpoint's rate without Set Scene FPS: the scene keeps 25 fps and the artist is told.
    assert generate(fps=0.0, set_frame_range=False) == 20 and scene.render.fps == 25
    assert scene.frame_end == 24 and "keys are at 20 fps but the scene plays at 25 fps" in status.generation_warning
    # Set Scene FPS is its own choice.
    assert generate(fps=0.0, set_scene_fps=True) == 20 and scene.render.fps == 20 and scene.frame_end == 20
    assert not status.generation_warning
    # The panel's Custom rate, read when the argument is not given.
    scene.isynth_generation.fps_mode, scene.isynth_generation.custom_fps = "CUSTOM", 30.0
    assert generate() == 29 and "keys are at 30 fps" in status.generation_warning


def test_variations_are_actions_on_the_nla_and_existing_animation_is_kept(ext):
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="patient", seconds=1.0, seed=2,
                                               variations=3) == {"FINISHED"}
    (rig,) = generated_rigs(before)
    anim = rig.animation_data
    assert anim.action["isynth_seed"] == 2
    assert sorted(t.name for t in anim.nla_tracks) == ["seed 3", "seed 4"]
    assert all(t.mute for t in anim.nla_tracks)
    # Onto the existing rig: its current action is stashed, not overwritten.
    first = anim.action
    assert bpy.ops.isynth.generate_interaction(prompt="a patient sits down", roles="patient", seconds=1.0,
                                               seed=9, targets=rig.name) == {"FINISHED"}
    assert anim.action["isynth_seed"] == 9 and anim.action is not first
    stashed = [s.action for t in anim.nla_tracks for s in t.strips]
    assert first in stashed and len(stashed) == 3

    # Onto a Mixamo-named avatar in an A-pose: generated on a new SMPL rig, retargeted onto it.
    from addon.core.body.model import load_body_model
    from helpers.avatar_rigs import avatar_spec, build_avatar

    avatar = build_avatar(avatar_spec("mixamo", load_body_model(None).rest_joints(), rest="A", scale=1.1), "Nurse")
    rest_before = [tuple(b.matrix_local.col[3]) for b in avatar.data.bones]
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt="a nurse walks in", roles="staff", seconds=1.0, seed=4,
                                               targets="Nurse") == {"FINISHED"}
    (smpl_rig,) = generated_rigs(before)
    assert avatar.animation_data.action.name == f"{smpl_rig.name} -> Nurse"
    assert [tuple(b.matrix_local.col[3]) for b in avatar.data.bones] == rest_before
    assert all(child.hide_render for child in smpl_rig.children)


def _watch(ext, do, after_step: int = 1) -> threading.Thread:
    """A thread that calls ``do()`` once the running generation reported ``after_step`` steps."""

    def watch():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = ext.runtime.last_status
            if ext.runtime.active_job() is not None and status is not None and status.progress > 0:
                do()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_cancel_and_a_killed_worker_leave_the_scene_as_it_was_and_the_next_click_works(ext):
    demo_room()
    before = scene_state()
    thread = _watch(ext, ext.runtime.request_cancel)
    result = bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff,patient", seconds=3.0, seed=1,
                                                 sampler="ddpm", steps=1000)
    thread.join(5)
    assert result == {"CANCELLED"}
    assert bpy.context.window_manager.isynth_status.generation_state == "CANCELLED"
    assert scene_state() == before

    def kill():
        os.kill(ext.service.current_client().process.pid, signal.SIGKILL)

    thread = _watch(ext, kill)
    with pytest.raises(RuntimeError, match="generation worker exited"):
        bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff", seconds=3.0, seed=1,
                                            sampler="ddpm", steps=1000)
    thread.join(5)
    assert bpy.context.window_manager.isynth_status.generation_state == "ERROR"
    assert scene_state() == before
    assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff", seconds=1.0, seed=1) == {"FINISHED"}


def test_bad_requests_change_nothing(ext, tmp_path):
    demo_room()
    empty = bpy.data.collections.new("Empty Set")
    bpy.context.scene.collection.children.link(empty)
    plane = bpy.data.objects.new("Shelf", bpy.data.meshes.new("Shelf"))
    plane.data.from_pydata([(0, 0, 1), (1, 0, 1), (1, 1, 1)], [], [(0, 1, 2)])
    empty.objects.link(plane)
    before = scene_state()
    cases = [
        (dict(prompt="   "), "prompt"),
        (dict(prompt=PROMPT, seconds=30.0), "longer than the checkpoint generates"),
        (dict(prompt=PROMPT, roles="staff,nurse"), "unknown role"),
        (dict(prompt=PROMPT, scene=empty.name), "no floor"),
        (dict(prompt=PROMPT, scene="Nowhere"), "no collection named"),
        (dict(prompt=PROMPT, targets="Shelf"), "not an armature"),
        # Variation k's seed + k is stored on its action (a 32-bit int): refused before sampling.
        (dict(prompt=PROMPT, seed=2**31 - 1, variations=2), "seed: .* use a seed of at most 2147483646"),
        # One rig cannot play two persons; a name beyond the roles is a mistake, not ignored.
        (dict(prompt=PROMPT, roles="staff,patient", targets="Shelf,Shelf"),
         "person 1 and person 2 both target 'Shelf'"),
        (dict(prompt=PROMPT, targets="-,Shelf"), "2 names given for 1 person"),
    ]
    for kwargs, message in cases:
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.isynth.generate_interaction(**{"roles": "staff", "seconds": 1.0, **kwargs})
        assert bpy.context.window_manager.isynth_status.generation_state == "ERROR"
    prefs = bpy.context.preferences.addons[ext.name].preferences
    prefs.checkpoint_path = str(tmp_path / "missing.safetensors")
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff", seconds=1.0)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a checkpoint")
    corrupt.with_suffix(".json").write_text(json.dumps({"representation": {"fps": 20, "max_frames": 64},
                                                        "network": {"max_persons": 2}}))
    prefs.checkpoint_path = str(corrupt)
    with pytest.raises(RuntimeError, match="checkpoint"):
        bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff", seconds=1.0)
    import torch

    if not torch.cuda.is_available():
        prefs.checkpoint_path = str(ext.checkpoint)
        with pytest.raises(RuntimeError, match="CUDA"):
            bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff", seconds=1.0, device="CUDA")
    assert scene_state() == before


def test_one_undo_takes_back_everything_a_click_made(ext):
    """What Edit > Undo does after a click: the operator pushes its own undo step (UNDO without
    REGISTER, so F9 cannot re-run the sampling), and undoing it restores objects, actions, NLA
    tracks, the stashed action, fps and frame range. ``undo=True`` makes the call push undo as
    a click does (scripts' calls do not); the "Marker" step before it shows that the undo went
    back exactly one step, the operator's own."""
    op = bpy.types.Operator.bl_rna_get_subclass_py("ISYNTH_OT_generate_interaction")
    assert op.bl_options == {"UNDO"}
    before_rigs = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="patient", seconds=1.0, seed=2) == {"FINISHED"}
    (rig,) = generated_rigs(before_rigs)
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start, scene.frame_end = 30, 5, 90
    bpy.ops.ed.undo_push(message="Before the marker")
    bpy.data.objects.new("Marker", None)
    bpy.ops.ed.undo_push(message="Marker")
    before = full_state()
    result = bpy.ops.isynth.generate_interaction("EXEC_DEFAULT", True, prompt="a nurse lifts a patient",
                                                 roles="patient,staff", targets=f"{rig.name},-", seconds=1.0,
                                                 seed=7, variations=2, fps=0.0, set_scene_fps=True)
    assert result == {"FINISHED"}
    after = full_state()
    assert after["fps"] == (20, 1.0) and after["frames"] == (5, 24)
    assert len(after["tracks"][rig.name]) == len(before["tracks"][rig.name]) + 2  # the stash and "seed 8"
    assert len(after["objects"]) > len(before["objects"])
    bpy.ops.ed.undo()
    assert full_state() == before


def test_a_failure_after_building_puts_the_scene_back(ext, monkeypatch):
    """Anything failing after the people are built (here the retargeting onto an avatar, with an
    error it does not expect) removes everything the click made, avatar keys included."""
    from addon.core.body.model import load_body_model
    from helpers.avatar_rigs import avatar_spec, build_avatar

    avatar = build_avatar(avatar_spec("mixamo", load_body_model(None).rest_joints(), rest="A", scale=1.1), "Nurse")
    module = importlib.import_module(f"{ext.name}.addon.operators.generate_interaction")
    retarget = module.retarget_onto_avatars

    def retarget_then_fail(pairs):
        retarget(pairs)
        raise KeyError("a bone vanished")

    monkeypatch.setattr(module, "retarget_onto_avatars", retarget_then_fail)
    before = full_state()
    with pytest.raises(RuntimeError, match="the scene is unchanged: 'a bone vanished'"):
        bpy.ops.isynth.generate_interaction(prompt="a nurse walks in", roles="staff", seconds=1.0, seed=4,
                                            targets="Nurse", fps=0.0, set_scene_fps=True)
    assert bpy.context.window_manager.isynth_status.generation_state == "ERROR"
    assert full_state() == before and avatar.animation_data is None


def test_a_failed_build_leaves_nothing(ext):
    import dataclasses

    from addon.bridge.generated import add_generated_interaction
    from addon.core.body.model import load_body_model
    from addon.core.demo_motion import waving_motion
    from addon.core.generation_plan import GeneratedVariation
    from addon.core.people import person_build

    body = load_body_model(None)
    good = person_build(waving_motion(seconds=0.5, fps=20.0), body, "Staff 1")
    broken = dataclasses.replace(good, name="Patient 2", faces=good.faces + len(good.vertices_y))
    before = full_state()
    variation = GeneratedVariation(seed=0, builds=[good, broken], joints=np.zeros((2, 10, 22, 3)), placement=None,
                                   device="cpu", seconds=0.0)
    with pytest.raises(ValueError, match="face index out of range"):
        add_generated_interaction(bpy.context.scene, PROMPT, [variation], [None, None], 20.0, 1, True, set_fps=True)
    assert full_state() == before
    made = add_generated_interaction(bpy.context.scene, PROMPT, [dataclasses.replace(variation, builds=[good])],
                                     [None], 20.0, 1, True)
    assert [a.name for a in made.armatures] == ["Staff 1"] and len(made.actions) == 1


def test_start_positions_still_blocked_are_a_warning_not_moved_onto_free_floor(ext):
    """A 4 x 4 m floor with a 1 m cube of furniture in the middle: a person standing in the cube
    after the placement's shift is a warning; one on the floor (or only a hand on the cube) is
    "moved onto free floor" when the shift moved them."""
    from types import SimpleNamespace

    from addon.core.placement import MIN_BLOCKED_JOINTS, Placement, height_map

    note = importlib.import_module(f"{ext.name}.addon.operators.generate_interaction").placement_note
    grid = np.arange(0.0, 4.01, 0.05)
    floor = np.stack(np.meshgrid(grid, grid, [0.0], indexing="ij"), -1).reshape(-1, 3)
    side = np.arange(1.5, 2.51, 0.05)
    cube = np.stack(np.meshgrid(side, side, [1.0], indexing="ij"), -1).reshape(-1, 3)
    points = np.concatenate([floor, cube])

    def person_at(x, y, hand_on_cube=False):
        joints = np.zeros((1, 22, 3))
        joints[:, :, 0], joints[:, :, 1], joints[:, :, 2] = x, y, np.linspace(0.05, 1.7, 22)
        if hand_on_cube:
            joints[:, 20] = (2.0, 2.0, 0.9)  # one joint a little inside: touching
        return joints

    def variation(*people, moved=True):
        """The Placement place_on_free_floor reports for people where they ended (after the shift)."""
        shift = np.array([0.5, 0.0, 0.0]) if moved else np.zeros(3)
        blocked = height_map(points).blocked(np.stack(people)[:, 0]).sum(axis=1)
        placement = Placement(shift, 9, int(blocked.sum()), bool(blocked.max() >= MIN_BLOCKED_JOINTS))
        return SimpleNamespace(placement=placement, joints=np.stack(people))

    free = variation(person_at(0.5, 0.5), person_at(3.5, 3.5, hand_on_cube=True))
    inside = variation(person_at(0.5, 0.5), person_at(2.0, 2.0))
    stuck = variation(person_at(2.1, 1.9), moved=False)
    assert note([SimpleNamespace(placement=None, joints=free.joints)]) == ("", "")  # no scene
    assert note([free, variation(person_at(1.0, 3.0), moved=False)]) == (
        "; moved 1 variation(s) onto free floor", "")
    placed, warning = note([free, inside, stuck])
    assert placed == "; moved 1 variation(s) onto free floor"
    assert warning.startswith("2 variation(s) still start inside furniture or walls: no free floor within 2.5 m")


def test_generating_onto_a_rigify_rig_re_keys_it_through_its_constraints(ext):
    """A generated Rigify rig's head copies the torso's rotation instead of the neck's: keyed
    for the plain hierarchy, its neck stayed 9 deg from the generated person's here (23 on a walk)."""
    import addon_utils

    addon_utils.enable("rigify", default_set=True)
    try:
        bpy.ops.object.armature_human_metarig_add()
        meta = bpy.context.active_object
        bpy.ops.pose.rigify_generate()
    finally:
        addon_utils.disable("rigify", default_set=True)
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o is not meta)
    bpy.data.objects.remove(meta)
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt="a nurse bends over the bed", roles="staff", seconds=2.0,
                                               seed=5, targets=rig.name) == {"FINISHED"}
    (smpl_rig,) = generated_rigs(before)
    frames = [bpy.context.scene.frame_start + k for k in (0, 7, 14)]
    joints = evaluated_joints(smpl_rig, frames)
    M = np.array(rig.matrix_world)[:3, :3]
    neck, head = JOINT_NAMES.index("neck"), JOINT_NAMES.index("head")
    for joint, frame in zip(joints, frames):
        bpy.context.scene.frame_set(frame)
        shown = M @ (np.array(rig.pose.bones["DEF-spine.006"].head) - np.array(rig.pose.bones["DEF-spine.004"].head))
        smpl = joint[head] - joint[neck]
        cosine = shown @ smpl / np.linalg.norm(shown) / np.linalg.norm(smpl)
        assert np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))) < 3.0, frame


def test_every_variation_is_retargeted_onto_an_avatar_target(ext):
    """With an avatar as the target, only the first variation reached the avatar: the others
    stayed on the hidden SMPL rig, so they could not be compared on the avatar."""
    from addon.bridge import retarget as retarget_bridge
    from addon.bridge.generated_avatars import active_action, variation_actions
    from addon.core.body.model import load_body_model
    from addon.core.retarget import api
    from helpers.avatar_rigs import avatar_spec, build_avatar

    avatar = build_avatar(avatar_spec("mixamo", load_body_model(None).rest_joints(), rest="A", scale=1.1), "Nurse")
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt="a nurse walks in", roles="staff", seconds=1.0, seed=4,
                                               variations=3, targets="Nurse") == {"FINISHED"}
    (smpl_rig,) = generated_rigs(before)
    anim = avatar.animation_data
    assert anim.action["isynth_seed"] == 4
    assert sorted(t.name for t in anim.nla_tracks) == ["seed 5", "seed 6"] and all(t.mute for t in anim.nla_tracks)
    on_avatar = {4: anim.action, **{int(t.strips[0].action["isynth_seed"]): t.strips[0].action for t in anim.nla_tracks}}
    assert len({a.name for a in on_avatar.values()}) == 3
    hips = 'pose.bones["mixamorig:Hips"].location'
    keyed = {}
    for action in variation_actions(smpl_rig):
        seed = int(action["isynth_seed"])
        with active_action(smpl_rig, action):  # what retargeting this variation alone gives
            (result,) = api.retarget_people([(retarget_bridge.read_source(smpl_rig), retarget_bridge.read_target(avatar))],
                                            api.RetargetConfig())
        expected = np.stack([c.values for c in result.channels if c.bone == "mixamorig:Hips" and c.prop == "location"], 1)
        with active_action(avatar, on_avatar[seed]):
            curves = read_action(avatar)
        keyed[seed] = np.stack([curves[(hips, i)] for i in range(3)], 1)
        np.testing.assert_allclose(keyed[seed], expected, atol=1e-5)
    assert not np.allclose(keyed[4], keyed[5], atol=1e-3)  # different seeds, different motions


def test_a_prompt_in_an_action_the_checkpoint_does_poorly_is_a_warning_in_the_panel(ext, tmp_path):
    """The checkpoint's evaluation counts say its walks are rarely recognised: the click still keys
    the rig, and the panel's warning line (and the operator's report) says so."""
    from helpers.tiny_checkpoint import write_tiny_checkpoint

    anchors = [("a nurse walks into the room", ("staff",), "walk_through"),
               ("a nurse sits down on a chair", ("staff",), "sit_on_chair")]
    counts = {"summary": {"script_agreement": {"walk_through": [1, 11], "sit_on_chair": [9, 10]}}}
    weak = write_tiny_checkpoint(tmp_path, name="weak_walks", anchors=anchors, evaluation=counts)
    bpy.context.preferences.addons[ext.name].preferences.checkpoint_path = str(weak)
    status = bpy.context.window_manager.isynth_status
    assert bpy.ops.isynth.generate_interaction(prompt="a carer strolls in", roles="staff", seconds=0.5,
                                               seed=1) == {"FINISHED"}
    assert "does walking in or out poorly" in status.generation_warning
    assert "1 of its 11 evaluation clips" in status.generation_warning
    assert bpy.ops.isynth.generate_interaction(prompt="a nurse sits down on a chair", roles="staff", seconds=0.5,
                                               seed=1) == {"FINISHED"}
    assert not status.generation_warning
