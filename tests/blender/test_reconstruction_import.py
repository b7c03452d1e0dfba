"""isynth.import_reconstruction: rigs match the bundle, the camera sees the points where they came from."""

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from addon.core.body.model import load_body_model
from addon.core.camera import look_at
from addon.core.recon.bundle import Bundle, write_bundle
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import JOINT_NAMES, forward_kinematics
from helpers.tiny_smpl import write_tiny_smpl

pytestmark = pytest.mark.compat
RNG = np.random.default_rng(2)
W, H = 320, 240


def synthetic_bundle(frames=8) -> tuple[Bundle, np.ndarray]:
    """Points back-projected from known pixels; returns the bundle and those pixels (N, 2)."""
    K = np.array([[260.0, 0, 170.0], [0, 250.0, 112.0], [0, 0, 1]])
    opencv_c2w = look_at(np.array([0.3, 0.4, 2.5]), np.array([2.5, 2.5, 0.5])) @ np.diag([1.0, -1, -1, 1])
    pixels = RNG.uniform([5, 5], [W - 5, H - 5], (400, 2))
    depth = RNG.uniform(1.5, 5.0, 400)
    camera_points = np.c_[(pixels[:, 0] - K[0, 2]) / K[0, 0] * depth, (pixels[:, 1] - K[1, 2]) / K[1, 1] * depth, depth]
    world = camera_points @ opencv_c2w[:3, :3].T + opencv_c2w[:3, 3]
    P = 2
    orient = np.tile([np.pi / 2, 0.0, 0.0], (P, frames, 1)) + RNG.normal(scale=0.1, size=(P, frames, 3))
    valid = np.ones((P, frames), bool)
    valid[1, :3] = False
    bundle = Bundle(
        fps=10.0, image_size=(W, H), K=K, camera_to_world=opencv_c2w,
        points=world.astype(np.float32), colors=RNG.integers(0, 255, (400, 3)).astype(np.uint8),
        point_labels=RNG.integers(0, 2, 400).astype(np.int16), mask_labels=["background", "floor"],
        person_roles=["staff", "patient"], person_tracks=[3, 7], person_names=["Staff 1", "Patient 1"],
        person_betas=RNG.normal(size=(P, 10)), person_global_orient=orient,
        person_body_pose=RNG.normal(scale=0.3, size=(P, frames, 23, 3)),
        person_transl=RNG.normal(scale=0.3, size=(P, frames, 3)) + [2.0, 2.0, 0.9],
        person_valid=valid, person_actions=np.zeros((P, frames), np.int32), action_names=["stand"],
        furniture_labels=["bed"], furniture_center=np.array([[1.0, 2.5, 0.3]]),
        furniture_size=np.array([[0.9, 2.0, 0.6]]), furniture_yaw_deg=np.array([5.0]),
        furniture_points=np.zeros((0, 3), np.float32), furniture_point_owner=np.zeros(0, np.int32),
    )
    return bundle, pixels


@pytest.fixture
def tiny_smpl_preference(extension, tmp_path):
    write_tiny_smpl(tmp_path / "smpl")
    bpy.context.preferences.addons[extension].preferences.smpl_model_dir = str(tmp_path / "smpl")
    return load_body_model(str(tmp_path / "smpl"))


def test_import_places_people_camera_and_points(tiny_smpl_preference, tmp_path):
    bundle, pixels = synthetic_bundle()
    path = tmp_path / "room.npz"
    write_bundle(path, bundle)
    assert bpy.ops.isynth.import_reconstruction(filepath=str(path)) == {"FINISHED"}
    scene = bpy.context.scene
    camera = scene.camera
    assert camera.name == "Recorded Camera" and scene.render.fps == 10
    assert (scene.render.resolution_x, scene.render.resolution_y) == (W, H)
    # The cloud seen through the imported camera lands on its source pixels.
    seen = np.array([[v.x * W, (1 - v.y) * H] for v in (world_to_camera_view(scene, camera, Vector(p)) for p in bundle.points)])
    assert np.abs(seen - pixels).max() < 2.0
    assert np.abs(seen - pixels).max() < 0.05, "in fact exact up to float32 points"
    # Each person's evaluated joints match SMPL's FK of the bundle's parameters (numpy, no torch).
    rigs = {o["isynth_role"]: o for o in bpy.data.objects if o.type == "ARMATURE"}
    assert set(rigs) == {"staff", "patient"} and rigs["patient"]["isynth_track"] == 7
    model = tiny_smpl_preference
    for p, role in enumerate(bundle.person_roles):
        pose = np.concatenate([bundle.person_global_orient[p][:, None], bundle.person_body_pose[p]], axis=1)
        _, joints = forward_kinematics(
            axis_angle_to_matrix(pose), model.rest_joints(bundle.person_betas[p]), bundle.person_transl[p]
        )
        for t in (0, 5):
            scene.frame_set(scene.frame_start + t)
            flat = np.empty(len(rigs[role].pose.bones) * 3, dtype=np.float32)
            rigs[role].pose.bones.foreach_get("head", flat)
            heads = flat.reshape(-1, 3)[[rigs[role].pose.bones.find(n) for n in JOINT_NAMES]]
            assert np.abs(heads - joints[t]).max() < 1e-3
    # The patient is hidden where the track had no observation.
    body = next(o for o in bpy.data.objects if o.type == "MESH" and o.parent == rigs["patient"])
    scene.frame_set(scene.frame_start + 1)
    assert body.hide_render
    scene.frame_set(scene.frame_start + 4)
    assert not body.hide_render
    proxies = [o for o in bpy.data.objects if o.get("isynth_label") == "bed"]
    assert len(proxies) == 1 and proxies[0].hide_render


def test_a_broken_bundle_changes_nothing(extension, tmp_path):
    bundle, _ = synthetic_bundle()
    path = tmp_path / "room.npz"
    write_bundle(path, bundle)
    with np.load(path, allow_pickle=False) as raw:
        arrays = {k: raw[k] for k in raw.files}
    arrays["person_transl"] = arrays["person_transl"][:, :, :2]
    np.savez(path, **arrays)
    before = (len(bpy.data.objects), len(bpy.data.collections))
    with pytest.raises(RuntimeError, match=r"room\.npz.*'person_transl' has shape"):
        bpy.ops.isynth.import_reconstruction(filepath=str(path))
    assert (len(bpy.data.objects), len(bpy.data.collections)) == before


def test_pose_corrective_keys_reproduce_smpl_skinning(tiny_smpl_preference, tmp_path):
    pytest.importorskip("smplx", reason="the reference skinning runs on smplx (not in the bpy-only compat envs)")
    from addon.core.motion.amass import write_amass_npz
    from addon.core.motion.motion import Motion

    frames = 6
    motion = Motion(
        np.tile([np.pi / 2, 0, 0], (frames, 1)), RNG.normal(scale=0.4, size=(frames, 23, 3)),
        np.tile([1.0, 1.0, 1.0], (frames, 1)), RNG.normal(scale=0.5, size=10), 30.0,
    )
    write_amass_npz(tmp_path / "m.npz", motion)
    bpy.context.scene.render.fps = 30
    assert bpy.ops.isynth.import_smpl_motion(filepath=str(tmp_path / "m.npz"), pose_correctives=True) == {"FINISHED"}
    body = next(o for o in bpy.data.objects if o.type == "MESH")
    assert len(body.data.shape_keys.key_blocks) == 1 + 10 + 207
    model = tiny_smpl_preference
    with_correctives = model.forward(motion.global_orient, motion.body_pose, motion.transl, motion.betas, pose_correctives=True)
    without = model.forward(motion.global_orient, motion.body_pose, motion.transl, motion.betas)
    scene = bpy.context.scene
    for t in (0, 4):
        scene.frame_set(scene.frame_start + t)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        mesh = body.evaluated_get(depsgraph).to_mesh()
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
        mesh.vertices.foreach_get("co", co)
        body.evaluated_get(depsgraph).to_mesh_clear()
        got = co.reshape(-1, 3)
        assert np.abs(got - with_correctives.vertices[t]).max() < 1e-3
        assert np.abs(with_correctives.vertices[t] - without.vertices[t]).max() > 5e-3, "correctives matter here"


def test_reconstruct_and_import_from_the_sample_sequence(extension, tmp_path):
    from pathlib import Path

    from addon.core.recon.bundle import read_bundle

    sample = Path(__file__).resolve().parents[2] / "addon" / "assets" / "sample_sequence"
    saved = tmp_path / "sample.npz"
    result = bpy.ops.isynth.reconstruct_and_import(directory=str(sample), bundle_path=str(saved), with_body=False)
    assert result == {"FINISHED"}
    bundle = read_bundle(saved)
    rigs = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert sorted(r["isynth_role"] for r in rigs) == sorted(bundle.person_roles) and len(rigs) == 2
    assert bpy.context.scene.camera.name == "Recorded Camera"
    assert bpy.context.scene.frame_end - bpy.context.scene.frame_start + 1 == bundle.num_frames


def test_reconstruct_and_import_reports_a_bad_folder(extension, tmp_path):
    before = len(bpy.data.objects)
    with pytest.raises(RuntimeError, match="sequence.json"):
        bpy.ops.isynth.reconstruct_and_import(directory=str(tmp_path))
    assert len(bpy.data.objects) == before
