"""SMPL -> COCO-17: order, left/right, face points that follow the head."""

import numpy as np

from addon.core.body.model import load_body_model
from addon.core.camera import OPENCV_TO_BLENDER_CAMERA, look_at
from addon.core.demo_motion import waving_motion
from addon.core.render.coco import (
    COCO_NAMES, LEFT_KEYPOINTS, RIGHT_KEYPOINTS, SMPL_FACE_VERTICES, SMPL_JOINT_OF_COCO, coco_keypoints,
    face_offsets, face_vertex_ids,
)
from addon.core.render.lens import pinhole_lens, world_to_camera
from addon.core.skeleton import JOINT_NAMES, forward_kinematics


def posed(motion, body):
    rest = body.rest_joints(motion.betas[: body.num_betas])
    rotations, joints = forward_kinematics(motion.local_rotations(), rest, motion.transl)
    return rest, rotations, joints


def test_coco_order_and_mmaction_flip_pairs():
    assert COCO_NAMES[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert COCO_NAMES[9] == "left_wrist" and COCO_NAMES[16] == "right_ankle"
    assert all(COCO_NAMES[l].replace("left", "right") == COCO_NAMES[r] for l, r in zip(LEFT_KEYPOINTS, RIGHT_KEYPOINTS))
    assert {c: JOINT_NAMES[j] for c, j in SMPL_JOINT_OF_COCO.items()} == {c: COCO_NAMES[c] for c in range(5, 17)}
    assert SMPL_JOINT_OF_COCO[9] == 20 and SMPL_JOINT_OF_COCO[11] == 1  # the reference's table (§3.5)


def test_left_keypoints_are_the_subjects_left_in_the_image():
    """A person facing the camera shows their left side on the image's right (SURREAL issue #10)."""
    body = load_body_model(None)
    motion = waving_motion(position_xy=(0.0, 0.0), facing_yaw_deg=0.0)  # faces -Y, the subject's left is +X
    rest, rotations, joints = posed(motion, body)
    keypoints = coco_keypoints(joints, rotations, face_offsets(body.rest_vertices(), rest))[0]
    camera = look_at(np.array([0.0, -4.0, 1.2]), np.array([0.0, 0.0, 1.0])) @ OPENCV_TO_BLENDER_CAMERA
    lens = pinhole_lens(320, 240, 60.0)
    pixels = lens.project(world_to_camera(keypoints, camera))
    for left, right in zip(LEFT_KEYPOINTS, RIGHT_KEYPOINTS):
        assert pixels[left, 0] > pixels[right, 0] + 1.0, COCO_NAMES[left]
    # waving_motion raises the right hand above the shoulder and keeps the left arm down
    assert keypoints[10, 2] > keypoints[6, 2] > keypoints[9, 2]
    assert pixels[10, 1] < pixels[9, 1]


def test_face_points_follow_the_skinned_face_when_the_head_turns():
    body = load_body_model(None)
    motion = waving_motion(seconds=0.5)
    pose = motion.body_pose.copy()
    pose[:, JOINT_NAMES.index("head") - 1] = [0.3, 0.6, -0.2]  # a turned, tilted head
    pose[:, JOINT_NAMES.index("neck") - 1] = [0.2, -0.3, 0.1]
    motion.body_pose = pose
    rest, rotations, joints = posed(motion, body)
    ids = list(face_vertex_ids(body.rest_vertices(), rest))
    keypoints = coco_keypoints(joints, rotations, face_offsets(body.rest_vertices(), rest))
    skinned = body.forward(motion.global_orient, motion.body_pose, motion.transl).vertices[:, ids]
    assert np.abs(keypoints[:, :5] - skinned).max() < 0.01  # metres
    nose, left_ear, right_ear = keypoints[0, 0], keypoints[0, 3], keypoints[0, 4]
    assert 0.1 < np.linalg.norm(left_ear - right_ear) < 0.2 and np.linalg.norm(nose - joints[0, 15]) < 0.2


def test_smpl_topology_uses_bedlam_vertex_ids():
    vertices = np.random.default_rng(0).normal(size=(6890, 3))
    assert face_vertex_ids(vertices, np.zeros((24, 3))) == SMPL_FACE_VERTICES == (332, 2800, 6260, 583, 4071)
