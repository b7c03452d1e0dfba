"""Batch rendering's Blender-version branches, on every supported Blender (./run compat)."""

import sys

import bpy
import numpy as np
import pytest

from addon.bridge.collections import new_child_collection
from addon.bridge.render_camera import render_camera, scene_camera_pose_and_lens
from addon.bridge.render_engine import configure_engine, eevee_engine_id, render_frames, render_override_pass
from addon.bridge.render_video import encode_frames, read_png, write_png
from addon.core.camera import OPENCV_TO_BLENDER_CAMERA, look_at
from addon.core.render.lens import Lens, pinhole_lens
from addon.core.render.mp4 import mp4_frame_count, mp4_video_codec

pytestmark = pytest.mark.compat
LOOK = {"light": {"studio_rotation_deg": 30.0}, "motion_blur_shutter": 0.0}
POSE = look_at(np.array([3.0, -3.0, 2.0]), np.zeros(3)) @ OPENCV_TO_BLENDER_CAMERA


def test_the_cli_command_comes_and_goes_with_the_extension(extension):
    command = sys.modules[f"{extension}.addon.batch.cli_command"]
    assert command._handle is not None
    assert command.execute([]) == 2  # usage, exit code 2
    import blender_session

    blender_session.disable(extension)
    assert command._handle is None


def test_png_round_trip_and_h264_encoding(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(1, 4):
        image = np.zeros((24, 32, 3), dtype=np.uint8)
        image[:, : index * 8] = (200, 40, 10)
        write_png(frames / f"img_{index:05d}.png", image)
    back = read_png(frames / "img_00002.png")
    assert back.shape == (24, 32, 3) and back[5, 15].tolist() == [200, 40, 10] and back[5, 16].tolist() == [0, 0, 0]
    video = encode_frames(frames, 3, 10.0, tmp_path / "clip.mp4")
    assert mp4_video_codec(video) == "avc1" and mp4_frame_count(video) == 3


@pytest.mark.parametrize("engine", ["workbench", "eevee", "cycles"])
def test_engines_render_the_pinhole_camera(tmp_path, engine):
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_cube_add(size=1.0)
    collection = new_child_collection(scene, "Render")
    camera = render_camera(scene, pinhole_lens(32, 24, 60.0), POSE, collection)
    assert scene.camera == camera and (scene.render.resolution_x, scene.render.resolution_y) == (32, 24)
    pose, lens = scene_camera_pose_and_lens(scene, 32, 24)
    np.testing.assert_allclose(pose, POSE, atol=1e-6)
    np.testing.assert_allclose(lens.matrix, pinhole_lens(32, 24, 60.0).matrix, atol=1e-4)
    configure_engine(scene, {"name": engine, "samples": 1, "denoise": False, "threads": 1}, LOOK, "MATERIAL", 1)
    assert scene.render.engine == {"workbench": "BLENDER_WORKBENCH", "eevee": eevee_engine_id(), "cycles": "CYCLES"}[engine]
    scene.frame_start = scene.frame_end = 1
    if engine == "eevee":
        return  # EEVEE needs a GPU context; the setting is what this checks
    assert render_frames(scene, tmp_path / "rgb") == 1
    image = read_png(tmp_path / "rgb" / "img_00001.png")
    assert image.shape == (24, 32, 3)
    if engine == "workbench":  # (unlit Cycles shows a black cube on black)
        assert image[12, 16].max() > 0


def test_fisheye_camera_and_privacy_passes(tmp_path):
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_cube_add(size=1.0)
    collection = new_child_collection(scene, "Render")
    camera = render_camera(scene, Lens("fisheye_equidistant", 24, 24, fov_deg=180.0), POSE, collection)
    assert camera.data.type == "PANO" and camera.data.panorama_type == "FISHEYE_EQUIDISTANT"
    configure_engine(scene, {"name": "cycles", "samples": 1, "denoise": False, "threads": 1}, LOOK, "MATERIAL", 1)
    scene.frame_start = scene.frame_end = 1
    render_override_pass(scene, "silhouette", tmp_path / "silhouette", [], 0.3, 10.0)
    silhouette = read_png(tmp_path / "silhouette" / "img_00001.png")
    assert silhouette[12, 12].tolist() == [255, 255, 255] and silhouette[0, 0].tolist() == [0, 0, 0]
    render_override_pass(scene, "depth", tmp_path / "depth", [], 0.3, 10.0)
    depth = read_png(tmp_path / "depth" / "img_00001.png")
    # the cube's near face is ~4.2 m away: 1 - (4.2 - 0.3) / 9.7 = 0.6 of full scale
    assert 0.5 < depth[12, 12, 0] / 255.0 < 0.7 and depth[0, 0, 0] == 0
    assert scene.render.engine == "CYCLES" and scene.view_layers[0].material_override is None
