"""Generated interactions into the scene: rigs, one action per person per seed, NLA variations.

Each click makes one collection ("<prompt> (seed N)"). Per person either a new SMPL rig
(+ skinned body) or an existing SMPL rig the user chose. Every variation becomes its own
action, named after the prompt, seed and person; the first variation is the active action
and the others sit on muted NLA tracks named after their seeds, so the artist solos a track
to compare. Existing animation is stashed on the NLA, never overwritten.

Everything a click may change is read first (:func:`snapshot_scene`) so that a failure at any
point, here or in what the operator does afterwards (retargeting onto avatars), puts the scene
back as it was (:func:`restore_scene`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from ..core.datablock_names import fitted_name
from ..core.skeleton import JOINT_NAMES
from .actions import SLOTTED_ACTIONS
from .collections import new_child_collection
from .people import apply_smpl_poses, create_person
from .scene_time import set_scene_fps

ACTION_PROMPT_CHARS = 32
COLLECTION_PROMPT_CHARS = 40
# The datablock kinds a click creates (people, bodies, their materials, actions, the collection),
# in the order a roll-back removes them: users before what they use.
_MADE_KINDS = ("objects", "actions", "meshes", "armatures", "materials", "collections")
# A pose bone's own transform, as the artist left it (an avatar's bones that no action drives
# keep what the retargeting and its re-keying posed them to, unless put back).
_POSE_PROPS = (("location", 3), ("rotation_quaternion", 4), ("rotation_euler", 3), ("rotation_axis_angle", 4),
               ("scale", 3))


@dataclass
class GeneratedObjects:
    """What :func:`add_generated_interaction` made or changed."""

    collection: bpy.types.Collection
    rigs: list = field(default_factory=list)  # per person: the rig keyed (new or the chosen one)
    armatures: list = field(default_factory=list)  # the new ones
    bodies: list = field(default_factory=list)
    actions: list = field(default_factory=list)


def is_smpl_rig(obj: bpy.types.Object | None) -> bool:
    """An armature with every SMPL joint as a bone (ours, or any rig that follows SMPL naming)."""
    return obj is not None and obj.type == "ARMATURE" and all(name in obj.data.bones for name in JOINT_NAMES)


def action_name(prompt: str, seed: int, build_name: str) -> str:
    """"a nurse helps a patient who fell… s7 Staff 1": the prompt shortened to fit Blender's
    63-byte names, the seed and person always whole."""
    return fitted_name(prompt, f" s{seed} {build_name}", max_chars=ACTION_PROMPT_CHARS)


@dataclass(frozen=True)
class SceneSnapshot:
    """What a Generate click may change, read before it changes anything.

    animation: per existing rig or avatar, (had animation data, active action, NLA track
    count, the active slot's identifier or None); datablocks: per kind of _MADE_KINDS, the
    datablocks that existed; fps: the scene's (fps, fps_base); frames: its (frame_start,
    frame_end); poses: per existing armature, its pose bones' transforms (_POSE_PROPS);
    members: per local collection of the scene, (its objects, its child collections).
    """

    animation: dict
    datablocks: dict
    fps: tuple[int, float]
    frames: tuple[int, int]
    poses: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)


def snapshot_scene(scene: bpy.types.Scene, rigs: list) -> SceneSnapshot:
    """The state :func:`restore_scene` returns to. rigs: the existing objects the click will
    animate (None entries are skipped); one deleted meanwhile raises ReferenceError here,
    before anything is made."""
    return SceneSnapshot(
        animation={rig: _animation_state(rig) for rig in rigs if rig is not None},
        datablocks={kind: set(getattr(bpy.data, kind)) for kind in _MADE_KINDS},
        fps=(scene.render.fps, scene.render.fps_base),
        frames=(scene.frame_start, scene.frame_end),
        poses={rig: _pose_state(rig) for rig in rigs if rig is not None and rig.pose is not None},
        members={c: (tuple(c.objects), tuple(c.children))
                 for c in (scene.collection, *scene.collection.children_recursive)
                 if c.library is None and c.override_library is None},
    )


def restore_scene(scene: bpy.types.Scene, snapshot: SceneSnapshot) -> None:
    """Remove every datablock made since ``snapshot``, give existing rigs their animation back
    (new NLA tracks are appended on top, so the first ``count`` are the old ones) and their
    pose, and put the scene's fps and frame range back.

    The action's slot is set again (4.4+): assigning the action picks a slot by itself only
    when one is named after the object or was its last, and the click's own actions made
    the last one theirs; an action keyed before the rig was renamed (an FBX import) came
    back with no slot and animated nothing. The pose too: the bones no action drives kept
    the retargeted pose of the last frame evaluated (an avatar without animation stood in it).
    And what the scene's collections held: a linked avatar's override replaces the linked
    character in the scene (its instancing empty unlinked); with the override removed, the
    character had gone from the scene."""
    for rig, (had_data, action, tracks, slot) in snapshot.animation.items():
        anim = rig.animation_data
        if anim is None:
            continue
        if not had_data:
            rig.animation_data_clear()
            continue
        while len(anim.nla_tracks) > tracks:
            anim.nla_tracks.remove(anim.nla_tracks[-1])
        anim.action = action
        if SLOTTED_ACTIONS and action is not None and slot is not None:
            anim.action_slot = next((s for s in action.slots if s.identifier == slot), anim.action_slot)
    for rig, pose in snapshot.poses.items():
        for prop, values in pose.items():
            rig.pose.bones.foreach_set(prop, values)
        rig.update_tag()
    for kind in _MADE_KINDS:
        data = getattr(bpy.data, kind)
        for block in set(data) - snapshot.datablocks[kind]:
            data.remove(block)
    for collection, (objects, children) in snapshot.members.items():
        present, nested = set(collection.objects), set(collection.children)
        for obj in objects:
            if obj not in present:
                collection.objects.link(obj)
        for child in children:
            if child not in nested:
                collection.children.link(child)
    scene.render.fps, scene.render.fps_base = snapshot.fps
    scene.frame_start, scene.frame_end = snapshot.frames


def add_generated_interaction(scene: bpy.types.Scene, prompt: str, variations: list, targets: list,
                              fps: float, frame_start: int, set_frame_range: bool, *,
                              set_fps: bool = False) -> GeneratedObjects:
    """Build everything for ``variations`` (``core.generation_plan.GeneratedVariation``, all with
    the same persons), keyed at ``fps`` frames per second from ``frame_start``.

    targets: per person an existing SMPL rig object, or None for a new rig. set_frame_range:
    the scene's frame range becomes the clip's; set_fps: the scene plays at ``fps``. On any
    failure everything made is removed again and the error is raised.
    """
    before = snapshot_scene(scene, targets)  # a target deleted meanwhile fails here, before anything is made
    first = variations[0]
    name = fitted_name(prompt, f" (seed {first.seed})", max_chars=COLLECTION_PROMPT_CHARS)
    collection = new_child_collection(scene, name)
    made = GeneratedObjects(collection)
    try:
        _build(scene, prompt, variations, targets, fps, frame_start, made)
        if set_fps:
            set_scene_fps(scene, fps)
        if set_frame_range:
            longest = max(build.motion.num_frames for v in variations for build in v.builds)
            scene.frame_start = frame_start
            scene.frame_end = frame_start + longest - 1
    except Exception:
        restore_scene(scene, before)
        raise
    return made


def _build(scene, prompt, variations, targets, fps, frame_start, made) -> None:
    first, collection = variations[0], made.collection
    rigs = []
    for index, build in enumerate(first.builds):
        target = targets[index] if index < len(targets) else None
        if target is None:
            person = create_person(
                collection, build.name, build.rest_joints_y, vertices_y=build.vertices_y, faces=build.faces,
                weights=build.weights, shape_directions_y=build.shape_directions_y, shape_names=build.shape_names,
                betas=build.betas, metadata={**build.metadata, "prompt": prompt},
            )
            made.armatures.append(person.armature)
            if person.body is not None:
                made.bodies.append(person.body)
            rigs.append(person.armature)
        else:
            rigs.append(target)
    # Last variation first: each write stashes the one before, so the first ends up active.
    for variation in reversed(variations):
        for rig, build in zip(rigs, variation.builds):
            motion = build.motion
            action = apply_smpl_poses(rig, motion.local_rotations(), motion.transl,
                                      action_name(prompt, variation.seed, build.name), fps, frame_start)
            action["isynth_prompt"] = prompt
            action["isynth_seed"] = int(variation.seed)
            action["isynth_role"] = motion.role
            made.actions.append(action)
    for rig in rigs:
        name_variation_tracks(rig)
    made.rigs = rigs


def _animation_state(rig: bpy.types.Object) -> tuple:
    """(has animation data, active action, number of NLA tracks, active slot's identifier or
    None) of an existing rig."""
    anim = rig.animation_data
    if anim is None:
        return False, None, 0, None
    slot = anim.action_slot if SLOTTED_ACTIONS else None
    return True, anim.action, len(anim.nla_tracks), slot.identifier if slot is not None else None


def _pose_state(rig: bpy.types.Object) -> dict:
    """The rig's pose bones' transforms: per property of _POSE_PROPS, a flat float array."""
    bones = rig.pose.bones
    state = {}
    for prop, size in _POSE_PROPS:
        values = np.empty(len(bones) * size, dtype=np.float32)
        bones.foreach_get(prop, values)
        state[prop] = values
    return state


def name_variation_tracks(rig: bpy.types.Object) -> None:
    """Stash tracks holding generated variations are named "seed N" (others keep their name); a
    seed generated again onto the same rig names its later tracks "seed N (2)", "seed N (3)" ...
    (bottom track first, the order they were stashed in)."""
    anim = rig.animation_data
    if anim is None:
        return
    seen: dict[int, int] = {}
    for track in anim.nla_tracks:
        strips = list(track.strips)
        if len(strips) == 1 and strips[0].action is not None and "isynth_seed" in strips[0].action:
            seed = int(strips[0].action["isynth_seed"])
            seen[seed] = seen.get(seed, 0) + 1
            track.name = f"seed {seed}" if seen[seed] == 1 else f"seed {seed} ({seen[seed]})"
