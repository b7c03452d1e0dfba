"""The job's look, as the manifest resolved it: clothing, floor and wall colours, the light.

Colours reach every engine: a body carries its garment colours as a point colour attribute
(Workbench's "Attribute" colouring, needed beside the room's coloured points) *and* as one
material per garment (Workbench's "Material" colouring, EEVEE, Cycles). Bundle rooms are points:
their floor and wall points are recoloured, keeping each point's relative brightness so the
reconstruction's texture survives.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..core.render.clothing import GARMENTS, face_garments, vertex_garments
from .materials import flat_material
from .point_clouds import COLOR_ATTRIBUTE

BODY_COLOR_ATTRIBUTE = COLOR_ATTRIBUTE  # the same name as the points', so one shading mode shows both


def dress_body(body: bpy.types.Object, person_look: dict, weights: np.ndarray, faces: np.ndarray) -> None:
    """Garment materials per face and a matching colour attribute. weights: (V, 24); faces: (F, 3)."""
    colours = [person_look["shirt_rgb"], person_look["trousers_rgb"], person_look["skin_rgb"]]
    mesh = body.data
    mesh.materials.clear()
    for garment, rgb in zip(GARMENTS, colours):
        mesh.materials.append(flat_material(f"{body.name} {garment}", (*rgb, 1.0)))
    mesh.polygons.foreach_set("material_index", face_garments(faces, weights))
    attribute = mesh.color_attributes.new(BODY_COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
    rgba = np.ones((len(weights), 4), dtype=np.float32)
    rgba[:, :3] = np.asarray(colours, dtype=np.float32)[vertex_garments(weights)]
    attribute.data.foreach_set("color", rgba.ravel())
    mesh.color_attributes.active_color = attribute
    mesh.update()


def recolour_points(points: bpy.types.Object, bundle, floor_rgb, wall_rgb) -> None:
    """Floor and wall points of a bundle's cloud take new colours (times their relative brightness)."""
    labels = np.asarray(bundle.point_labels)
    attribute = points.data.color_attributes[COLOR_ATTRIBUTE]
    rgba = attribute_colours(attribute)
    for name, rgb in (("floor", floor_rgb), ("wall", wall_rgb)):
        if name not in bundle.mask_labels:
            continue
        chosen = labels == bundle.mask_labels.index(name)
        if chosen.any():
            rgba[chosen, :3] = shaded(rgba[chosen, :3], rgb)
    attribute.data.foreach_set("color", rgba.ravel())
    points.data.update()


def attribute_colours(attribute) -> np.ndarray:
    """(N, 4) float32 RGBA of a colour attribute's elements (points or corners)."""
    rgba = np.empty(len(attribute.data) * 4, dtype=np.float32)
    attribute.data.foreach_get("color", rgba)
    return rgba.reshape(-1, 4)


def shaded(colours: np.ndarray, rgb) -> np.ndarray:
    """(N, 3) colours -> (N, 3): ``rgb`` times each colour's brightness relative to their mean,
    clipped to [0, 1] (a recolouring that keeps the shading of a texture or a scan)."""
    brightness = colours.mean(axis=1)
    relative = brightness / max(float(brightness.mean()), 1e-6)
    return np.clip(relative[:, None] * np.asarray(rgb, dtype=np.float32), 0.0, 1.0)


def recolour_surfaces(objects: list[bpy.types.Object], floor_rgb, wall_rgb) -> None:
    """Objects labelled (``isynth_label``) or named floor / wall get a new flat material."""
    for obj in objects:
        label = str(obj.get("isynth_label", obj.name)).lower()
        kind = "floor" if "floor" in label else "wall" if "wall" in label else None
        if kind is None or obj.type != "MESH":
            continue
        rgb = floor_rgb if kind == "floor" else wall_rgb
        material = flat_material(f"isynth_render_{kind}", (*rgb, 1.0))
        obj.data.materials.clear()
        obj.data.materials.append(material)


def show_floor(floor: bpy.types.Object, rgb) -> None:
    """Render a bundle's floor plane (hidden by the import) under the points, in the floor colour."""
    floor.hide_render = False
    floor.display_type = "TEXTURED"
    mesh = floor.data
    mesh.materials.clear()
    mesh.materials.append(flat_material("isynth_render_floor", (*rgb, 1.0)))
    attribute = mesh.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
    attribute.data.foreach_set("color", np.tile(np.array([*rgb, 1.0], dtype=np.float32), len(mesh.vertices)))
    mesh.color_attributes.active_color = attribute


def workbench_background(scene: bpy.types.Scene, rgb) -> None:
    """The colour Workbench shows where nothing is drawn (the gaps between room points)."""
    if scene.world is None:
        scene.world = bpy.data.worlds.new("Render World")
    scene.world.color = [float(v) for v in rgb]


def add_light(scene: bpy.types.Scene, light: dict, collection: bpy.types.Collection) -> bpy.types.Object:
    """The job's point light and world brightness (EEVEE and Cycles; Workbench uses studio light)."""
    data = bpy.data.lights.new("Render Light", type="POINT")
    data.energy = float(light["power_w"])
    data.color = light["color_rgb"]
    data.shadow_soft_size = 0.4
    obj = bpy.data.objects.new("Render Light", data)
    obj.location = light["position"]
    collection.objects.link(obj)
    if scene.world is None:
        scene.world = bpy.data.worlds.new("Render World")
    world = scene.world
    world.color = (0.05, 0.05, 0.05)
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    background = next((n for n in world.node_tree.nodes if n.type == "BACKGROUND"), None) if world.node_tree else None
    if background is not None:
        background.inputs["Strength"].default_value = float(light["world_strength"])
    return obj

