"""Mesh objects from numpy arrays, written with ``foreach_set``."""

import bpy
import numpy as np


def mesh_from_arrays(name: str, vertices: np.ndarray, faces: np.ndarray) -> bpy.types.Mesh:
    """A mesh datablock from polygons that all have the same corner count.

    vertices: (V, 3) metres; faces: (F, k) int vertex indices (k = 3 triangles, 4 quads),
    counter-clockwise seen from outside.
    """
    vertices = np.ascontiguousarray(vertices, dtype=np.float32).reshape(-1, 3)
    faces = np.ascontiguousarray(faces, dtype=np.int32)
    if faces.ndim != 2 or faces.shape[1] < 3:
        raise ValueError(f"mesh {name!r}: faces must be (F, k >= 3), got {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f"mesh {name!r}: face index out of range for {len(vertices)} vertices")
    corners = faces.shape[1]
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", vertices.ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, corners, dtype=np.int32))
    # loop_total is read-only on some versions and derived from loop_start on 4.x+.
    mesh.update(calc_edges=True)
    mesh.validate(clean_customdata=False)
    return mesh


def object_from_mesh(
    name: str, mesh: bpy.types.Mesh, collection: bpy.types.Collection
) -> bpy.types.Object:
    """A new object using ``mesh``, linked into ``collection``."""
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj


def evaluated_triangles(obj: bpy.types.Object, depsgraph) -> tuple[np.ndarray, np.ndarray]:
    """The object's mesh as ``depsgraph`` evaluated it (modifiers, skinning applied):
    (V, 3) float64 world vertices, metres, and (F, 3) int64 triangles into them."""
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        mesh.calc_loop_triangles()
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
        mesh.vertices.foreach_get("co", co)
        triangles = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", triangles)
        matrix = np.array(evaluated.matrix_world, dtype=np.float64)
    finally:
        evaluated.to_mesh_clear()
    world = co.reshape(-1, 3).astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
    return world, triangles.reshape(-1, 3)
