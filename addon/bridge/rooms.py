"""Puts a core :class:`RoomScene` into a Blender scene."""

from dataclasses import dataclass

import bpy

from ..core.room import RoomScene
from .cameras import camera_from_matrix, point_light
from .collections import new_child_collection
from .materials import flat_material
from .meshes import mesh_from_arrays, object_from_mesh


@dataclass
class BuiltRoom:
    """References to what :func:`build_room_scene` created."""

    collection: bpy.types.Collection
    objects: list
    camera: bpy.types.Object
    light: bpy.types.Object


def build_room_scene(scene: bpy.types.Scene, room: RoomScene, name: str = "Care Room") -> BuiltRoom:
    """Create the room's meshes, camera and light in a new collection of ``scene``."""
    collection = new_child_collection(scene, name)
    objects = []
    for part in room.parts:
        mesh = mesh_from_arrays(part.name, part.vertices, part.faces)
        mesh.materials.append(flat_material(f"isynth_{part.label}", part.color))
        obj = object_from_mesh(part.name, mesh, collection)
        obj["isynth_label"] = part.label
        objects.append(obj)
    camera = camera_from_matrix("Monitoring Camera", room.camera_to_world, room.horizontal_fov_deg, collection)
    light = point_light("Ceiling Light", room.light_position, 400.0, collection)
    return BuiltRoom(collection=collection, objects=objects, camera=camera, light=light)
