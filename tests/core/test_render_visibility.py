"""Occlusion-aware visibility: segments against boxes, other bodies and the person's own body."""

import numpy as np

from addon.core.body.model import load_body_model
from addon.core.camera import OPENCV_TO_BLENDER_CAMERA, look_at
from addon.core.demo_motion import waving_motion
from addon.core.render.annotations import PersonTrack, compute_clip_labels
from addon.core.render.lens import pinhole_lens
from addon.core.render.visibility import (
    SELF_OCCLUSION_M, Occluder, keypoint_visibility, occluder_from_mesh, segments_blocked, segments_hit_box,
    segments_hit_triangles,
)
from addon.core.room import box

CAMERA = np.array([0.0, 0.0, 3.0])


def cube(center, size=0.5) -> Occluder:
    vertices, faces = box(center, (size, size, size))
    return occluder_from_mesh("cube", vertices, faces)


def test_segment_triangle_hits_and_misses():
    triangle = np.array([[[-1.0, -1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 1.0, 1.0]]])
    origin = np.zeros(3)
    targets = np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 0.5], [3.0, 0.0, 2.0], [0.0, 0.0, 1.005]])
    # through it; stops short of it; passes beside it; ends within 1 cm behind it (touching: not hidden)
    assert segments_hit_triangles(origin, targets, triangle).tolist() == [True, False, False, False]


def test_box_slab_test_handles_axis_parallel_segments():
    low, high = np.array([1.0, -0.5, -0.5]), np.array([2.0, 0.5, 0.5])
    origin = np.zeros(3)
    targets = np.array([[3.0, 0.0, 0.0], [0.5, 0.0, 0.0], [3.0, 1.0, 0.0], [3.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    assert segments_hit_box(origin, targets, low, high).tolist() == [True, False, True, False, False]


def test_a_box_between_camera_and_keypoint_hides_it():
    occluders = [cube((0.0, 0.0, 1.5))]
    targets = np.array([[0.0, 0.0, 0.2], [1.5, 0.0, 0.2], [0.0, 0.0, 2.5]])
    assert segments_blocked(CAMERA, targets, occluders).tolist() == [True, False, False]


def test_visibility_codes_other_people_and_oneself_beyond_the_self_occlusion_depth():
    keypoints = np.array([
        [[0.0, 0.0, 0.5], [2.0, 0.0, 0.5], [0.0, 0.0, 0.0]],  # person 0: under person 1's body, free, off-image
        [[0.0, 0.0, 1.2], [0.0, 0.0, 0.8], [2.0, 2.0, 0.5]],  # person 1: 0.1 m and 0.5 m inside its own body, free
    ])
    in_image = np.array([[True, True, False], [True, True, True]])
    people = [None, cube((0.0, 0.0, 1.0), 0.6)]  # person 1's body: its top 0.1 m above its first keypoint
    visibility = keypoint_visibility(keypoints, in_image, CAMERA, [], people)
    # 0.1 m of its own surface in front of a keypoint: visible (joints lie inside the body); 0.5 m: hidden
    assert visibility.tolist() == [[1, 2, 0], [2, 1, 2]]
    furniture = [cube((1.0, 0.0, 1.75), 0.4)]  # halfway along person 0's second segment
    assert keypoint_visibility(keypoints, in_image, CAMERA, furniture, people)[0].tolist() == [1, 1, 0]


def test_own_surface_counts_only_beyond_the_self_occlusion_depth():
    plane = np.array([[[-1.0, -1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 1.0, 1.0]]])
    origin = np.zeros(3)
    targets = np.array([[0.0, 0.0, 1.1], [0.0, 0.0, 1.2]])  # 0.1 m and 0.2 m behind the surface
    assert segments_hit_triangles(origin, targets, plane, SELF_OCCLUSION_M).tolist() == [False, True]
    assert segments_hit_triangles(origin, targets, plane, np.array([0.05, 0.25])).tolist() == [True, False]


def standing(yaw_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """COCO visibility of one stand-in person at the origin turned by yaw_deg (0: facing the camera)."""
    body = load_body_model(None)
    motion = waving_motion(position_xy=(0.0, 0.0), facing_yaw_deg=yaw_deg, seconds=0.1, fps=10.0)
    person = PersonTrack(motion=motion, rest_joints_y=body.rest_joints(), body=body,
                         betas=np.zeros(body.num_betas), actions=np.zeros(1, dtype=np.int32))
    camera = look_at(np.array([0.0, -4.0, 1.6]), np.array([0.0, 0.0, 1.0])) @ OPENCV_TO_BLENDER_CAMERA
    return compute_clip_labels([person], camera, pinhole_lens(320, 240, 60.0), []).visibility[0, 0]


def test_a_person_facing_away_hides_its_own_face():
    """The back of the head lies ~0.2 m in front of the nose and eyes along the camera ray; joints
    sit < 0.15 m under the surface and stay visible from both sides (PSP's rule, reference §3.5)."""
    assert standing(0.0).tolist() == [2] * 17  # facing the camera (waving_motion faces -Y at yaw 0)
    away = standing(180.0)
    assert away[:3].tolist() == [1, 1, 1]  # nose, left eye, right eye: behind the head
    assert away[3:].tolist() == [2] * 14  # ears (at the sides of the head), shoulders ... ankles
    profile = standing(90.0)  # the subject's left side turned away from the camera
    assert profile[[3, 5, 7, 9, 11, 13, 15]].tolist() == [1] * 7  # far ear, shoulder, elbow, ... ankle
    assert profile[[0, 12, 14, 16]].tolist() == [2] * 4  # nose, near hip, knee, ankle


def test_quads_become_two_triangles():
    vertices, faces = box((0, 0, 0), (1, 1, 1))
    occluder = occluder_from_mesh("box", vertices, faces)
    assert occluder.triangles.shape == (12, 3, 3)
    np.testing.assert_allclose(occluder.low, [-0.5, -0.5, -0.5])
