"""A rigged, skinned test avatar saved as a .blend, as a user's character file would be.

The armature is :func:`.avatar_rigs.build_avatar`'s; the body is one box around every bone,
weighted fully to it, deformed by an Armature modifier and parented to the armature, in one
flat material colour so a test can find the avatar's pixels in a Workbench render. The file
also holds a camera and an unrelated cube, which appending the avatar must leave behind.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from addon.core.axes import Y_UP_TO_Z_UP

from .avatar_rigs import avatar_spec, build_avatar, random_motion, rest_joints

BOX_HALF_WIDTH = 0.05  # metres (times the avatar's scale)
RED = (0.9, 0.02, 0.02, 1.0)


def skin_with_boxes(armature, colour=RED, name: str = "Avatar Body", unit: float = 1.0):
    """A mesh with one box per deforming bone of ``armature`` (rest pose), skinned to it;
    ``unit``: armature units per metre (100 for an FBX rig in centimetres)."""
    import bpy

    vertices, faces, groups = [], [], []
    for bone in (b for b in armature.data.bones if b.use_deform):
        matrix = np.array([list(row) for row in bone.matrix_local])
        length, w = bone.length, BOX_HALF_WIDTH * unit
        corners = np.array([[x, y, z, 1.0] for y in (0.0, length) for x in (-w, w) for z in (-w, w)])
        start = len(vertices)
        vertices += [tuple((matrix @ c)[:3]) for c in corners]
        quads = ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3))
        faces += [tuple(start + i for i in quad) for quad in quads]
        groups.append((bone.name, range(start, start + 8)))
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices, [], faces)
    material = bpy.data.materials.new(f"{name} colour")
    material.diffuse_color = colour
    mesh.materials.append(material)
    body = bpy.data.objects.new(name, mesh)
    for collection in armature.users_collection:
        collection.objects.link(body)
    for bone_name, indices in groups:
        body.vertex_groups.new(name=bone_name).add(list(indices), 1.0, "REPLACE")
    body.parent = armature
    body.modifiers.new("Armature", "ARMATURE").object = armature
    return body


def save_avatar_blend(path, scheme: str = "mixamo", name: str = "Character", scale: float = 1.0,
                      rest: str = "T", location=(0.0, 0.0, 0.0), fbx_units: str = "") -> dict:
    """Write a factory-empty .blend holding one skinned avatar (+ a camera and a cube); returns
    {"armature": its object name, "body": its mesh's, "bones": the expected SMPL joint -> bone}.

    fbx_units: "object" or "parent" as an FBX import brings a rig: its armature data Y-up in
    centimetres, the armature object ("object") or an empty it is parented to ("parent") turned
    +90 degrees about X and scaled 0.01 (the same avatar in the world); "parent" also hides the
    body in the viewport only (it still renders)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    spec = avatar_spec(scheme, rest_joints(random_motion()), scale=scale, rest=rest)
    unit = 1.0
    if fbx_units:
        to_y_up, unit = Y_UP_TO_Z_UP.T, 100.0
        spec = replace(spec, heads=unit * spec.heads @ to_y_up.T, tails=unit * spec.tails @ to_y_up.T,
                       frames=to_y_up @ spec.frames)
    armature = build_avatar(spec, name)
    holder = armature
    if fbx_units == "parent":
        holder = bpy.data.objects.new(f"{name} Root", None)
        bpy.context.scene.collection.objects.link(holder)
        armature.parent = holder
    if fbx_units:
        holder.rotation_euler = (np.pi / 2, 0.0, 0.0)
        holder.scale = (0.01, 0.01, 0.01)
    holder.location = location
    body = skin_with_boxes(armature, unit=unit)
    body.hide_viewport = fbx_units == "parent"
    camera = bpy.data.objects.new("Their Camera", bpy.data.cameras.new("Their Camera"))
    bpy.context.scene.collection.objects.link(camera)
    # (Not evaluated before saving, on purpose: the file stores stale world matrices, as a
    # file written by a script can; the clip must not trust them.)
    bpy.ops.mesh.primitive_cube_add(location=(5.0, 5.0, 0.5))
    bpy.context.object.name = "Their Cube"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    out = {"armature": armature.name, "body": body.name, "bones": dict(spec.expected)}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return out
