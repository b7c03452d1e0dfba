"""Occlusion-aware visibility: segments against boxes and bodies."""

import numpy as np

from addon.core.render.visibility import (
    Occluder, keypoint_visibility, occluder_from_mesh, segments_blocked, segments_hit_box, segments_hit_triangles,
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


def test_visibility_codes_and_other_people_but_not_oneself():
    keypoints = np.array([
        [[0.0, 0.0, 0.5], [2.0, 0.0, 0.5], [0.0, 0.0, 0.0]],   # person 0: under person 1's body, free, off-image
        [[0.0, 0.0, 1.0], [2.0, 2.0, 0.5], [2.0, 2.0, 0.4]],   # person 1: its keypoints inside its own body
    ])
    in_image = np.array([[True, True, False], [True, True, True]])
    person1_body = cube((0.0, 0.0, 1.0), 0.6)
    own_box_for_person1_keypoints = cube((2.0, 2.0, 0.45), 0.4)
    people = [None, Occluder("p1", np.concatenate([person1_body.triangles, own_box_for_person1_keypoints.triangles]))]
    visibility = keypoint_visibility(keypoints, in_image, CAMERA, [], people)
    assert visibility.tolist() == [[1, 2, 0], [2, 2, 2]]
    furniture = [cube((1.0, 0.0, 1.75), 0.4)]  # halfway along the second segment
    assert keypoint_visibility(keypoints, in_image, CAMERA, furniture, people)[0].tolist() == [1, 1, 0]


def test_quads_become_two_triangles():
    vertices, faces = box((0, 0, 0), (1, 1, 1))
    occluder = occluder_from_mesh("box", vertices, faces)
    assert occluder.triangles.shape == (12, 3, 3)
    np.testing.assert_allclose(occluder.low, [-0.5, -0.5, -0.5])
