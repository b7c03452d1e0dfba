"""The render camera of a job: pinhole from K or Cycles' equidistant fisheye, from an OpenCV pose.

Blender 4.0 moved the panorama settings from ``camera.cycles`` onto the camera itself; 3.x is not
supported (the extension needs 4.2), so only the new spelling is used.
"""

from __future__ import annotations

import math

import bpy
import numpy as np

from ..core.camera import OPENCV_TO_BLENDER_CAMERA
from ..core.render.lens import Lens, pinhole_from_blender
from .cameras import camera_from_intrinsics, matrix_from_numpy


def render_camera(scene: bpy.types.Scene, lens: Lens, camera_to_world: np.ndarray,
                  collection: bpy.types.Collection) -> bpy.types.Object:
    """A new camera showing ``lens`` from ``camera_to_world`` (4, 4) OpenCV; made the scene's
    camera, with the render resolution set to the lens's."""
    if lens.model == "pinhole":
        camera = camera_from_intrinsics("Render Camera", lens.matrix, (lens.width, lens.height), camera_to_world,
                                        collection, scene)
    else:
        data = bpy.data.cameras.new("Render Camera")
        data.type = "PANO"
        data.panorama_type = "FISHEYE_EQUIDISTANT"
        data.fisheye_fov = math.radians(float(lens.fov_deg))
        data.clip_start, data.clip_end = 0.05, 100.0
        camera = bpy.data.objects.new("Render Camera", data)
        camera.matrix_world = matrix_from_numpy(np.asarray(camera_to_world) @ OPENCV_TO_BLENDER_CAMERA)
        collection.objects.link(camera)
        render = scene.render
        render.resolution_x, render.resolution_y, render.resolution_percentage = lens.width, lens.height, 100
        render.pixel_aspect_x = render.pixel_aspect_y = 1.0
    scene.camera = camera
    return camera


def scene_camera_pose_and_lens(scene: bpy.types.Scene, width: int, height: int) -> tuple[np.ndarray, Lens]:
    """(OpenCV camera-to-world (4, 4), pinhole Lens at width x height) of a .blend's active camera."""
    camera = scene.camera
    if camera is None or camera.type != "CAMERA":
        raise ValueError(f"scene {scene.name!r} has no active camera to film from")
    data = camera.data
    if data.type != "PERSP":
        raise ValueError(f"camera {camera.name!r} is {data.type}; the recorded camera must be a perspective camera")
    matrix = np.array(camera.matrix_world, dtype=np.float64)
    matrix[:3, :3] /= np.linalg.norm(matrix[:3, :3], axis=0)  # drop any object scale
    lens = pinhole_from_blender(data.lens, data.sensor_width, data.sensor_height, data.sensor_fit,
                                data.shift_x, data.shift_y, width, height)
    return matrix @ OPENCV_TO_BLENDER_CAMERA, lens
