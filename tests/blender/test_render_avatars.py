"""Batch clips on the user's rigged avatars: appended from their .blend, retargeted, labelled
from what Blender evaluates, and what renders is the avatar, not the SMPL body."""

import json

import bpy
import numpy as np
import pytest

from addon.batch.clip import render_clip
from addon.bridge.render_video import FRAME_PATTERN, read_png
from addon.core.render.coco import SMPL_JOINT_OF_COCO
from addon.core.render.jobspec import load_job_spec
from addon.core.render.lens import Lens, world_to_camera
from addon.core.render.manifest import build_manifest
from addon.core.skeleton import JOINT_NAMES
from helpers.avatar_blend import save_avatar_blend
from helpers.avatar_job import JOB, annotations

def avatar_job(tmp_path, roles='["staff", "patient"]', object_line="", fbx_units=""):
    """A manifest job whose every person draws the Mixamo test avatar; (job, avatar info)."""
    info = save_avatar_blend(tmp_path / "nurse.blend", "mixamo", scale=0.9, fbx_units=fbx_units)
    from helpers.tiny_checkpoint import write_tiny_checkpoint  # torch: not in the compat envs
    checkpoint = write_tiny_checkpoint(tmp_path)
    (tmp_path / "jobs.toml").write_text(JOB.format(roles=roles, object_line=object_line, checkpoint=checkpoint))
    return build_manifest(load_job_spec(tmp_path / "jobs.toml"))["jobs"][0], info


def test_two_people_on_copies_of_one_avatar_are_labelled_from_its_evaluated_bones(tmp_path):
    job, info = avatar_job(tmp_path)
    folder = render_clip(job, tmp_path / "out")
    document = annotations(folder)
    lens = Lens.from_json(document["camera"]["lens"])
    camera_to_world = np.asarray(document["camera"]["camera_to_world"])
    avatars = [bpy.data.objects[p["avatar"]["object"]] for p in document["persons"]]
    assert len({a.name for a in avatars}) == 2 and all(a.type == "ARMATURE" for a in avatars)  # two copies
    assert "Their Cube" not in bpy.data.objects and "Their Camera" not in bpy.data.objects  # left behind
    for person, avatar in zip(document["persons"], avatars):
        assert person["body"] == "avatar:nurse"
        assert person["avatar"]["blend"] == str(tmp_path / "nurse.blend")
        assert person["avatar"]["retarget"]["direction_max_deg"] < 3.0
        assert avatar.animation_data.action is not None
    smpl_bodies = [o for o in bpy.data.objects if o.type == "MESH" and o.name.startswith(("Staff", "Patient"))]
    assert smpl_bodies and all(o.hide_render for o in smpl_bodies)
    scene = bpy.context.scene
    for t in (0, 4):
        scene.frame_set(t + 1)
        for p, avatar in enumerate(avatars):
            joints = document["frames"][t]["persons"][p]["joints_world"]
            for joint, bone in info["bones"].items():
                head = np.asarray(avatar.matrix_world) @ np.array([*avatar.pose.bones[bone].head, 1.0])
                np.testing.assert_allclose(joints[JOINT_NAMES.index(joint)], head[:3], atol=2e-5)
            keypoints = np.asarray(document["frames"][t]["persons"][p]["keypoints"])
            for coco, smpl in SMPL_JOINT_OF_COCO.items():
                if keypoints[coco, 2] > 0:
                    pixel = lens.project(world_to_camera(np.asarray(joints[smpl]), camera_to_world))
                    np.testing.assert_allclose(keypoints[coco, :2], pixel, atol=2e-3)


@pytest.mark.parametrize("fbx_units", ["", "object", "parent"], ids=["metres", "fbx-object", "fbx-under-an-empty"])
def test_the_rendered_avatar_fills_its_annotated_box(tmp_path, fbx_units):
    job, _ = avatar_job(tmp_path, roles='["patient"]', fbx_units=fbx_units)
    folder = render_clip(job, tmp_path / "out")
    document = annotations(folder)
    for t in (0, 4):
        image = read_png(folder / "frames" / FRAME_PATTERN.format(t + 1)).astype(np.float64) / 255.0
        red = (image[..., 0] > 0.25) & (image[..., 1] < 0.6 * image[..., 0]) & (image[..., 2] < 0.6 * image[..., 0])
        ys, xs = np.nonzero(red)
        assert len(xs) > 30, "the avatar's red body is not in the image"
        x, y, w, h = document["frames"][t]["persons"][0]["bbox"]
        assert abs(xs.min() - x) <= 2 and abs(xs.max() + 1 - (x + w)) <= 2, (xs.min(), xs.max(), x, w)
        assert abs(ys.min() - y) <= 2 and abs(ys.max() + 1 - (y + h)) <= 2, (ys.min(), ys.max(), y, h)


def test_a_missing_avatar_object_fails_the_clip_naming_the_file_and_key(tmp_path):
    job, _ = avatar_job(tmp_path, roles='["patient"]', object_line='object = "Nobody"')
    with pytest.raises(ValueError, match=r"nurse\.blend.*key 'object'.*'Nobody'.*Character"):
        render_clip(job, tmp_path / "out")
    assert not (tmp_path / "out" / "clips").exists() and not any((tmp_path / "out" / ".partial").iterdir())


def test_the_render_command_refuses_an_avatar_file_that_does_not_fit_before_rendering(tmp_path, capsys):
    from addon.batch.cli import EXIT_BAD_INPUT, main

    avatar_job(tmp_path, roles='["patient"]', object_line='object = "Nobody"')
    config = tmp_path / "jobs.toml"
    assert main(["--config", str(config), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "key 'avatars[0].object'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    config.write_text(config.read_text().replace('object = "Nobody"', ""))
    (tmp_path / "nurse.blend").write_bytes(b"BLENDER-v500 not really")
    assert main(["--config", str(config), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "key 'avatars[0].blend'" in capsys.readouterr().err
    save_room_with_two_armatures(tmp_path / "nurse.blend")
    assert main(["--config", str(config), "--out", str(tmp_path / "out"), "--dry-run"]) == EXIT_BAD_INPUT
    assert "holds 2 armatures" in capsys.readouterr().err


def save_room_with_two_armatures(path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    for name in ("One", "Two"):
        bpy.context.scene.collection.objects.link(bpy.data.objects.new(name, bpy.data.armatures.new(name)))
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)  # (Blender loads nothing from the file it has open)


@pytest.fixture(scope="module")
def rigify_avatar(tmp_path_factory):
    """A .blend holding a generated Rigify rig ("rig": controls, mechanism and DEF bones, which
    follow the controls through constraints) with boxes skinned to its DEF bones."""
    from helpers.avatar_blend import skin_with_boxes
    from helpers.rigify_rig import generate_rigify

    path = tmp_path_factory.mktemp("rigify") / "rigify.blend"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        skin_with_boxes(generate_rigify("rig"))
        bpy.ops.wm.save_as_mainfile(filepath=str(path))
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)
    return path


def test_a_generated_rigify_avatar_is_labelled_where_its_deform_bones_go(tmp_path, rigify_avatar):
    """Its auto-detected mapping keys the FK controls; the DEF bones that the mesh follows get
    there through the rig's constraints, and the labels sit on them."""
    (tmp_path / "nurse.blend").write_bytes(rigify_avatar.read_bytes())
    from helpers.tiny_checkpoint import write_tiny_checkpoint

    (tmp_path / "jobs.toml").write_text(JOB.format(roles='["patient"]', object_line='object = "rig"',
                                                   checkpoint=write_tiny_checkpoint(tmp_path)))
    job = build_manifest(load_job_spec(tmp_path / "jobs.toml"))["jobs"][0]
    document = annotations(render_clip(job, tmp_path / "out"))
    person = document["persons"][0]
    assert not person["avatar"]["retarget"].get("constraints_held")  # the controls hold no DEF bone
    rig = bpy.data.objects[person["avatar"]["object"]]
    deform = {"left_shoulder": "DEF-upper_arm.L", "left_elbow": "DEF-forearm.L", "left_wrist": "DEF-hand.L",
              "right_hip": "DEF-thigh.R", "right_knee": "DEF-shin.R", "right_ankle": "DEF-foot.R"}
    for t in (0, 2, 4):
        bpy.context.scene.frame_set(t + 1)
        joints = document["frames"][t]["persons"][0]["joints_world"]
        for joint, bone in deform.items():
            head = np.asarray(rig.matrix_world) @ np.array([*rig.pose.bones[bone].head, 1.0])
            np.testing.assert_allclose(joints[JOINT_NAMES.index(joint)], head[:3], atol=1e-4, err_msg=joint)


def test_an_avatar_with_a_mapping_file_is_retargeted_through_it(tmp_path):
    """The job file's mapping file, not the auto-detection: the mapping it names is the one used."""
    from addon.core.retarget.mapping_file import FORMAT, VERSION

    _, info = avatar_job(tmp_path, roles='["patient"]')
    bones = {joint: bone for joint, bone in info["bones"].items() if joint != "head"}  # the head left out
    (tmp_path / "nurse_map.json").write_text(json.dumps({"format": FORMAT, "version": VERSION, "name": "nurse",
                                                         "bones": bones}))
    config = tmp_path / "jobs.toml"
    config.write_text(config.read_text().replace('blend = "nurse.blend"', 'blend = "nurse.blend"\nmapping = "nurse_map.json"'))
    job = build_manifest(load_job_spec(config))["jobs"][0]
    assert job["avatars"]["nurse"]["mapping"] == str(tmp_path / "nurse_map.json")
    person = annotations(render_clip(job, tmp_path / "out"))["persons"][0]
    assert person["avatar"]["retarget"]["missing"] == ["head"]  # as the file says
    assert person["avatar"]["retarget"]["direction_max_deg"] < 3.0


def test_a_drawn_avatar_scale_scales_the_rig_its_labels_come_from(tmp_path):
    def thigh_lengths(folder):
        frames = annotations(folder)["frames"]
        joints = np.asarray([f["persons"][0]["joints_world"] for f in frames])
        hip, knee = JOINT_NAMES.index("left_hip"), JOINT_NAMES.index("left_knee")
        return np.linalg.norm(joints[:, hip] - joints[:, knee], axis=-1)

    (tmp_path / "plain").mkdir()
    (tmp_path / "tall").mkdir()
    job, _ = avatar_job(tmp_path / "plain", roles='["patient"]')
    plain = thigh_lengths(render_clip(job, tmp_path / "plain" / "out"))
    job, _ = avatar_job(tmp_path / "tall", roles='["patient"]', object_line="scale = [1.3, 1.3]")
    folder = render_clip(job, tmp_path / "tall" / "out")
    person = annotations(folder)["persons"][0]
    assert person["look"]["avatar_scale"] == pytest.approx(1.3)
    assert person["avatar"]["retarget"]["direction_max_deg"] < 3.0
    np.testing.assert_allclose(thigh_lengths(folder), 1.3 * plain, rtol=1e-4)
