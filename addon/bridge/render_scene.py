"""One job's scene in Blender: the room (bundle, .blend or procedural), the people and the camera.

The Blender file starts empty (factory settings) or as the job's .blend; everything the job adds
lives in an "Interaction Synth Render" collection. People come from core ``PersonTrack``s through
``core.people.person_build`` + ``bridge.people.create_person_from_build``, the same path the
import operators use, so the rig evaluates to the joints the annotations are computed from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..core.people import person_build
from ..core.recon.bundle import read_bundle
from ..core.render.lens import Lens
from ..core.render.visibility import Occluder
from ..core.room import RoomLayout, demo_room_scene
from .collections import new_child_collection
from .meshes import evaluated_triangles
from .people import Person, create_person_from_build
from .reconstruction import import_reconstruction
from .render_avatars import set_aside_room_avatars
from .render_camera import render_camera, scene_camera_pose_and_lens
from .rooms import build_room_scene
from .scene_time import set_scene_fps

LABEL_PROPERTY = "isynth_label"


@dataclass
class RenderScene:
    """What :func:`assemble_room` and :func:`add_people` built. camera_to_world: (4, 4) OpenCV of the render camera;
    lens: its projection; room: render-visible objects that are not people; points: the room's
    point cloud (bundles) or None; occluders: extra static occluders read from a .blend;
    avatar_sources: {avatar blend: the temporary copy to append from} for avatars that live in
    the scene .blend itself (``render_avatars.set_aside_room_avatars``)."""

    scene: bpy.types.Scene
    camera: bpy.types.Object
    camera_to_world: np.ndarray
    lens: Lens
    people: list[Person]
    room: list[bpy.types.Object]
    points: bpy.types.Object | None = None
    floor: bpy.types.Object | None = None
    bundle: object = None
    occluders: list[Occluder] = field(default_factory=list)
    avatar_sources: dict[str, str] = field(default_factory=dict)


def assemble_room(job: dict, scratch: Path) -> RenderScene:
    """Open or build the job's room in a fresh Blender file and add its camera (no people yet).
    scratch: the clip's partial folder (a copy of a room .blend that holds avatars goes there).

    Runs before generation, so a broken .blend fails the clip in seconds.
    """
    scene_spec = job["scene"]
    clip = job["clip"]
    points, floor, bundle, occluders, avatar_sources = None, None, None, [], {}
    base_pose = base_lens = None
    if scene_spec["kind"] == "blend":
        bpy.ops.wm.open_mainfile(filepath=scene_spec["path"], load_ui=False)
        scene = bpy.context.scene
        avatar_sources = set_aside_room_avatars(job, scratch)  # avatars that live in the room file itself
        base_pose, base_lens = scene_camera_pose_and_lens(scene, int(clip["width"]), int(clip["height"]))
        occluders = mesh_occluders(scene)
    else:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        if scene_spec["kind"] == "bundle":
            bundle = read_bundle(scene_spec["path"])
            imported = import_reconstruction(scene, bundle, [], scene_spec["name"])
            points, floor = imported.points, imported.floor
            spread_points(points, bundle.points)
            bpy.data.objects.remove(imported.camera)  # the job's camera replaces it
        else:
            room = build_room_scene(scene, demo_room_scene(RoomLayout()), "Care Room")
            bpy.data.objects.remove(room.light)  # lights come from the job's look
            bpy.data.objects.remove(room.camera)
    collection = new_child_collection(scene, "Interaction Synth Render")
    set_scene_fps(scene, float(clip["fps"]))
    scene.frame_start, scene.frame_end = 1, int(clip["frames"])
    room_objects = [obj for obj in scene.objects if obj.type in ("MESH", "CURVE", "SURFACE", "META", "FONT")
                    and not obj.hide_render]
    camera_to_world, lens = _camera_pose(job, base_pose, base_lens)
    camera = render_camera(scene, lens, camera_to_world, collection)
    return RenderScene(scene=scene, camera=camera, camera_to_world=camera_to_world, lens=lens, people=[],
                       room=room_objects, points=points, floor=floor, bundle=bundle, occluders=occluders,
                       avatar_sources=avatar_sources)


def add_people(built: RenderScene, tracks: list, fps: float) -> None:
    """One rig + skinned body per track, keyed from frame 1, in the render collection."""
    collection = built.camera.users_collection[0]
    for index, track in enumerate(tracks):
        build = person_build(track.motion, track.body, track.motion.name or f"Person {index + 1}")
        built.people.append(create_person_from_build(collection, build, fps, 1, f"{build.name} motion",
                                                     {"person_index": index}))


def _camera_pose(job: dict, base_pose: np.ndarray | None, base_lens: Lens | None) -> tuple[np.ndarray, Lens]:
    """The job camera's OpenCV pose and lens; a .blend's own camera fills what the manifest left open."""
    spec = job["camera"]
    if spec["camera_to_world"] is not None:
        pose = np.asarray(spec["camera_to_world"], dtype=np.float64)
    else:
        if base_pose is None:
            raise ValueError(f"job {job['key']}: camera {spec['name']} is relative to a scene camera, but the "
                             "scene has none")
        pose = base_pose @ np.asarray(spec["relative_to_scene_camera"], dtype=np.float64)
    lens = Lens.from_json(spec["lens"]) if spec["lens"] is not None else base_lens
    if lens is None:
        raise ValueError(f"job {job['key']}: camera {spec['name']} has no lens")
    return pose, lens


def spread_points(points: bpy.types.Object, positions: np.ndarray) -> float:
    """Grow the cloud's spheres to 0.7 x the median nearest-neighbour spacing (1-5 cm), so the room
    reads as surfaces rather than dots; returns the radius in metres."""
    from ..core.render.scenes import point_spacing

    radius = float(np.clip(0.7 * point_spacing(positions), 0.01, 0.05))
    for modifier in points.modifiers:
        if modifier.type == "NODES" and modifier.node_group is not None:
            for node in modifier.node_group.nodes:
                if node.type == "MESH_TO_POINTS":
                    node.inputs["Radius"].default_value = radius
    return radius


def mesh_occluders(scene: bpy.types.Scene) -> list[Occluder]:
    """Triangles (world) of every render-visible mesh of a .blend, evaluated (modifiers applied)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    occluders = []
    for obj in scene.objects:
        if obj.type != "MESH" or obj.hide_render:
            continue
        world, triangles = evaluated_triangles(obj, depsgraph)
        if len(triangles):
            occluders.append(Occluder(obj.name, world[triangles]))
    return occluders
