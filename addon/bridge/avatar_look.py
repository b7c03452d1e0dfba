"""A rigged avatar's garments in the clip's drawn clothing colours (batch rendering's domain randomisation).

The job file names, per avatar, the materials that are its shirt, trousers or skin
(``[avatars.garments]``, :mod:`..core.render.jobspec_avatars`). Every matching material of the
appended copy is replaced, on the copy only, by a copy of itself in the person's drawn colour:

* its viewport colour (what Workbench's Material colouring shows) becomes the drawn colour;
* each Principled BSDF's Base Color becomes the drawn colour where it is a plain value; where a
  texture drives it, a Mix node in Color mode between them keeps the texture's lightness (its
  folds and print) and takes the drawn colour's hue and saturation;
* where the mesh has an active colour attribute (what Workbench's Attribute colouring shows, the
  colouring of clips in a point-cloud room, and which it prefers to the materials), that
  garment's faces in it take the drawn colour times their relative brightness, as the room's
  recoloured points do.

The user's .blend file is never written; the clip process that appended the copy is thrown
away after the clip.
"""

from __future__ import annotations

import re

import bpy
import numpy as np

from ..core.render.jobspec_avatars import garment_of_material
from .render_look import attribute_colours, shaded

_APPEND_SUFFIX = re.compile(r"\.\d{3,}$")  # "Top.001": Blender's name for a second copy of "Top"


def recolour_garments(meshes: list[bpy.types.Object], garments: dict, person_look: dict,
                      owner: str) -> dict[str, list[str]]:
    """Recolour the garment materials of ``meshes`` (one avatar copy's). garments: {garment:
    [material name patterns]} (the manifest's); person_look: the manifest person with
    "<garment>_rgb" colours; owner: a name for the copies ("<material> (<owner>)"). Returns
    {garment: the file's material names recoloured}, garments that matched nothing left out."""
    copies: dict[str, bpy.types.Material] = {}  # a material worn by several meshes is copied once
    recoloured: dict[str, list[str]] = {}
    for obj in meshes:
        slot_colours = {}
        for index, slot in enumerate(obj.material_slots):
            material = slot.material
            if material is None:
                continue
            original = material.name
            stem = _APPEND_SUFFIX.sub("", original)
            garment = garment_of_material(original, garments) or garment_of_material(stem, garments)
            if garment is None:
                continue
            if original not in copies:
                copies[original] = _dyed_copy(material, person_look[f"{garment}_rgb"], owner)
                recoloured.setdefault(garment, []).append(stem)
            slot.material = copies[original]
            slot_colours[index] = person_look[f"{garment}_rgb"]
        if slot_colours and obj.data.color_attributes.active_color is not None:
            _repaint_attribute(obj.data, slot_colours)
    return recoloured


def _dyed_copy(material: bpy.types.Material, rgb, owner: str) -> bpy.types.Material:
    """A copy of ``material`` in colour ``rgb`` (3 floats, 0-1, linear) (module docstring)."""
    copy = material.copy()
    copy.name = f"{material.name} ({owner})"
    copy.diffuse_color = (*[float(c) for c in rgb], material.diffuse_color[3])
    if copy.node_tree is None:
        return copy
    for node in [n for n in copy.node_tree.nodes if n.type == "BSDF_PRINCIPLED"]:
        base = node.inputs["Base Color"]
        if not base.is_linked:
            base.default_value = (*[float(c) for c in rgb], 1.0)
            continue
        _tint_texture(copy.node_tree, base, rgb)
    return copy


def _tint_texture(tree: bpy.types.NodeTree, socket: bpy.types.NodeSocket, rgb) -> None:
    """Put a Mix (Color) node with ``rgb`` between ``socket`` and what drives it."""
    source = socket.links[0].from_socket
    mix = tree.nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.blend_type = "COLOR"
    mix.label = "Drawn clothing colour"
    mix.location = (socket.node.location.x - 200.0, socket.node.location.y)
    mix.inputs[0].default_value = 1.0  # Factor
    colour_in = [s for s in mix.inputs if s.type == "RGBA"]  # A, B
    colour_out = next(s for s in mix.outputs if s.type == "RGBA")
    colour_in[1].default_value = (*[float(c) for c in rgb], 1.0)
    tree.links.new(source, colour_in[0])
    tree.links.new(colour_out, socket)


def _repaint_attribute(mesh: bpy.types.Mesh, slot_colours: dict[int, list[float]]) -> None:
    """The active colour attribute of ``mesh`` (point or corner domain) over the faces of the
    material slots ``slot_colours`` names: that slot's colour times each element's brightness
    relative to the slot's mean (a point shared by two garments takes the later one's)."""
    attribute = mesh.color_attributes.active_color
    if attribute.domain not in ("POINT", "CORNER"):
        return
    faces = len(mesh.polygons)
    slots = np.empty(faces, dtype=np.int32)
    mesh.polygons.foreach_get("material_index", slots)
    totals = np.empty(faces, dtype=np.int32)
    mesh.polygons.foreach_get("loop_total", totals)
    corner_slots = np.repeat(slots, totals)  # polygons' corners are stored face after face
    if attribute.domain == "POINT":
        corner_points = np.empty(len(mesh.loops), dtype=np.int32)
        mesh.loops.foreach_get("vertex_index", corner_points)
    rgba = attribute_colours(attribute)
    authored = rgba.copy()  # every garment's shades from the colours as authored
    for slot, rgb in slot_colours.items():
        chosen = np.flatnonzero(corner_slots == slot)
        if attribute.domain == "POINT":
            chosen = np.unique(corner_points[chosen])
        if chosen.size:
            rgba[chosen, :3] = shaded(authored[chosen, :3], rgb)
    attribute.data.foreach_set("color", rgba.ravel())
    mesh.update()
