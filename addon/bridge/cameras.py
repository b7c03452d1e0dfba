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


def camera_from_intrinsics(
    name: str,
    K: np.ndarray,
    image_size: tuple[int, int],
    opencv_camera_to_world: np.ndarray,
    collection: bpy.types.Collection,
    scene: bpy.types.Scene | None = None,
) -> bpy.types.Object:
    """A camera reproducing pinhole intrinsics K (3, 3) at image_size (W, H) and an OpenCV pose.

    When ``scene`` is given its render resolution and pixel aspect are set to match,
    because Blender keeps those on the scene, not the camera.
    """
    from ..core.camera import blender_camera_settings, blender_camera_to_world

    width, height = image_size
    settings = blender_camera_settings(K, width, height)
    data = bpy.data.cameras.new(name)
    data.sensor_fit = settings["sensor_fit"]
    data.sensor_width = settings["sensor_width"]
    data.lens = settings["lens"]
    data.shift_x, data.shift_y = settings["shift_x"], settings["shift_y"]
    data.clip_start, data.clip_end = 0.05, 100.0
    obj = bpy.data.objects.new(name, data)
    obj.matrix_world = matrix_from_numpy(blender_camera_to_world(opencv_camera_to_world))
    collection.objects.link(obj)
    if scene is not None:
        render = scene.render
        render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
        render.pixel_aspect_x, render.pixel_aspect_y = settings["pixel_aspect_x"], settings["pixel_aspect_y"]
    return obj
