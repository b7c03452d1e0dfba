"""Generated people onto the user's own avatars: through the retargeting of ``core.retarget``.

A person whose target is an armature that is not an SMPL rig is generated onto a new SMPL rig
first (as every person is); every variation of it is then retargeted onto the avatar as a new
action (re-keyed through the avatar's constraints where they move the keyed bones,
:mod:`.retarget_refine`): the first variation active, the others on muted NLA tracks named
after their seeds, as on the SMPL rig, so the artist compares them on the avatar itself. The
SMPL rig's body is hidden so the avatar is what shows and renders.

All or nothing for the avatars: a failure at any variation puts every avatar back as it
was and shows the SMPL bodies again before the error is raised, so a refused retarget (a
ValueError, which the operator turns into a warning and keeps the SMPL rigs for) does not
leave an avatar half keyed, its own action stashed under some of the variations.
"""

from __future__ import annotations

from contextlib import contextmanager

import bpy

from ..core.datablock_names import fitted_name
from ..core.retarget import api as retarget_api
from . import retarget as retarget_bridge
from .actions import SLOTTED_ACTIONS
from .generated import name_variation_tracks, restore_scene, snapshot_scene
from .retarget_refine import hold_through_constraints


def check_avatar(avatar: bpy.types.Object) -> None:
    """ValueError (a MappingError) naming the avatar when no bone mapping can be found for it."""
    retarget_api.resolve_mapping(retarget_bridge.read_target(avatar), retarget_api.RetargetConfig())


def retarget_onto_avatars(pairs: list[tuple[bpy.types.Object, bpy.types.Object]]) -> list[str]:
    """Retarget every variation of each (SMPL rig, avatar) pair; returns one quality line per
    pair (its first variation's)."""
    if not pairs:
        return []
    variations = [variation_actions(rig) for rig, _ in pairs]
    bodies = {child: (child.hide_viewport, child.hide_render) for rig, _ in pairs for child in rig.children
              if child.type == "MESH"}
    scene = bpy.context.scene
    before = snapshot_scene(scene, [avatar for _, avatar in pairs])
    for body in bodies:  # hidden first: the re-keying never evaluates them
        body.hide_viewport = body.hide_render = True
    try:
        return _retarget_variations(pairs, variations)
    except Exception:
        restore_scene(scene, before)
        for body, (viewport, render) in bodies.items():
            body.hide_viewport, body.hide_render = viewport, render
        raise


def _retarget_variations(pairs, variations) -> list[str]:
    """Every variation read and written onto ``keyed_avatars``: the avatars, and once the first
    write made it, a linked avatar's override. Reading and writing the linked avatar again made
    a second override per variation (two characters in the scene, each with one variation)."""
    count = min(len(v) for v in variations)
    lines, keyed_avatars = [], [avatar for _, avatar in pairs]
    targets = {}  # each avatar's rest data, read once (and once more for a linked avatar's override)
    # Last variation first: each write stashes the one before, so the first ends up active.
    for k in reversed(range(count)):
        reads = []
        for (rig, _), actions, avatar in zip(pairs, variations, keyed_avatars):
            if avatar not in targets:
                targets[avatar] = retarget_bridge.read_target(avatar)
            with active_action(rig, actions[k]):
                reads.append((retarget_bridge.read_source(rig), targets[avatar]))
        results = retarget_api.retarget_people(reads, retarget_api.RetargetConfig())
        for index, ((rig, avatar), actions, result) in enumerate(zip(pairs, variations, results)):
            keyed, action = retarget_bridge.write_result(keyed_avatars[index], result)
            keyed_avatars[index] = keyed  # a linked avatar's override
            seed = actions[k].get("isynth_seed")
            if seed is not None:
                action["isynth_seed"] = int(seed)
                if count > 1:
                    action.name = fitted_name(result.action_name, f" s{int(seed)}")
            result, fit = hold_through_constraints(keyed, result)  # a control rig (Rigify) re-keyed
            if k == 0:
                lines.append(f"{rig.name} -> {avatar.name}: {result.score.summary()}"
                             + (f"; {fit.summary()}" if fit else ""))
    for avatar in keyed_avatars:
        name_variation_tracks(avatar)
    return lines


def variation_actions(rig: bpy.types.Object) -> list[bpy.types.Action]:
    """The generated variations on a generated SMPL rig: its active action, then the actions of
    its NLA tracks that carry a seed (``isynth_seed``), in the order of their seeds."""
    anim = rig.animation_data
    if anim is None or anim.action is None:
        raise ValueError(f"{rig.name!r} has no generated motion to retarget")
    stashed = [strip.action for track in anim.nla_tracks for strip in track.strips
               if strip.action is not None and "isynth_seed" in strip.action and strip.action is not anim.action]
    return [anim.action, *sorted(stashed, key=lambda action: int(action["isynth_seed"]))]


@contextmanager
def active_action(rig: bpy.types.Object, action: bpy.types.Action):
    """``action`` as the rig's active action (and its slot, on 4.4+) while inside; then the one before."""
    anim = rig.animation_data
    before = anim.action, (anim.action_slot if SLOTTED_ACTIONS else None)
    anim.action = action
    if SLOTTED_ACTIONS and anim.action_slot is None and len(action.slots):
        anim.action_slot = action.slots[0]
    try:
        yield
    finally:
        anim.action = before[0]
        if SLOTTED_ACTIONS and before[1] is not None:
            anim.action_slot = before[1]
