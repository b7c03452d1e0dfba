"""SMPL poses <-> the pose channels of a Blender armature built from SMPL joints.

Frames: SMPL's template is Y-up; the armature is built Z-up (its rest joints are
C @ template joints, C = axes.Y_UP_TO_Z_UP), the armature object at identity, so
armature space = world. A Motion follows AMASS: joint j's world rotation G_j acts
on Y-up template offsets, so on armature offsets it is A_j = G_j C^-1.

Blender composes a pose bone as W_j = W_parent (B_parent^-1 B_j) Q_j, where B_j is
the bone's rest rotation in armature space (``bone.matrix_local``) and Q_j its
``rotation_quaternion``. Requiring W_j = A_j B_j gives

    Q_j = B_j^-1 (C R_j C^-1) B_j     for a child joint with SMPL local rotation R_j,
    Q_0 = B_0^-1 (G_0 C^-1) B_0       for the root (pelvis),

and the root's ``location`` (in its rest bone frame) from the SMPL pelvis
position J_0 + transl (SMPL rotates the root about its own rest joint, and AMASS
keeps J_0 in template coordinates): loc = B_0^T (J_0 + transl - C J_0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .axes import Y_UP_TO_Z_UP as C
from .rotations import matrix_to_quaternion, quaternion_continuity, quaternion_to_matrix
from .skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS, children

# For bones whose tail would be ambiguous, the child the bone points at.
_MAIN_CHILD = {"pelvis": "spine1", "spine3": "neck"}
_LEAF_LENGTH = {"head": 0.22, "left_foot": 0.1, "right_foot": 0.1, "left_hand": 0.09, "right_hand": 0.09}


@dataclass(frozen=True)
class RigRest:
    """Rest bones of an SMPL armature, armature space (metres, Z up).

    heads, tails: (24, 3); roll_axes: (24, 3) the direction each bone's local Z
    should face (Blender's ``align_roll``); names: the SMPL joint names.
    """

    names: tuple[str, ...]
    heads: np.ndarray
    tails: np.ndarray
    roll_axes: np.ndarray


def rig_rest(rest_joints_y: np.ndarray) -> RigRest:
    """Bones from SMPL rest joints (24, 3) (template frame, Y-up)."""
    heads = np.asarray(rest_joints_y, dtype=np.float64) @ C.T
    kids = children()
    tails = np.empty_like(heads)
    for j, name in enumerate(JOINT_NAMES):
        if name in _MAIN_CHILD:
            tails[j] = heads[JOINT_INDEX[_MAIN_CHILD[name]]]
        elif len(kids[j]) == 1:
            tails[j] = heads[kids[j][0]]
        else:  # a leaf: continue the parent's direction (head: straight up)
            if name == "head":
                direction = np.array([0.0, 0.0, 1.0])
            else:
                direction = heads[j] - heads[PARENTS[j]]
                direction /= np.linalg.norm(direction)
            tails[j] = heads[j] + _LEAF_LENGTH.get(name, 0.08) * direction
    along = tails - heads
    along /= np.linalg.norm(along, axis=1, keepdims=True)
    # Vertical bones (spine, legs) face forward (-Y in Blender's front view); the rest keep Z up.
    vertical = np.abs(along[:, 2]) > 0.7
    roll_axes = np.where(vertical[:, None], np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    return RigRest(names=JOINT_NAMES, heads=heads, tails=tails, roll_axes=roll_axes)


def bone_channels_from_smpl(
    local_rotations: np.ndarray,
    transl: np.ndarray,
    rest_joints_y: np.ndarray,
    bone_rest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pose channels for every frame.

    local_rotations: (T, 24, 3, 3) SMPL local rotations (joint 0 = global_orient).
    transl: (T, 3) metres (AMASS ``trans``). rest_joints_y: (24, 3) Y-up template joints.
    bone_rest: (24, 3, 3) rest rotations of the bones in armature space.
    Returns quaternions (T, 24, 4) (w, x, y, z), sign-continuous over time, and the
    root location (T, 3) in the pelvis bone's rest frame.
    """
    B = np.asarray(bone_rest, dtype=np.float64)
    Bt = np.swapaxes(B, -1, -2)
    # Q_j = (B_j^T C) R_j (C^T B_j) for children and Q_0 = B_0^T G_0 (C^T B_0) for the
    # root: two batched products with per-bone factors folded in once.
    left = Bt @ C
    left[0] = Bt[0]
    right = C.T @ B
    Q = left[None] @ np.asarray(local_rotations, dtype=np.float64) @ right[None]
    quaternions = quaternion_continuity(matrix_to_quaternion(Q), axis=0)
    j0 = np.asarray(rest_joints_y[0], dtype=np.float64)
    location = (j0 + transl - C @ j0) @ B[0]  # B_0^T v for each row v
    return quaternions, location


def smpl_from_bone_channels(
    quaternions: np.ndarray,
    location: np.ndarray,
    rest_joints_y: np.ndarray,
    bone_rest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`bone_channels_from_smpl`: (local_rotations (T, 24, 3, 3), transl (T, 3))."""
    B = np.asarray(bone_rest, dtype=np.float64)
    Bt = np.swapaxes(B, -1, -2)
    conj = B[None] @ quaternion_to_matrix(quaternions) @ Bt[None]
    local = C.T @ conj @ C
    local[:, 0] = conj[:, 0] @ C
    j0 = np.asarray(rest_joints_y[0], dtype=np.float64)
    transl = location @ B[0].T + C @ j0 - j0
    return local, transl


def pose_corrective_weights(local_rotations: np.ndarray) -> np.ndarray:
    """SMPL's pose feature (T, 207): (R_j - I) for joints 1..23, each 3x3 row-major.

    These are the values of the 207 pose-corrective shape keys (SMPL's P(theta),
    Loper et al. 2015, eq. 9), in the order of ``posedirs[..., p]``.
    """
    frames = local_rotations.shape[0]
    return (local_rotations[:, 1:] - np.eye(3)).reshape(frames, -1)
