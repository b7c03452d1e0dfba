"""Puts a reconstruction bundle into Blender: one collection with the room, camera and people."""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from ..core.room import box
from .actions import Channel, write_action
from .cameras import camera_from_intrinsics
from .collections import new_child_collection
from .materials import flat_material
from .meshes import mesh_from_arrays, object_from_mesh
from .people import Person, create_person_from_build
from .point_clouds import point_cloud_object
from .scene_time import set_scene_fps


@dataclass
class ImportedReconstruction:
    """References to what :func:`import_reconstruction` created."""

    collection: bpy.types.Collection
    points: bpy.types.Object
    floor: bpy.types.Object
    camera: bpy.types.Object
    furniture: list = field(default_factory=list)
    people: list[Person] = field(default_factory=list)


def floor_plane(name: str, points: np.ndarray, collection: bpy.types.Collection, margin: float = 0.2) -> bpy.types.Object:
    """A quad at z = 0 covering the points' footprint plus ``margin`` metres."""
    low = points[:, :2].min(axis=0) - margin if len(points) else np.array([-2.0, -2.0])
    high = points[:, :2].max(axis=0) + margin if len(points) else np.array([2.0, 2.0])
    vertices = np.array([[low[0], low[1], 0], [high[0], low[1], 0], [high[0], high[1], 0], [low[0], high[1], 0]])
    mesh = mesh_from_arrays(name, vertices, np.array([[0, 1, 2, 3]]))
    mesh.materials.append(flat_material("isynth_floor", (0.5, 0.5, 0.5, 1.0)))
    obj = object_from_mesh(name, mesh, collection)
    obj["isynth_label"] = "floor"
    # The room points already show the floor; the plane is for placement and snapping.
    obj.display_type = "WIRE"
    obj.hide_render = True
    return obj


def furniture_proxies(bundle, collection: bpy.types.Collection) -> list[bpy.types.Object]:
    """One wire box per furniture item, labelled; hidden in renders (the points show the room)."""
    proxies = []
    for i, label in enumerate(bundle.furniture_labels):
        vertices, faces = box(bundle.furniture_center[i], bundle.furniture_size[i], float(bundle.furniture_yaw_deg[i]))
        obj = object_from_mesh(f"{label.title()} Proxy", mesh_from_arrays(f"{label} proxy", vertices, faces), collection)
        obj.display_type = "WIRE"
        obj.hide_render = True
        obj["isynth_label"] = label
        proxies.append(obj)
    return proxies


def key_visibility(obj: bpy.types.Object, valid: np.ndarray, frame_start: float) -> None:
    """Hide ``obj`` on frames where ``valid`` (T,) is False (constant keys)."""
    hidden = (~np.asarray(valid, dtype=bool)).astype(np.float32)
    channels = [Channel("hide_render", 0, hidden, "Visibility"), Channel("hide_viewport", 0, hidden, "Visibility")]
    write_action(obj, f"{obj.name} visibility", channels, frame_start, interpolation="CONSTANT")


def import_reconstruction(
    scene: bpy.types.Scene, bundle, builds: list, name: str, progress=None
) -> ImportedReconstruction:
    """Create the room points, floor, furniture proxies, camera and one rig (+ body) per person.

    ``builds``: core.people.PersonBuild per person (same order as the bundle).
    ``progress``: called with (done, total) after each person.
    Sets the scene's fps, frame range, resolution and active camera to the recording's.
    """
    collection = new_child_collection(scene, f"Reconstruction {name}")
    points = point_cloud_object("Room Points", bundle.points, bundle.colors, bundle.point_labels, collection)
    floor = floor_plane("Floor", bundle.points[bundle.point_labels == _label_id(bundle, "floor")], collection)
    camera = camera_from_intrinsics("Recorded Camera", bundle.K, bundle.image_size, bundle.camera_to_world, collection, scene)
    scene.camera = camera
    fps = float(bundle.fps)
    set_scene_fps(scene, fps)
    scene.frame_end = scene.frame_start + max(bundle.num_frames, 1) - 1
    imported = ImportedReconstruction(collection, points, floor, camera, furniture_proxies(bundle, collection))
    for index, build in enumerate(builds):
        track = int(bundle.person_tracks[index]) if index < len(bundle.person_tracks) else index
        person = create_person_from_build(
            collection, build, fps, scene.frame_start, f"{build.name} track", {"track": track}
        )
        valid = bundle.person_valid[index]
        if person.body is not None and not valid.all():
            # The armature never renders; hiding the body hides the person.
            key_visibility(person.body, valid, scene.frame_start)
        imported.people.append(person)
        if progress is not None:
            progress(index + 1, len(builds))
    return imported


def _label_id(bundle, label: str) -> int:
    return bundle.mask_labels.index(label) if label in bundle.mask_labels else -2
