"""Generated people onto the user's own avatars: through the retargeting of ``core.retarget``.

A person whose target is an armature that is not an SMPL rig is generated onto a new SMPL rig
first (as every person is); its active action (the first variation) is then retargeted onto
the avatar as a new action (re-keyed through the avatar's constraints where they move the keyed
bones, :mod:`.retarget_refine`), and the SMPL rig's body is hidden so the avatar is what shows
and renders. The other variations stay on the SMPL rig's NLA.
"""

from __future__ import annotations

import bpy

from ..core.retarget import api as retarget_api
from . import retarget as retarget_bridge
from .retarget_refine import hold_through_constraints


def check_avatar(avatar: bpy.types.Object) -> None:
    """ValueError (a MappingError) naming the avatar when no bone mapping can be found for it."""
    retarget_api.resolve_mapping(retarget_bridge.read_target(avatar), retarget_api.RetargetConfig())


def retarget_onto_avatars(pairs: list[tuple[bpy.types.Object, bpy.types.Object]]) -> list[str]:
    """Retarget each (SMPL rig, avatar) pair; returns one quality line per pair."""
    if not pairs:
        return []
    reads = [(retarget_bridge.read_source(rig), retarget_bridge.read_target(avatar)) for rig, avatar in pairs]
    results = retarget_api.retarget_people(reads, retarget_api.RetargetConfig())
    lines = []
    for (rig, avatar), result in zip(pairs, results):
        keyed, _ = retarget_bridge.write_result(avatar, result)
        for child in rig.children:  # hidden first: the re-keying below then never evaluates them
            if child.type == "MESH":
                child.hide_viewport = child.hide_render = True
        result, fit = hold_through_constraints(keyed, result)  # a control rig (Rigify) re-keyed
        lines.append(f"{rig.name} -> {avatar.name}: {result.score.summary()}" + (f"; {fit.summary()}" if fit else ""))
    return lines
