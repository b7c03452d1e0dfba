"""SMPL's 24 joints -> the 17 COCO keypoints, in COCO's order (left = the subject's left).

Body keypoints are SMPL joints (shoulders 16/17, elbows 18/19, wrists 20/21, hips 1/2, knees
4/5, ankles 7/8). The five face points are not joints: on SMPL's 6,890-vertex topology they are
the vertices BEDLAM's ``vertex_ids['smplh']`` names (nose 332, left eye 2800, right eye 6260,
left ear 583, right ear 4071; reference §3.5); on other bodies (the stand-in) the surface vertex
nearest a nominal face landmark. Either way the point is carried rigidly by the head joint: its
offset from the head joint in the rest pose, rotated by the head's world rotation. Face vertices
are skinned (almost) entirely to the head, so this equals the skinned vertex to millimetres and
needs no mesh per frame.
"""

from __future__ import annotations

import numpy as np

from ..skeleton import JOINT_INDEX

COCO_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_KEYPOINTS = 17
# COCO index -> SMPL joint, for the 12 body keypoints (5..16).
SMPL_JOINT_OF_COCO: dict[int, int] = {
    c: JOINT_INDEX[COCO_NAMES[c]] for c in range(5, NUM_KEYPOINTS)
}
FACE_KEYPOINTS = (0, 1, 2, 3, 4)
SMPL_FACE_VERTICES: tuple[int, ...] = (332, 2800, 6260, 583, 4071)  # COCO order: nose, l_eye, r_eye, l_ear, r_ear
SMPL_VERTEX_COUNT = 6890
# COCO's skeleton (1-based, as distributed in person_keypoints_val2017.json).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)
# Mirror partner of each keypoint (MMAction2's left_kp / right_kp for flip augmentation).
LEFT_KEYPOINTS: tuple[int, ...] = (1, 3, 5, 7, 9, 11, 13, 15)
RIGHT_KEYPOINTS: tuple[int, ...] = (2, 4, 6, 8, 10, 12, 14, 16)
HEAD = JOINT_INDEX["head"]
# Nominal face landmarks relative to the head joint, template frame (Y up, facing +Z, the
# subject's left at +X), metres: used to pick surface vertices on non-SMPL bodies.
NOMINAL_FACE = np.array([
    [0.0, 0.04, 0.12],     # nose
    [0.032, 0.075, 0.10],  # left eye
    [-0.032, 0.075, 0.10],  # right eye
    [0.078, 0.045, 0.0],   # left ear
    [-0.078, 0.045, 0.0],  # right ear
])


def face_vertex_ids(rest_vertices: np.ndarray, rest_joints: np.ndarray) -> tuple[int, ...]:
    """The five face vertices (COCO order) of a body: SMPL's ids on SMPL topology, else the
    vertex nearest each nominal landmark. rest_vertices: (V, 3), rest_joints: (24, 3), template."""
    if len(rest_vertices) == SMPL_VERTEX_COUNT:
        return SMPL_FACE_VERTICES
    targets = rest_joints[HEAD] + NOMINAL_FACE
    distances = np.linalg.norm(rest_vertices[None, :, :] - targets[:, None, :], axis=-1)
    return tuple(int(i) for i in distances.argmin(axis=1))


def face_offsets(rest_vertices: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """(5, 3) float64 metres: the face vertices minus the head joint, template frame (rest pose)."""
    ids = list(face_vertex_ids(rest_vertices, rest_joints))
    return np.asarray(rest_vertices, dtype=np.float64)[ids] - np.asarray(rest_joints, dtype=np.float64)[HEAD]


def coco_keypoints(joints: np.ndarray, world_rotations: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(..., 17, 3) COCO keypoints, world, metres.

    joints: (..., 24, 3) world joint positions; world_rotations: (..., 24, 3, 3) world rotations
    of the joints (forward kinematics, including the template -> world turn); offsets: (5, 3)
    from :func:`face_offsets`.
    """
    joints = np.asarray(joints, dtype=np.float64)
    head_rotation = np.asarray(world_rotations, dtype=np.float64)[..., HEAD, :, :]
    face = np.einsum("...ij,kj->...ki", head_rotation, np.asarray(offsets, dtype=np.float64))
    return keypoints_of(joints, joints[..., HEAD, None, :] + face)


def keypoints_of(joints: np.ndarray, face: np.ndarray) -> np.ndarray:
    """(..., 17, 3) COCO keypoints from (..., 24, 3) SMPL joints and (..., 5, 3) face points."""
    joints = np.asarray(joints, dtype=np.float64)
    out = np.empty(joints.shape[:-2] + (NUM_KEYPOINTS, 3))
    for coco, smpl in SMPL_JOINT_OF_COCO.items():
        out[..., coco, :] = joints[..., smpl, :]
    out[..., list(FACE_KEYPOINTS), :] = face
    return out
