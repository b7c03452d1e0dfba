"""Labels of a person rendered as a rigged avatar: from the avatar as Blender evaluated it.

A stand-in or SMPL body is labelled from forward kinematics of its Motion (:mod:`.annotations`);
an avatar's pose is the retarget's keys after Blender's constraints, on the avatar's own
proportions, so its labels come from what Blender evaluated at every frame:

* joints: SMPL's 24 joints on the avatar (:func:`..retarget.quality.joints_on_rig`): mapped
  joints at their bones' heads, unmapped ones (a spine joint the avatar lacks, SMPL's hand
  points) carried by the nearest mapped ancestor bone;
* the five COCO face points: vertices of the avatar's skinned meshes, chosen once on the first
  frame as the ones nearest SMPL's nominal face landmarks (placed by the source motion's head
  rotation, scaled to the avatar), then followed as skinned;
* boxes and occlusion: the avatar's skinned meshes themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .coco import FACE_KEYPOINTS, NOMINAL_FACE


@dataclass(frozen=True, eq=False)
class EvaluatedBody:
    """A rigged avatar over T frames, world metres (Z up).

    joints: (T, 24, 3) SMPL joint order; face: (T, 5, 3) COCO's nose, eyes and ears;
    vertices: (T, V, 3) its skinned meshes, concatenated; faces: (F, 3) int64 triangles into them.
    """

    joints: np.ndarray
    face: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray

    def __post_init__(self) -> None:
        T = self.joints.shape[0]
        if self.joints.shape != (T, 24, 3) or self.face.shape != (T, len(FACE_KEYPOINTS), 3):
            raise ValueError(f"EvaluatedBody: joints {self.joints.shape}, face {self.face.shape}; expected "
                             f"({T}, 24, 3) and ({T}, 5, 3)")
        if (self.vertices.ndim != 3 or self.vertices.shape[0] != T or self.vertices.shape[2] != 3
                or self.faces.ndim != 2 or self.faces.shape[1] != 3):
            raise ValueError(f"EvaluatedBody: vertices {self.vertices.shape}, faces {self.faces.shape}")


def face_vertex_ids(vertices: np.ndarray, head: np.ndarray, head_rotation: np.ndarray, scale: float) -> np.ndarray:
    """(5,) int64: the vertices nearest SMPL's nominal nose, eyes and ears on an avatar.

    vertices: (V, 3) the avatar's skinned meshes on one frame, world; head: (3,) its head joint;
    head_rotation: (3, 3) the SMPL head's world rotation on that frame (template -> world, as in
    :func:`.coco.coco_keypoints`); scale: avatar size / SMPL size (the retarget's leg ratio).
    """
    targets = np.asarray(head, np.float64) + scale * (np.asarray(NOMINAL_FACE) @ np.asarray(head_rotation).T)
    distances = np.linalg.norm(np.asarray(vertices, np.float64)[None] - targets[:, None], axis=-1)
    return distances.argmin(axis=1)

