"""Labels of rigged avatars: SMPL joints carried onto a rig, labels from an evaluated body, and
the face vertices picked on an avatar's mesh."""

import dataclasses

import numpy as np
import pytest

from addon.core.camera import OPENCV_TO_BLENDER_CAMERA, look_at
from addon.core.render.annotations import (
    PersonTrack, annotation_document, compute_clip_labels, track_joints, track_vertices,
)
from addon.core.render.coco import NOMINAL_FACE, coco_keypoints, face_offsets
from addon.core.render.lens import pinhole_lens
from addon.core.render.rig_labels import EvaluatedBody, face_vertex_ids
from addon.core.retarget.quality import joints_on_rig
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import JOINT_INDEX
from helpers.render_tracks import waving_track as track

CAMERA = look_at(np.array([0.0, -6.0, 2.2]), np.array([0.0, -0.5, 0.8])) @ OPENCV_TO_BLENDER_CAMERA
LENS = pinhole_lens(160, 120, 60.0)


def rotation(axis, angle: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=np.float64)
    return np.asarray(axis_angle_to_matrix(axis / np.linalg.norm(axis) * angle), dtype=np.float64)


# ---- joints_on_rig -------------------------------------------------------------------------

def rig_pose(T=3, bones=30, seed=0):
    rng = np.random.default_rng(seed)
    heads = rng.normal(0.0, 1.0, (T, bones, 3))
    deltas = np.stack([[rotation(rng.normal(size=3), rng.uniform(0.2, 2.5)) for _ in range(bones)] for _ in range(T)])
    rest = rng.normal(0.0, 0.3, (24, 3))
    bone_of_joint = rng.permutation(bones)[:24]  # joint j -> a bone of another index
    return bone_of_joint, heads, deltas, rest


def test_mapped_joints_sit_on_their_bone_heads():
    bone_of_joint, heads, deltas, rest = rig_pose()
    joints = joints_on_rig(bone_of_joint, heads, deltas, rest, 1.7)
    assert joints.shape == (3, 24, 3)
    np.testing.assert_array_equal(joints, heads[:, bone_of_joint])
    np.testing.assert_array_equal(joints_on_rig(bone_of_joint, heads, deltas, rest, 1.7, 22), joints[:, :22])


def test_an_unmapped_joint_follows_its_nearest_mapped_ancestor():
    bone_of_joint, heads, deltas, rest = rig_pose()
    spine1, spine2, spine3 = JOINT_INDEX["spine1"], JOINT_INDEX["spine2"], JOINT_INDEX["spine3"]
    wrist, hand = JOINT_INDEX["left_wrist"], JOINT_INDEX["left_hand"]
    bone_of_joint = bone_of_joint.copy()
    bone_of_joint[[spine2, spine3, hand]] = -1  # a two-bone spine; no hand bone
    scale = 1.3
    joints = joints_on_rig(bone_of_joint, heads, deltas, rest, scale)
    for t in range(3):
        spine_head, spine_turn = heads[t, bone_of_joint[spine1]], deltas[t, bone_of_joint[spine1]]
        # both skipped spine joints hang off spine1 (spine3 not via the unmapped spine2)
        np.testing.assert_allclose(joints[t, spine2], spine_head + spine_turn @ (scale * (rest[spine2] - rest[spine1])),
                                   atol=1e-12)
        np.testing.assert_allclose(joints[t, spine3], spine_head + spine_turn @ (scale * (rest[spine3] - rest[spine1])),
                                   atol=1e-12)
        wrist_turn = deltas[t, bone_of_joint[wrist]]
        np.testing.assert_allclose(joints[t, hand], heads[t, bone_of_joint[wrist]]
                                   + wrist_turn @ (scale * (rest[hand] - rest[wrist])), atol=1e-12)
    # the neck, whose parent spine3 is unmapped, is mapped itself: still its own head
    np.testing.assert_array_equal(joints[:, JOINT_INDEX["neck"]], heads[:, bone_of_joint[JOINT_INDEX["neck"]]])
    # the bone length the offset gets is scale x SMPL's
    np.testing.assert_allclose(np.linalg.norm(joints[:, hand] - joints[:, wrist], axis=-1),
                               scale * np.linalg.norm(rest[hand] - rest[wrist]))


# ---- compute_clip_labels with an evaluated body -----------------------------------------------


def evaluated_from_fk(track: PersonTrack, shift=(0.0, 0.0, 0.0)) -> EvaluatedBody:
    """The body a rig that follows SMPL exactly would evaluate to, moved by ``shift`` metres."""
    rotations, joints = track_joints(track)
    offsets = face_offsets(track.body.rest_vertices(track.betas), track.rest_joints_y)
    face = coco_keypoints(joints, rotations, offsets)[:, :5]
    shift = np.asarray(shift, dtype=np.float64)
    return EvaluatedBody(joints=joints + shift, face=face + shift, vertices=track_vertices(track) + shift,
                         faces=np.asarray(track.body.faces))


@pytest.fixture(scope="module")
def tracks():
    # person 1 stands 1.5 m in front of person 0, between it and the camera: occlusion matters
    return [track((0.0, 0.0)), track((0.05, -1.5), 180.0, action=4)]


def assert_same_labels(a, b):
    for name in ("joints_world", "joints_camera", "keypoints_world", "keypoints", "bbox"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-9, rtol=0, err_msg=name)
    np.testing.assert_array_equal(a.visibility, b.visibility)
    np.testing.assert_array_equal(a.actions, b.actions)


def test_an_evaluated_body_equal_to_the_fk_gives_the_fk_labels(tracks):
    fk = compute_clip_labels(tracks, CAMERA, LENS, [])
    assert (fk.visibility == 1).any() and (fk.visibility == 2).any()  # the case is not trivial
    evaluated = [dataclasses.replace(t, evaluated=evaluated_from_fk(t)) for t in tracks]
    assert_same_labels(compute_clip_labels(evaluated, CAMERA, LENS, []), fk)
    mixed = [evaluated[0], tracks[1]]  # one avatar beside one stand-in
    assert_same_labels(compute_clip_labels(mixed, CAMERA, LENS, []), fk)


def test_labels_come_from_the_evaluated_body_not_the_motion(tracks):
    fk = compute_clip_labels(tracks, CAMERA, LENS, [])
    shift = np.array([0.4, 0.0, 0.1])
    moved = [dataclasses.replace(tracks[0], evaluated=evaluated_from_fk(tracks[0], shift)), tracks[1]]
    labels = compute_clip_labels(moved, CAMERA, LENS, [])
    np.testing.assert_allclose(labels.joints_world[0], fk.joints_world[0] + shift, atol=1e-12)
    np.testing.assert_allclose(labels.keypoints_world[0], fk.keypoints_world[0] + shift, atol=1e-12)
    assert (labels.bbox[0, :, 0] > fk.bbox[0, :, 0] + 1.0).all()  # 0.4 m to the right: the box moves right
    np.testing.assert_allclose(labels.joints_world[1], fk.joints_world[1])


def test_the_document_names_the_avatar(tracks):
    quality = {"name": "nurse", "direction_error_deg": 4.2}
    people = [dataclasses.replace(tracks[0], evaluated=evaluated_from_fk(tracks[0]), avatar=quality), tracks[1]]
    labels = compute_clip_labels(people, CAMERA, LENS, [])
    job = {"clip_id": "c", "key": "c", "split": "train", "seed": 1, "motion_seed": 2,
           "prompt": {"label": "turn", "label_id": 3}, "clip": {"fps": 10.0}}
    looks = [{"role": "staff", "avatar": avatar, "betas": [0.5] * 10, "shirt_rgb": [0.1, 0.2, 0.3]}
             for avatar in ("nurse", "standin")]
    persons = annotation_document(job, people, labels, CAMERA, LENS, looks)["persons"]
    assert persons[0]["body"] == "avatar:nurse" and persons[0]["avatar"] == quality
    assert persons[0]["look"] == {"role": "staff", "avatar": "nurse"}  # its own shape and materials
    assert persons[1]["body"] == "standin" and "avatar" not in persons[1] and persons[1]["look"] == looks[1]


# ---- face_vertex_ids --------------------------------------------------------------------------

def test_face_vertices_are_the_ones_at_the_turned_scaled_landmarks():
    rng = np.random.default_rng(3)
    head = np.array([0.3, -1.2, 1.65])
    turn = rotation([0.3, -1.0, 2.0], 1.1)
    scale = 1.3
    exact = head + scale * NOMINAL_FACE @ turn.T
    # decoys where a wrong formula would look: unturned, turned the other way, unscaled
    decoys = np.concatenate([head + scale * NOMINAL_FACE, head + scale * NOMINAL_FACE @ turn,
                             head + NOMINAL_FACE @ turn.T])
    others = head + rng.normal(0.0, 0.15, (200, 3))
    vertices = np.concatenate([others, decoys, exact])
    order = rng.permutation(len(vertices))
    vertices = vertices[order]
    where = np.argsort(order)  # where[i]: the new index of old vertex i
    expected = where[len(others) + len(decoys) + np.arange(5)]
    ids = face_vertex_ids(vertices, head, turn, scale)
    assert ids.shape == (5,) and ids.dtype == np.int64
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(vertices[ids], exact)


# ---- EvaluatedBody shapes ---------------------------------------------------------------------

def arrays(T=4, V=10, F=6):
    return {"joints": np.zeros((T, 24, 3)), "face": np.zeros((T, 5, 3)), "vertices": np.zeros((T, V, 3)),
            "faces": np.zeros((F, 3), dtype=np.int64)}


def test_an_evaluated_body_of_consistent_shapes_is_accepted():
    body = EvaluatedBody(**arrays())
    assert body.vertices.shape == (4, 10, 3)


@pytest.mark.parametrize(
    "name, shape",
    [
        ("joints", (4, 22, 3)),
        ("joints", (4, 24, 4)),
        ("face", (4, 17, 3)),
        ("face", (3, 5, 3)),
        ("vertices", (3, 10, 3)),
        ("vertices", (10, 3)),
        ("vertices", (4, 10, 2)),
        ("faces", (18,)),
        ("faces", (6, 4)),
    ],
)
def test_an_evaluated_body_of_wrong_shapes_is_refused(name, shape):
    given = arrays()
    given[name] = np.zeros(shape, dtype=given[name].dtype)
    with pytest.raises(ValueError, match="EvaluatedBody"):
        EvaluatedBody(**given)
