"""An avatar that lives in the room .blend itself: appended from a copy of the file (Blender appends
nothing from the file it has open), its own objects in the room hidden from the render and the
occluders, the user's file untouched and the copy removed."""

import hashlib
import json
import tempfile
from pathlib import Path

import bpy
import numpy as np

from addon.batch.clip import render_clip
from addon.bridge.cameras import matrix_from_numpy
from addon.bridge.render_video import FRAME_PATTERN, read_png
from addon.core.camera import look_at
from addon.core.render.jobspec import load_job_spec
from addon.core.render.manifest import build_manifest
from helpers.avatar_blend import save_avatar_blend

AVATAR_AT = (2.0, 1.5, 0.0)  # where the character stands in the room file, away from the anchor
CAMERA = look_at(np.array([0.5, -5.0, 1.6]), np.array([0.8, 0.5, 0.9]))  # sees the anchor and the avatar


def save_room_with_its_avatar(path: Path) -> dict:
    """The test avatar's file made a room: a floor and the scene camera added."""
    info = save_avatar_blend(path, "mixamo", scale=0.9, location=AVATAR_AT)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    bpy.ops.mesh.primitive_plane_add(size=10.0)
    bpy.context.object.name = "Floor"
    camera = bpy.data.objects.new("Room Camera", bpy.data.cameras.new("Room Camera"))
    camera.matrix_world = matrix_from_numpy(CAMERA)
    bpy.context.scene.collection.objects.link(camera)
    bpy.context.scene.camera = camera
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return info


def test_the_rooms_own_character_plays_the_person_and_its_original_is_hidden(tmp_path):
    from helpers.tiny_checkpoint import write_tiny_checkpoint  # torch: not in the compat envs

    room = tmp_path / "ward.blend"
    info = save_room_with_its_avatar(room)
    digest = hashlib.sha256(room.read_bytes()).hexdigest()
    (tmp_path / "jobs.toml").write_text(f"""
[[scenes]]
name = "ward"
blend = "ward.blend"
anchor = [0.0, 0.0]
[[prompts]]
name = "stand"
text = "a patient stands still"
roles = ["patient"]
label = "stand"
[[avatars]]
name = "resident"
blend = "ward.blend"
object = "{info['armature']}"
[randomize]
avatars = ["resident"]
[clip]
seconds = 0.5
width = 96
height = 72
[generation]
checkpoint = "{write_tiny_checkpoint(tmp_path)}"
steps = 1
device = "cpu"
[outputs]
png_frames = true
""")
    job = build_manifest(load_job_spec(tmp_path / "jobs.toml"))["jobs"][0]
    temporary = set(Path(tempfile.gettempdir()).glob("isynth-avatars-*"))
    folder = render_clip(job, tmp_path / "out")
    document = json.loads((folder / "annotations.json").read_text())
    person = document["persons"][0]
    copy = bpy.data.objects[person["avatar"]["object"]]
    original = bpy.data.objects[info["armature"]]
    assert copy is not original and copy.type == "ARMATURE" and copy.animation_data.action is not None
    assert original.hide_render and bpy.data.objects[info["body"]].hide_render  # the room's own, hidden
    assert person["avatar"]["retarget"]["direction_max_deg"] < 3.0
    pelvis = np.asarray(document["frames"][0]["persons"][0]["joints_world"][0])
    assert np.linalg.norm(pelvis[:2]) < 0.5  # at the scene's anchor, not where the file has the character
    # One red body in the image, the person's: nothing red outside its box.
    image = read_png(folder / "frames" / FRAME_PATTERN.format(1)).astype(np.float64) / 255.0
    red = (image[..., 0] > 0.25) & (image[..., 1] < 0.6 * image[..., 0]) & (image[..., 2] < 0.6 * image[..., 0])
    ys, xs = np.nonzero(red)
    x, y, w, h = document["frames"][0]["persons"][0]["bbox"]
    assert len(xs) > 20 and xs.min() >= x - 2 and xs.max() <= x + w + 2 and ys.min() >= y - 2 and ys.max() <= y + h + 2
    assert hashlib.sha256(room.read_bytes()).hexdigest() == digest  # the user's file as it was
    assert set(Path(tempfile.gettempdir()).glob("isynth-avatars-*")) == temporary  # the copy removed
    assert not (folder / ".room_copy").exists() and not any((tmp_path / "out" / ".partial").iterdir())
