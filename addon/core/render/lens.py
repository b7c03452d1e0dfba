"""Lens models that project camera-frame points to pixels exactly as the renderer does.

Camera frame: OpenCV (x right, y down, z forward), metres. Pixels: u right, v down, origin at the
image's top-left corner, pixel (i, j) covering [i, i+1] x [j, j+1] (so its centre is i + 0.5).

* ``pinhole``: u = f_x x / z + c_x, v = f_y y / z + c_y (:func:`..camera.project_camera_points`),
  what Blender's perspective camera renders with the settings of
  :func:`..camera.blender_camera_settings`.
* ``fisheye_equidistant``: Cycles' ``FISHEYE_EQUIDISTANT`` panoramic camera. With
  theta = the angle from the optical axis and phi = atan2(y, x), Cycles maps a direction to
  normalised image coordinates r = theta / fov, (s, t) = (0.5 + r cos phi, 0.5 + r sin phi),
  where s spans the image width and t its height separately (a non-square image gets an
  elliptical image circle). Cycles' t grows upwards in its bottom-up raster while OpenCV's y points
  down, so both flips cancel and v = t * H. Directions with theta > fov / 2 fall outside the
  image circle and have no image. Checked against rendered markers in
  ``tests/blender/test_render_keypoints.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..camera import intrinsics_from_fov, project_camera_points

LensModel = Literal["pinhole", "fisheye_equidistant"]
LENS_MODELS: tuple[str, ...] = ("pinhole", "fisheye_equidistant")


@dataclass(frozen=True)
class Lens:
    """A camera's projection. width, height: pixels. K: (3, 3) pixels (pinhole only);
    fov_deg: the fisheye's field of view across the image circle, degrees (fisheye only)."""

    model: LensModel
    width: int
    height: int
    K: tuple[tuple[float, float, float], ...] | None = None
    fov_deg: float | None = None

    def __post_init__(self) -> None:
        if self.model not in LENS_MODELS:
            raise ValueError(f"lens model must be one of {LENS_MODELS}, got {self.model!r}")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"lens image size must be positive, got {self.width} x {self.height}")
        if self.model == "pinhole":
            if self.K is None or np.asarray(self.K).shape != (3, 3):
                raise ValueError("a pinhole lens needs K (3, 3)")
        elif self.fov_deg is None or not 0.0 < self.fov_deg <= 360.0:
            raise ValueError(f"a fisheye lens needs fov_deg in (0, 360], got {self.fov_deg!r}")

    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) float64 K of a pinhole lens."""
        if self.K is None:
            raise ValueError(f"a {self.model} lens has no K matrix")
        return np.asarray(self.K, dtype=np.float64)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) of camera-frame points (..., 3); NaN where the point has no image
        (behind a pinhole camera, outside the fisheye's image circle). Points outside the
        image rectangle keep their (off-image) pixel coordinates."""
        points = np.asarray(points, dtype=np.float64)
        if points.shape[-1:] != (3,):
            raise ValueError(f"points must be (..., 3), got {points.shape}")
        if self.model == "pinhole":
            return project_camera_points(points, self.matrix)
        return fisheye_equidistant(points, math.radians(float(self.fov_deg)), self.width, self.height)

    def in_image(self, pixels: np.ndarray) -> np.ndarray:
        """(...,) bool: the pixel lies inside the image rectangle (and is not NaN)."""
        u, v = pixels[..., 0], pixels[..., 1]
        with np.errstate(invalid="ignore"):
            return (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)

    def scaled(self, width: int, height: int) -> "Lens":
        """The same lens rendered at another resolution (pinhole K scaled per axis)."""
        if self.model == "pinhole":
            K = self.matrix * np.array([[width / self.width], [height / self.height], [1.0]])
            return Lens("pinhole", width, height, K=_tuple(K))
        return Lens(self.model, width, height, fov_deg=self.fov_deg)

    def to_json(self) -> dict:
        out = {"model": self.model, "width": self.width, "height": self.height}
        if self.model == "pinhole":
            out["K"] = [list(row) for row in self.matrix]
        else:
            out["fov_deg"] = float(self.fov_deg)  # type: ignore[arg-type]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Lens":
        K = data.get("K")
        return cls(model=data["model"], width=int(data["width"]), height=int(data["height"]),
                   K=None if K is None else _tuple(np.asarray(K, dtype=np.float64)),
                   fov_deg=None if data.get("fov_deg") is None else float(data["fov_deg"]))


def pinhole_lens(width: int, height: int, horizontal_fov_deg: float) -> Lens:
    """A centred pinhole lens with square pixels and this horizontal field of view."""
    return Lens("pinhole", width, height, K=_tuple(intrinsics_from_fov(width, height, horizontal_fov_deg)))


def fisheye_equidistant(points: np.ndarray, fov_rad: float, width: int, height: int) -> np.ndarray:
    """Cycles' FISHEYE_EQUIDISTANT mapping (module docstring) of OpenCV camera points (..., 3)."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    theta = np.arctan2(np.hypot(x, y), z)
    phi = np.arctan2(y, x)
    r = theta / fov_rad
    pixels = np.stack([(0.5 + r * np.cos(phi)) * width, (0.5 + r * np.sin(phi)) * height], axis=-1)
    inside = theta <= fov_rad / 2.0
    return np.where(inside[..., None], pixels, np.nan)


def world_to_camera(points: np.ndarray, camera_to_world: np.ndarray) -> np.ndarray:
    """World points (..., 3) in the OpenCV camera frame given its camera-to-world (4, 4)."""
    camera_to_world = np.asarray(camera_to_world, dtype=np.float64)
    rotation, eye = camera_to_world[:3, :3], camera_to_world[:3, 3]
    return (np.asarray(points, dtype=np.float64) - eye) @ rotation


def _tuple(K: np.ndarray) -> tuple[tuple[float, float, float], ...]:
    return tuple(tuple(float(v) for v in row) for row in K)  # type: ignore[return-value]


def pinhole_from_blender(lens_mm: float, sensor_width_mm: float, sensor_height_mm: float, sensor_fit: str,
                         shift_x: float, shift_y: float, width: int, height: int) -> Lens:
    """The pinhole Lens of a Blender perspective camera rendered at width x height (square pixels).

    Blender fits the sensor to the image width (HORIZONTAL), height (VERTICAL) or the larger side
    (AUTO, with sensor_width); shifts are fractions of the larger image side, +x shifting the image
    content left, +y down (the inverse of :func:`..camera.blender_camera_settings`).
    """
    if sensor_fit == "VERTICAL" or (sensor_fit == "AUTO" and height > width):
        size_px, sensor_mm = height, sensor_height_mm if sensor_fit == "VERTICAL" else sensor_width_mm
    else:
        size_px, sensor_mm = width, sensor_width_mm
    focal = lens_mm / sensor_mm * size_px
    larger = float(max(width, height))
    K = np.array([[focal, 0.0, width / 2.0 - shift_x * larger], [0.0, focal, height / 2.0 + shift_y * larger],
                  [0.0, 0.0, 1.0]])
    return Lens("pinhole", width, height, K=_tuple(K))
