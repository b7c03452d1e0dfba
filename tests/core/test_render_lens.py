"""Lens models: pinhole as core.camera, Cycles' equidistant fisheye, Blender camera round trips."""

import math

import numpy as np
import pytest

from addon.core.camera import blender_camera_settings, intrinsics_from_fov, project_camera_points
from addon.core.render.lens import Lens, fisheye_equidistant, pinhole_from_blender, pinhole_lens, world_to_camera


def test_pinhole_projection_is_core_camera_projection():
    lens = pinhole_lens(320, 240, 80.0)
    points = np.random.default_rng(0).uniform([-1, -1, 0.5], [1, 1, 4], (50, 3))
    np.testing.assert_array_equal(lens.project(points), project_camera_points(points, intrinsics_from_fov(320, 240, 80.0)))
    assert np.isnan(lens.project(np.array([0.0, 0.0, -1.0]))).all()


def test_fisheye_equidistant_geometry():
    width, height, fov = 200, 100, math.radians(180)
    on_axis = fisheye_equidistant(np.array([0.0, 0.0, 2.0]), fov, width, height)
    np.testing.assert_allclose(on_axis, [100.0, 50.0])
    # 45 degrees off the axis towards +x (OpenCV right): a quarter of the width right of centre
    right = fisheye_equidistant(np.array([1.0, 0.0, 1.0]), fov, width, height)
    np.testing.assert_allclose(right, [150.0, 50.0])
    # towards +y (OpenCV down), 90 degrees: the lower edge of the (elliptical) image circle
    down = fisheye_equidistant(np.array([0.0, 1.0, 0.0]), fov, width, height)
    np.testing.assert_allclose(down, [100.0, 100.0], atol=1e-9)
    # radius grows linearly with the angle (equidistant), whatever the distance
    angles = np.radians([10, 20, 40])
    points = np.stack([np.sin(angles), np.zeros(3), np.cos(angles)], axis=1) * np.array([[1], [3], [7]])
    radii = fisheye_equidistant(points, fov, width, height)[:, 0] - 100.0
    np.testing.assert_allclose(radii / np.degrees(angles), 200.0 / 180.0)
    assert np.isnan(fisheye_equidistant(np.array([0.0, 0.0, -1.0]), fov, width, height)).all()
    # a 360 degree lens images the point straight behind on its rim
    assert np.isfinite(fisheye_equidistant(np.array([1e-9, 0.0, -1.0]), math.radians(360), 100, 100)).all()


def test_lens_json_round_trip_and_scaling():
    lens = pinhole_lens(320, 240, 70.0)
    assert Lens.from_json(lens.to_json()) == lens
    half = lens.scaled(160, 120)
    np.testing.assert_allclose(half.matrix, lens.matrix * np.array([[0.5], [0.5], [1.0]]))
    fisheye = Lens("fisheye_equidistant", 256, 256, fov_deg=185.0)
    assert Lens.from_json(fisheye.to_json()) == fisheye and fisheye.scaled(64, 64).fov_deg == 185.0
    with pytest.raises(ValueError, match="fov_deg"):
        Lens("fisheye_equidistant", 10, 10)


def test_in_image_excludes_off_frame_and_nan_pixels():
    lens = pinhole_lens(10, 8, 60.0)
    pixels = np.array([[0.0, 0.0], [9.99, 7.99], [10.0, 4.0], [-0.1, 4.0], [np.nan, 3.0]])
    assert lens.in_image(pixels).tolist() == [True, True, False, False, False]


@pytest.mark.parametrize("size", [(320, 240), (240, 320)])
def test_blender_camera_settings_round_trip(size):
    width, height = size
    K = np.array([[300.0, 0.0, 150.0], [0.0, 300.0, 130.0], [0.0, 0.0, 1.0]])
    settings = blender_camera_settings(K, width, height)
    lens = pinhole_from_blender(settings["lens"], settings["sensor_width"], 24.0, settings["sensor_fit"],
                                settings["shift_x"], settings["shift_y"], width, height)
    np.testing.assert_allclose(lens.matrix, K, atol=1e-9)


def test_auto_sensor_fit_uses_the_larger_side():
    portrait = pinhole_from_blender(50.0, 36.0, 24.0, "AUTO", 0.0, 0.0, 240, 320)
    assert portrait.matrix[1, 1] == pytest.approx(50.0 / 36.0 * 320)


def test_world_to_camera_inverts_the_pose():
    pose = np.eye(4)
    pose[:3, :3] = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # looking along +x
    pose[:3, 3] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(world_to_camera(np.array([4.0, 2.0, 3.0]), pose), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(world_to_camera(np.array([1.0, 1.0, 2.0]), pose), [1.0, 1.0, 0.0])
