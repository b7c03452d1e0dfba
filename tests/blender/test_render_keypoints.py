"""The annotations' 2D keypoints are where the rig's joints appear in the rendered image.

A stand-in person is keyed through the same path the batch renderer uses; its evaluated bone heads
are compared with the annotation joints (core forward kinematics), then small bright spheres are
put on some of them and rendered through the job camera: their centroids must lie within 1 px of
the projected keypoints, through Workbench's pinhole camera and Cycles' equidistant fisheye.
"""

import bpy
import numpy as np
import pytest
from scipy import ndimage

from addon.bridge.collections import new_child_collection
from addon.bridge.people import create_person_from_build
from addon.bridge.render_camera import render_camera
from addon.bridge.render_video import read_png
from addon.core.body.model import load_body_model
from addon.core.camera import OPENCV_TO_BLENDER_CAMERA, look_at
from addon.core.demo_motion import waving_motion
from addon.core.people import person_build
from addon.core.render.annotations import PersonTrack, compute_clip_labels
from addon.core.render.coco import SMPL_JOINT_OF_COCO
from addon.core.render.lens import Lens, pinhole_lens, world_to_camera
from addon.core.skeleton import JOINT_NAMES

# COCO keypoints to mark: head-free, far enough apart in the image for separate blobs.
MARKED = (6, 10, 15, 16, 7)  # right shoulder, right wrist (waving), left ankle, right ankle, left elbow
FRAME = 3


def keyed_person(collection):
    body = load_body_model(None)
    motion = waving_motion(position_xy=(0.0, 0.0), facing_yaw_deg=20.0, seconds=0.5, fps=10.0)
    track = PersonTrack(motion=motion, rest_joints_y=body.rest_joints(), body=body, betas=np.zeros(body.num_betas),
                        actions=np.zeros(motion.num_frames, dtype=np.int32))
    person = create_person_from_build(collection, person_build(motion, body, "Marked"), 10.0, 1, "marked motion")
    return track, person


def evaluated_joints(armature) -> np.ndarray:
    """(24, 3) world positions of the evaluated bone heads, SMPL order."""
    flat = np.empty(len(armature.pose.bones) * 3, dtype=np.float32)
    armature.pose.bones.foreach_get("head", flat)
    heads = flat.reshape(-1, 3)[[armature.pose.bones.find(n) for n in JOINT_NAMES]].astype(np.float64)
    matrix = np.array(armature.matrix_world)
    return heads @ matrix[:3, :3].T + matrix[:3, 3]


def marker(collection, position, radius, material):
    mesh = bpy.data.meshes.new("marker")
    import bmesh

    shape = bmesh.new()
    bmesh.ops.create_uvsphere(shape, u_segments=24, v_segments=12, radius=radius)
    shape.to_mesh(mesh)
    shape.free()
    mesh.materials.append(material)
    obj = bpy.data.objects.new("marker", mesh)
    obj.location = [float(v) for v in position]
    collection.objects.link(obj)


def white_emission():
    material = bpy.data.materials.new("marker white")
    material.diffuse_color = (1.0, 1.0, 1.0, 1.0)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    nodes = material.node_tree.nodes
    nodes.clear()
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Strength"].default_value = 1.0
    output = nodes.new("ShaderNodeOutputMaterial")
    material.node_tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return material


def blob_centroids(image: np.ndarray) -> np.ndarray:
    """(N, 2) intensity-weighted centroids (pixel centres at i + 0.5) of the bright blobs."""
    grey = image.astype(np.float64).mean(axis=2) / 255.0
    labels, count = ndimage.label(grey > 0.05)
    out = []
    for index in range(1, count + 1):
        ys, xs = np.nonzero(labels == index)
        weights = grey[ys, xs]
        out.append([(xs + 0.5) @ weights / weights.sum(), (ys + 0.5) @ weights / weights.sum()])
    return np.array(out)


def render_markers(tmp_path, lens: Lens, camera_to_world: np.ndarray, engine: str, radius: float):
    scene = bpy.context.scene
    collection = new_child_collection(scene, "Test")
    track, person = keyed_person(collection)
    scene.frame_start, scene.frame_end = 1, track.motion.num_frames
    scene.frame_set(FRAME)
    rig_joints = evaluated_joints(person.armature)
    labels = compute_clip_labels([track], camera_to_world, lens, [])
    person.body.hide_render = True
    material = white_emission()
    for coco in MARKED:
        marker(collection, rig_joints[SMPL_JOINT_OF_COCO[coco]], radius, material)
    render_camera(scene, lens, camera_to_world, collection)
    world = bpy.data.worlds.new("black")
    world.color = (0.0, 0.0, 0.0)
    scene.world = world
    if engine == "workbench":
        scene.render.engine = "BLENDER_WORKBENCH"
        shading = scene.display.shading
        shading.light, shading.color_type = "FLAT", "MATERIAL"
        shading.show_cavity = shading.show_shadows = False
        scene.display.render_aa = "8"
    else:
        scene.render.engine = "CYCLES"
        scene.cycles.samples, scene.cycles.use_denoising = 32, False
        scene.cycles.max_bounces = 0
        if world.node_tree:
            for node in world.node_tree.nodes:
                if node.type == "BACKGROUND":
                    node.inputs["Strength"].default_value = 0.0
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(tmp_path / "markers.png")
    bpy.ops.render.render(write_still=True)
    return track, labels, rig_joints, read_png(tmp_path / "markers.png")


@pytest.mark.parametrize("engine", ["workbench", "cycles-fisheye"])
def test_keypoints_land_on_the_rendered_joints(tmp_path, engine):
    if engine == "workbench":
        lens = pinhole_lens(192, 144, 55.0)
        camera_to_world = look_at(np.array([1.2, -3.6, 1.9]), np.array([0.0, 0.0, 0.8])) @ OPENCV_TO_BLENDER_CAMERA
        radius = 0.05
    else:
        lens = Lens("fisheye_equidistant", 256, 256, fov_deg=180.0)
        camera_to_world = look_at(np.array([0.8, -1.7, 2.0]), np.array([0.0, 0.0, 0.7])) @ OPENCV_TO_BLENDER_CAMERA
        radius = 0.04
    track, labels, rig_joints, image = render_markers(tmp_path, lens, camera_to_world, engine.split("-")[0], radius)
    # 1. The annotation joints are the rig's evaluated joints (core FK == Blender's pose evaluation).
    np.testing.assert_allclose(labels.joints_world[0, FRAME - 1], rig_joints, atol=2e-4)
    # 2. The annotation keypoints are those joints projected through the render camera's lens.
    expected = lens.project(world_to_camera(rig_joints[[SMPL_JOINT_OF_COCO[c] for c in MARKED]], camera_to_world))
    np.testing.assert_allclose(labels.keypoints[0, FRAME - 1, list(MARKED)], expected, atol=0.05)
    assert lens.in_image(expected).all()
    # 3. ... and that is where the markers show up in the rendered image.
    found = blob_centroids(image)
    assert len(found) == len(MARKED), f"{len(found)} blobs for {len(MARKED)} markers"
    keypoints = labels.keypoints[0, FRAME - 1, list(MARKED)]
    error = np.linalg.norm(found[:, None, :] - keypoints[None, :, :], axis=-1).min(axis=0)
    print(f"\n{engine}: marker centroid vs keypoint error px: max {error.max():.3f}, mean {error.mean():.3f}")
    assert error.max() <= 1.0, error
