"""Cameras and lights placed from core's world-frame matrices."""

import bpy
import numpy as np
from mathutils import Matrix

from ..core.camera import sensor_focal_mm


def matrix_from_numpy(matrix: np.ndarray) -> Matrix:
    """A mathutils Matrix with the same rows as ``matrix`` (4, 4).

    Assigning nested lists straight to an RNA matrix property reads them as
    columns (RNA stores matrices column-major), which silently transposes.
    """
    return Matrix([[float(v) for v in row] for row in np.asarray(matrix, dtype=np.float64)])


def camera_from_matrix(
    name: str,
    camera_to_world: np.ndarray,
    horizontal_fov_deg: float,
    collection: bpy.types.Collection,
) -> bpy.types.Object:
    """A perspective camera; camera_to_world: (4, 4) Blender convention (looks down -Z)."""
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = 36.0
    data.lens = sensor_focal_mm(horizontal_fov_deg, data.sensor_width)
    data.clip_start = 0.05
    data.clip_end = 100.0
    obj = bpy.data.objects.new(name, data)
    obj.matrix_world = matrix_from_numpy(camera_to_world)
    collection.objects.link(obj)
    return obj


def point_light(
    name: str, position: np.ndarray, power_w: float, collection: bpy.types.Collection
) -> bpy.types.Object:
    """A point light at ``position`` (3,) metres with ``power_w`` watts."""
    data = bpy.data.lights.new(name, type="POINT")
    data.energy = power_w
    data.shadow_soft_size = 0.5
    obj = bpy.data.objects.new(name, data)
    obj.location = [float(v) for v in position]
    collection.objects.link(obj)
    return obj
