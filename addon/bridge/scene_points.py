"""Reading a scene collection's geometry for generation: room points, or mesh surfaces.

A reconstruction's collection has a point-cloud object (vertices drawn as points by a
Geometry Nodes modifier); its vertices are the room sample the model wants. Any other
collection (the demo room, the user's set) is sampled on its mesh surfaces
(``core.scene_points``). People (meshes skinned to or parented under an armature), cameras,
lights and wire-only helpers (furniture proxies, the placement floor) are never scene.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..core.scene_points import SurfaceMesh, sample_surfaces


def is_point_cloud(obj: bpy.types.Object) -> bool:
    """A vertex-only mesh drawn as points (``bridge.point_clouds``)."""
    return obj.type == "MESH" and len(obj.data.polygons) == 0 and len(obj.data.vertices) > 0 and any(
        m.type == "NODES" for m in obj.modifiers)


def _is_person(obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE" or (obj.parent is not None and obj.parent.type == "ARMATURE") or any(
        m.type == "ARMATURE" for m in getattr(obj, "modifiers", ()))


def world_vertices(obj: bpy.types.Object) -> np.ndarray:
    """(V, 3) float64 vertex positions in world metres."""
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    return co.reshape(-1, 3).astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]


def surface_mesh(obj: bpy.types.Object) -> SurfaceMesh:
    """The object's triangles in world coordinates."""
    mesh = obj.data
    mesh.calc_loop_triangles()
    triangles = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("vertices", triangles)
    return SurfaceMesh(world_vertices(obj), triangles.reshape(-1, 3), str(obj.get("isynth_label", "")))


def collection_scene_points(collection: bpy.types.Collection, seed: int = 0) -> np.ndarray:
    """(N, 3) float64 world metres: the collection's room points, or points on its surfaces.

    Raises ValueError naming the collection when it holds no usable geometry.
    """
    objects = [obj for obj in collection.all_objects if obj.type == "MESH" and not _is_person(obj)]
    clouds = [obj for obj in objects if is_point_cloud(obj)]
    if clouds:
        return np.concatenate([world_vertices(obj) for obj in clouds])
    solid = [obj for obj in objects if obj.display_type not in ("WIRE", "BOUNDS") and len(obj.data.polygons)]
    if not solid:
        raise ValueError(f"scene '{collection.name}': no room points and no solid meshes to generate in")
    return sample_surfaces([surface_mesh(obj) for obj in solid], np.random.default_rng(seed))
