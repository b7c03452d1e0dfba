"""A .blend room filmed through its own camera with a Cycles fisheye: its meshes hide keypoints."""

import json

import bpy
import numpy as np
import pytest

from addon.batch.clip import render_clip
from addon.core.camera import OPENCV_TO_BLENDER_CAMERA, look_at
from addon.core.render.jobspec import load_job_spec
from addon.core.render.manifest import build_manifest
from addon.core.render.mp4 import mp4_frame_count, mp4_video_codec
from addon.bridge.cameras import matrix_from_numpy

CAMERA = look_at(np.array([0.0, -4.0, 1.5]), np.array([0.0, 0.0, 1.0]))  # Blender convention


def save_room(path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_plane_add(size=8.0)
    bpy.context.object.name = "Floor"
    bpy.ops.mesh.primitive_cube_add(location=(0.0, -2.0, 0.6))
    bpy.context.object.scale = (0.5, 0.15, 0.6)  # a 1 x 0.3 x 1.2 m cabinet between camera and person
    bpy.context.object.name = "Cabinet"
    data = bpy.data.cameras.new("Room Camera")
    data.lens, data.sensor_width, data.sensor_fit = 30.0, 36.0, "HORIZONTAL"
    camera = bpy.data.objects.new("Room Camera", data)
    camera.matrix_world = matrix_from_numpy(CAMERA)
    scene.collection.objects.link(camera)
    scene.camera = camera
    bpy.ops.wm.save_as_mainfile(filepath=str(path))


@pytest.fixture
def job(tmp_path):
    save_room(tmp_path / "room.blend")
    from helpers.tiny_checkpoint import write_tiny_checkpoint  # torch: not in the compat envs
    checkpoint = write_tiny_checkpoint(tmp_path)
    (tmp_path / "jobs.toml").write_text(f"""
[[scenes]]
name = "ward"
blend = "room.blend"
anchor = [0.0, 0.0]
[[prompts]]
name = "stand"
text = "a patient stands still"
roles = ["patient"]
label = "stand"
[clip]
seconds = 0.5
width = 48
height = 48
[generation]
checkpoint = "{checkpoint}"
steps = 1
device = "cpu"
[cameras]
lens = "fisheye"
fisheye_fov_deg = 120.0
[engine]
name = "cycles"
samples = 1
[outputs]
png_frames = true
""")
    return build_manifest(load_job_spec(tmp_path / "jobs.toml"))["jobs"][0]


def test_blend_scene_with_a_fisheye(tmp_path, job):
    assert job["camera"]["camera_to_world"] is None and job["camera"]["lens"]["model"] == "fisheye_equidistant"
    folder = render_clip(job, tmp_path / "out")
    document = json.loads((folder / "annotations.json").read_text())
    pose = np.asarray(document["camera"]["camera_to_world"])
    np.testing.assert_allclose(pose, CAMERA @ OPENCV_TO_BLENDER_CAMERA, atol=1e-6)  # the .blend's own camera
    assert document["camera"]["lens"] == {"model": "fisheye_equidistant", "width": 48, "height": 48, "fov_deg": 120.0}
    visibility = np.array([[p["keypoints"] for p in f["persons"]] for f in document["frames"]])[..., 2]
    assert visibility.shape == (5, 1, 17)
    assert (visibility[:, 0, 13:17] == 1).all(), visibility[:, 0]  # knees and ankles: behind the cabinet
    assert (visibility[:, 0, :7] == 2).all(), visibility[:, 0]  # face and shoulders: above it
    assert mp4_video_codec(folder / "video.mp4") == "avc1" and mp4_frame_count(folder / "video.mp4") == 5
    assert len(list((folder / "frames").iterdir())) == 5
