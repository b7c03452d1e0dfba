"""A rigged avatar file made from the bundled stand-in body, for the demo and the benchmarks.

The stand-in's rig and skinned body with the rig's bones renamed to Mixamo's (the vertex groups
follow) and no SMPL metadata: an avatar as a user's character file brings one, which batch
rendering's ``[[avatars]]`` retargets onto (docs/batch_rendering.md). Its body wears three
garment materials ("<name> shirt", "<name> trousers", "<name> skin") for ``[avatars.garments]``.
"""

from __future__ import annotations

from pathlib import Path


AUTHORED_LOOK = {"shirt_rgb": [0.55, 0.55, 0.55], "trousers_rgb": [0.3, 0.3, 0.3], "skin_rgb": [0.75, 0.6, 0.5]}


def write_standin_avatar(path: Path, name: str = "Character") -> int:
    """Write the avatar to ``path`` (a .blend) from a factory-empty file, which is left empty
    again; returns its vertex count."""
    import bpy

    from addon.bridge.people import create_person
    from addon.bridge.render_look import dress_body
    from addon.core.body.model import load_body_model
    from addon.core.retarget.presets import PRESETS

    bpy.ops.wm.read_factory_settings(use_empty=True)
    body = load_body_model(None)
    person = create_person(bpy.context.scene.collection, name, body.rest_joints(),
                           vertices_y=body.rest_vertices(), faces=body.faces, weights=body.weights)
    for joint, bone in PRESETS["mixamo"].items():
        person.armature.data.bones[joint].name = f"mixamorig:{bone}"
    # Garment materials "<name> shirt", "... trousers", "... skin" in neutral colours, which a job
    # file's [avatars.garments] can recolour per clip.
    dress_body(person.body, AUTHORED_LOOK, body.weights, body.faces)
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    vertices = len(person.body.data.vertices)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return vertices
