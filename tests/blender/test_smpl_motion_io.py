"""Import and export of AMASS-style SMPL motion through the operators, checked by value."""

import numpy as np
import bpy
import pytest

from addon.core.body.model import load_body_model
from addon.core.motion.amass import read_amass_npz, write_amass_npz
from addon.core.motion.motion import Motion
from addon.core.motion.resample import resample
from addon.core.skeleton import JOINT_NAMES

pytestmark = pytest.mark.compat
RNG = np.random.default_rng(5)


def random_motion(frames=30, fps=60.0, role="patient") -> Motion:
    body_pose = RNG.normal(scale=0.25, size=(frames, 23, 3))
    global_orient = np.tile([np.pi / 2, 0.0, 0.0], (frames, 1)) + RNG.normal(scale=0.1, size=(frames, 3))
    transl = np.cumsum(RNG.normal(scale=0.01, size=(frames, 3)), axis=0) + [1.0, 1.5, 0.95]
    return Motion(global_orient, body_pose, transl, RNG.normal(scale=0.8, size=10), fps, role=role, gender="neutral")


def evaluated(obj, frame):
    bpy.context.scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = obj.evaluated_get(depsgraph).to_mesh()
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    obj.evaluated_get(depsgraph).to_mesh_clear()
    return co.reshape(-1, 3).astype(np.float64)


def pose_heads(armature, frame):
    bpy.context.scene.frame_set(frame)
    flat = np.empty(len(armature.pose.bones) * 3, dtype=np.float32)
    armature.pose.bones.foreach_get("head", flat)
    return flat.reshape(-1, 3)[[armature.pose.bones.find(n) for n in JOINT_NAMES]]


def imported_rigs():
    return [o for o in bpy.data.objects if o.type == "ARMATURE"]


def test_import_resamples_and_matches_the_body_model_to_a_millimetre(extension, tmp_path):
    pytest.importorskip("smplx", reason="the reference skinning runs on smplx (not in the bpy-only compat envs)")
    motion = random_motion()
    path = tmp_path / "walk.npz"
    write_amass_npz(path, motion)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.isynth.import_smpl_motion(filepath=str(path)) == {"FINISHED"}
    (armature,) = imported_rigs()
    body = next(o for o in bpy.data.objects if o.type == "MESH" and o.parent == armature)
    expected_motion = resample(read_amass_npz(path), 30.0)
    model = load_body_model(None)
    out = model.forward(
        expected_motion.global_orient, expected_motion.body_pose, expected_motion.transl, expected_motion.betas
    )
    assert armature["isynth_role"] == "patient"
    assert scene.frame_end >= scene.frame_start + expected_motion.num_frames - 1
    for t in (0, 7, expected_motion.num_frames - 1):
        frame = scene.frame_start + t
        assert np.abs(pose_heads(armature, frame) - out.joints[t]).max() < 1e-3
        assert np.abs(evaluated(body, frame) - out.vertices[t]).max() < 1e-3


def test_several_files_at_once_and_export_round_trip(extension, tmp_path):
    motions = [random_motion(role="staff"), random_motion(role="patient")]
    for i, motion in enumerate(motions):
        write_amass_npz(tmp_path / f"m{i}.npz", motion)
    result = bpy.ops.isynth.import_smpl_motion(
        directory=str(tmp_path), files=[{"name": "m0.npz"}, {"name": "m1.npz"}], fps_mode="MOTION", with_body=False
    )
    assert result == {"FINISHED"}
    rigs = sorted(imported_rigs(), key=lambda o: o.name)
    assert [r["isynth_role"] for r in rigs] == ["staff", "patient"]
    assert bpy.context.scene.render.fps == 60
    bpy.ops.object.select_all(action="DESELECT")
    rigs[0].select_set(True)
    out = tmp_path / "exported.npz"
    assert bpy.ops.isynth.export_smpl_motion(filepath=str(out)) == {"FINISHED"}
    back = read_amass_npz(out)
    assert back.role == "staff" and back.fps == 60.0 and back.num_frames == motions[0].num_frames
    np.testing.assert_allclose(back.transl, motions[0].transl, atol=1e-5)
    np.testing.assert_allclose(back.betas, motions[0].betas, atol=1e-6)
    from addon.core.rotations import axis_angle_to_matrix

    np.testing.assert_allclose(
        axis_angle_to_matrix(back.body_pose), axis_angle_to_matrix(motions[0].body_pose), atol=1e-5
    )


def _bad_file(path, problem):
    arrays = dict(poses=np.zeros((5, 72)), trans=np.zeros((5, 3)), betas=np.zeros(10),
                  mocap_framerate=np.array(30.0), gender=np.array("neutral"))
    if problem == "wrong key":
        arrays["translation"] = arrays.pop("trans")
    elif problem == "wrong shape":
        arrays["poses"] = np.zeros((5, 70))
    elif problem == "nan":
        arrays["trans"][3, 1] = np.nan
    np.savez(path, **arrays)


@pytest.mark.parametrize(("problem", "key"), [("wrong key", "trans"), ("wrong shape", "poses"), ("nan", "trans")])
def test_a_bad_file_is_reported_and_leaves_the_scene_unchanged(extension, tmp_path, problem, key):
    write_amass_npz(tmp_path / "good.npz", random_motion())
    _bad_file(tmp_path / "bad.npz", problem)
    before = (len(bpy.data.objects), len(bpy.data.collections), len(bpy.data.actions), len(bpy.data.meshes))
    with pytest.raises(RuntimeError, match=rf"bad\.npz.*{key}"):
        bpy.ops.isynth.import_smpl_motion(directory=str(tmp_path), files=[{"name": "good.npz"}, {"name": "bad.npz"}])
    assert (len(bpy.data.objects), len(bpy.data.collections), len(bpy.data.actions), len(bpy.data.meshes)) == before
