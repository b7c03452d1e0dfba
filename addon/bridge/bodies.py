"""Skinned SMPL-family body meshes: vertex groups from LBS weights, betas as shape keys."""

import bpy
import numpy as np

from .meshes import mesh_from_arrays, object_from_mesh


def add_vertex_groups(obj: bpy.types.Object, names: tuple[str, ...], weights: np.ndarray) -> None:
    """One vertex group per joint name from ``weights`` (V, J); zero weights are skipped.

    VertexGroup.add takes one weight for a list of indices, so vertices are
    grouped by identical weight (exact float32 values) to keep the call count low.
    """
    weights = np.asarray(weights, dtype=np.float32)
    for j, name in enumerate(names):
        group = obj.vertex_groups.new(name=name)
        column = weights[:, j]
        nonzero = np.flatnonzero(column > 0.0)
        if nonzero.size == 0:
            continue
        values, inverse = np.unique(column[nonzero], return_inverse=True)
        for k, value in enumerate(values):
            group.add(nonzero[inverse == k].tolist(), float(value), "REPLACE")


def add_shape_keys(
    obj: bpy.types.Object,
    basis: np.ndarray,
    directions: np.ndarray,
    names: list[str],
    values: np.ndarray,
    slider_range: float = 5.0,
) -> None:
    """A Basis key plus one key per shape direction.

    basis: (V, 3) metres; directions: (V, 3, S) per-unit offsets (already in the
    mesh's frame); key k holds basis + directions[..., k] so its value is beta_k.
    """
    obj.shape_key_add(name="Basis", from_mix=False)
    for k, name in enumerate(names):
        block = obj.shape_key_add(name=name, from_mix=False)
        block.data.foreach_set("co", (basis + directions[:, :, k]).astype(np.float32).ravel())
        block.slider_min, block.slider_max = -slider_range, slider_range
        block.value = float(values[k]) if k < len(values) else 0.0


def build_skinned_body(
    name: str,
    vertices: np.ndarray,
    faces: np.ndarray,
    armature: bpy.types.Object,
    joint_names: tuple[str, ...],
    weights: np.ndarray,
    collection: bpy.types.Collection,
) -> bpy.types.Object:
    """A mesh object parented to ``armature`` with an Armature modifier and vertex groups."""
    obj = object_from_mesh(name, mesh_from_arrays(name, vertices, faces), collection)
    add_vertex_groups(obj, joint_names, weights)
    obj.parent = armature
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    modifier.use_vertex_groups = True
    obj.data.polygons.foreach_set("use_smooth", np.ones(len(obj.data.polygons), dtype=bool))
    return obj


POSE_KEY_PREFIX = "pose_"


def add_pose_corrective_keys(obj: bpy.types.Object, basis: np.ndarray, posedirs: np.ndarray) -> list[str]:
    """One shape key per pose-corrective direction (SMPL's 207), value 0 until keyed.

    basis: (V, 3) the mesh's rest vertices; posedirs: (V, 3, P) offsets in the mesh's frame.
    Returns the key names in ``posedirs`` order.
    """
    if obj.data.shape_keys is None:
        obj.shape_key_add(name="Basis", from_mix=False)
    names = []
    for p in range(posedirs.shape[2]):
        name = f"{POSE_KEY_PREFIX}{p:03d}"
        block = obj.shape_key_add(name=name, from_mix=False)
        block.data.foreach_set("co", (basis + posedirs[:, :, p]).astype(np.float32).ravel())
        # Corrective values are (R - I) entries, within [-2, 2].
        block.slider_min, block.slider_max = -2.0, 2.0
        names.append(name)
    return names
