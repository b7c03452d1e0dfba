"""Generated interactions into the scene: rigs, one action per person per seed, NLA variations.

Each click makes one collection ("<prompt> (seed N)"). Per person either a new SMPL rig
(+ skinned body) or an existing SMPL rig the user chose. Every variation becomes its own
action, named after the prompt, seed and person; the first variation is the active action
and the others sit on muted NLA tracks named after their seeds, so the artist solos a track
to compare. Existing animation is stashed on the NLA, never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy

from ..core.skeleton import JOINT_NAMES
from .collections import new_child_collection
from .people import apply_smpl_poses, create_person
from .scene_time import set_scene_fps

ACTION_PROMPT_CHARS = 32


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
    """"a nurse helps a patient who fell… s7 Staff 1" (Blender limits names to 63 bytes)."""
    short = " ".join(prompt.split())
    if len(short) > ACTION_PROMPT_CHARS:
        short = short[: ACTION_PROMPT_CHARS - 1].rstrip() + "…"
    return f"{short} s{seed} {build_name}"


def add_generated_interaction(scene: bpy.types.Scene, prompt: str, variations: list, targets: list,
                              fps: float, frame_start: int, set_frame_range: bool) -> GeneratedObjects:
    """Build everything for ``variations`` (``core.generation_plan.GeneratedVariation``, all with
    the same persons). targets: per person an existing SMPL rig object, or None for a new rig."""
    # Read what exists first (a target deleted meanwhile fails here, before anything is made).
    existing = {rig: _animation_state(rig) for rig in targets if rig is not None}
    before = _datablocks()
    first = variations[0]
    collection = new_child_collection(scene, f"{' '.join(prompt.split())[:40]} (seed {first.seed})")
    made = GeneratedObjects(collection)
    try:
        _build(scene, prompt, variations, targets, fps, frame_start, set_frame_range, made)
    except Exception:
        _roll_back(made, existing, before)
        raise
    return made


def _build(scene, prompt, variations, targets, fps, frame_start, set_frame_range, made) -> None:
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
        _name_variation_tracks(rig)
    made.rigs = rigs
    if set_frame_range:
        set_scene_fps(scene, fps)
        longest = max(build.motion.num_frames for v in variations for build in v.builds)
        scene.frame_start = frame_start
        scene.frame_end = frame_start + longest - 1


def _animation_state(rig: bpy.types.Object) -> tuple:
    """(active action, number of NLA tracks) of an existing rig, to restore after a failure."""
    anim = rig.animation_data
    return (anim.action, len(anim.nla_tracks)) if anim else (None, 0)


def _datablocks() -> dict:
    return {name: set(getattr(bpy.data, name)) for name in ("objects", "meshes", "armatures", "actions")}


def _roll_back(made: GeneratedObjects, existing: dict, before: dict) -> None:
    """Remove every datablock a failed build made; existing rigs get their animation back."""
    for rig, (action, tracks) in existing.items():
        anim = rig.animation_data
        if anim is None:
            continue
        while len(anim.nla_tracks) > tracks:  # new tracks are appended on top
            anim.nla_tracks.remove(anim.nla_tracks[-1])
        anim.action = action
    for name in ("objects", "actions", "meshes", "armatures"):
        data = getattr(bpy.data, name)
        for block in set(data) - before[name]:
            data.remove(block)
    bpy.data.collections.remove(made.collection)


def _name_variation_tracks(rig: bpy.types.Object) -> None:
    """Stash tracks holding generated variations are named "seed N" (others keep their name)."""
    anim = rig.animation_data
    if anim is None:
        return
    for track in anim.nla_tracks:
        strips = list(track.strips)
        if len(strips) == 1 and strips[0].action is not None and "isynth_seed" in strips[0].action:
            track.name = f"seed {strips[0].action['isynth_seed']}"
