"""Camera poses and intrinsics in the world frame (metres, Z up).

Blender's camera convention: the camera looks down its local -Z axis with
local +Y up, so a camera-to-world matrix has columns (right, up, -forward, eye).
"""

from __future__ import annotations

import math

import numpy as np

WORLD_UP = np.array([0.0, 0.0, 1.0])


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = WORLD_UP) -> np.ndarray:
    """Camera-to-world transform of a camera at ``eye`` looking at ``target``.

    eye, target: (3,) metres, world frame. up: (3,) the world direction that
    appears upwards in the image; must not be parallel to the view direction.
    Returns (4, 4) float64, rotation orthonormal with determinant +1.
    """
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    norm = np.linalg.norm(forward)
    if norm < 1e-9:
        raise ValueError("look_at: eye and target coincide")
    forward /= norm
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at: view direction is parallel to 'up'")
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    matrix = np.eye(4)
    matrix[:3, 0] = right
    matrix[:3, 1] = true_up
    matrix[:3, 2] = -forward
    matrix[:3, 3] = eye
    return matrix


def intrinsics_from_fov(width: int, height: int, horizontal_fov_deg: float) -> np.ndarray:
    """Pinhole intrinsics K (3, 3) in pixels for a horizontal field of view.

    Principal point at the image centre, square pixels: f = (W / 2) / tan(fov / 2).
    """
    if not 0.0 < horizontal_fov_deg < 180.0:
        raise ValueError(f"horizontal_fov_deg must be in (0, 180), got {horizontal_fov_deg}")
    focal = (width / 2.0) / math.tan(math.radians(horizontal_fov_deg) / 2.0)
    return np.array(
        [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]]
    )


def sensor_focal_mm(horizontal_fov_deg: float, sensor_width_mm: float = 36.0) -> float:
    """Lens focal length (mm) giving ``horizontal_fov_deg`` on a sensor this wide."""
    return (sensor_width_mm / 2.0) / math.tan(math.radians(horizontal_fov_deg) / 2.0)


def project_points(points: np.ndarray, camera_to_world: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixel coordinates (N, 2) of world points (N, 3) seen by a Blender-convention camera.

    Pixel origin is the top-left corner, x to the right, y downwards.
    """
    return project_opencv(points, np.asarray(camera_to_world, dtype=np.float64) @ OPENCV_TO_BLENDER_CAMERA, K)


# OpenCV camera axes (x right, y down, z forward) -> Blender camera axes (x right, y up, -z forward).
OPENCV_TO_BLENDER_CAMERA = np.diag([1.0, -1.0, -1.0, 1.0])


def blender_camera_to_world(opencv_camera_to_world: np.ndarray) -> np.ndarray:
    """(4, 4) matrix_world of a Blender camera equal to an OpenCV camera-to-world (4, 4)."""
    return np.asarray(opencv_camera_to_world, dtype=np.float64) @ OPENCV_TO_BLENDER_CAMERA


def blender_camera_settings(K: np.ndarray, width: int, height: int, sensor_width_mm: float = 36.0) -> dict:
    """Blender camera and render settings that reproduce pinhole intrinsics K (3, 3) at W x H.

    Returns lens (mm), sensor_width (mm), sensor_fit ("HORIZONTAL"), shift_x, shift_y
    (fractions of the larger image side, Blender's unit), pixel_aspect_x, pixel_aspect_y.
    With sensor_fit HORIZONTAL, f_x = lens / sensor_width * W; a principal point right of
    the centre shifts the frame left. Unequal f_x, f_y become a pixel aspect ratio.
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if fx <= 0 or fy <= 0:
        raise ValueError(f"intrinsics: focal lengths must be positive, got fx={fx}, fy={fy}")
    larger = float(max(width, height))
    # Blender's pixel aspects are >= 1: the longer pixel side gets the ratio.
    aspect_x, aspect_y = (1.0, fx / fy) if fx >= fy else (fy / fx, 1.0)
    return {
        "lens": fx * sensor_width_mm / width,
        "sensor_width": sensor_width_mm,
        "sensor_fit": "HORIZONTAL",
        "shift_x": (width / 2.0 - cx) / larger,
        "shift_y": (cy - height / 2.0) / larger * fx / fy,
        "pixel_aspect_x": aspect_x,
        "pixel_aspect_y": aspect_y,
    }


def project_camera_points(points: np.ndarray, K: np.ndarray, min_depth: float = 1e-6) -> np.ndarray:
    """Pinhole projection (draft eq. 4.4) of OpenCV camera-frame points (..., 3) to pixels (..., 2).

    Pixels: u right, v down, pixel centres at half-integers. Points with z <= ``min_depth``
    (on or behind the camera plane) have no image: their row is NaN.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"K must be (3, 3), got {K.shape}")
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-1:] != (3,):
        raise ValueError(f"points must be (..., 3), got {points.shape}")
    homogeneous = points @ K.T
    in_front = points[..., 2:3] > min_depth
    return np.where(in_front, homogeneous[..., :2] / np.where(in_front, homogeneous[..., 2:3], 1.0), np.nan)


def project_opencv(points: np.ndarray, opencv_camera_to_world: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels (N, 2) (origin top-left corner, y down) of world points (N, 3) seen by an OpenCV camera."""
    world_to_camera = np.linalg.inv(opencv_camera_to_world)
    camera = np.asarray(points, dtype=np.float64) @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
    return project_camera_points(camera, K)
