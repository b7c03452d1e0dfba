"""Rotations that agree with the positions: the decode that generated features are put on rigs with.

The representation (thesis eq. 5.7) stores every joint twice: as a position and through the
6D rotations. A trained denoiser predicts both, and they disagree by centimetres; a rig can
only be driven by rotations, so rotations alone decide where hands and feet end up, while
the positions are what the network fits best (they carry the velocity, foot and bone-length
losses). :func:`reconcile_rotations` keeps each predicted rotation's twist and swings it so
that its bone points at the predicted child position, joint by joint down the tree:

1. a joint with one child (knees, elbows, neck ...): R = C @ R_pred, with C the smallest
   rotation taking the bone direction R_pred gives (in the parent's fitted frame) to the
   predicted one; the twist about the bone stays the model's;
2. a joint with several children (pelvis: hips and spine; spine3: neck and collars): the
   least-squares rotation of the rest child bones onto the predicted ones (Kabsch), which
   fixes the twist too;
3. joints without a child among the 22 (feet, head, wrists): R_pred unchanged.

Forward kinematics of the result on the rest skeleton reproduces the predicted positions up
to the difference between predicted and rest bone lengths.

:func:`decode_generated` is what generation hands to rigs (and what the evaluation scores): the
reconciled rotations, the predicted pelvis, and a grounding lift: frames whose lowest joint
would sink below the floor (z = 0) are raised by the depth, the lift smoothed over a few frames
so that no vertical jolt appears (``grounding_lift``).
"""

from __future__ import annotations

import numpy as np

from .joint_ik import BODY_PARENTS, best_rotation, minimal_rotation, motion_from_local_rotations
from ..rotations import rotation_6d_to_matrix
from ..skeleton import NUM_BODY_JOINTS, children, forward_kinematics
from .motion import Motion, Role
from .representation import LOCAL_ROTATIONS, NUM_ROTATED_JOINTS, ROOT_ORIENTATION, features_to_joints

LIFT_WINDOW = 2  # frames either side over which a grounding lift is spread

_CHILDREN = children(BODY_PARENTS)


def reconcile_rotations(rotations: np.ndarray, joints: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """Predicted rotations swung onto predicted positions.

    rotations: (T, 22, 3, 3) float64, [:, 0] the root's world rotation, [:, j] joint j relative
        to its parent (what the 6D features decode to).
    joints: (T, 22, 3) metres, the predicted world positions.
    rest_joints: (24, 3) or (22, 3) metres, the skeleton's rest joints (template frame).
    Returns (T, 22, 3, 3) float64 in the same convention.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    joints = np.asarray(joints, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    T = len(rotations)
    local = rotations.copy()
    world = np.empty_like(local)
    identity = np.broadcast_to(np.eye(3), (T, 3, 3))
    for j, parent in enumerate(BODY_PARENTS):
        parent_world = identity if parent < 0 else world[:, parent]
        kids = _CHILDREN[j]
        if kids:
            # The predicted bones in the parent's fitted frame (row vectors times G = G^T d).
            observed = (joints[:, kids] - joints[:, j:j + 1]) @ parent_world
            rest_bones = np.broadcast_to(rest[kids] - rest[j], observed.shape)
            if len(kids) == 1:
                # 1. Swing the model's rotation so its bone points at the predicted child.
                predicted = np.einsum("tij,tj->ti", rotations[:, j], rest_bones[:, 0])
                local[:, j] = minimal_rotation(predicted, observed[:, 0]) @ rotations[:, j]
            else:
                # 2. Several children fix the whole rotation.
                local[:, j] = best_rotation(_unit(rest_bones), _unit(observed))
        # 3. Leaves keep the prediction (local[:, j] is still a copy of it).
        world[:, j] = parent_world @ local[:, j]
    return local


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def grounding_lift(lowest_z: np.ndarray) -> np.ndarray:
    """(T,) lowest joint height per frame (m) -> (T,) lift >= the depth below z = 0 (m).

    The depth is dilated and then averaged over LIFT_WINDOW frames either side (a lift eases in
    and out instead of popping), and never less than the depth itself.
    """
    depth = np.maximum(0.0, -np.asarray(lowest_z, dtype=np.float64))
    if not depth.any():
        return depth
    width = 2 * LIFT_WINDOW + 1
    padded = np.pad(depth, LIFT_WINDOW, mode="edge")
    dilated = np.lib.stride_tricks.sliding_window_view(padded, width).max(axis=-1)
    smoothed = np.lib.stride_tricks.sliding_window_view(np.pad(dilated, LIFT_WINDOW, mode="edge"), width).mean(-1)
    return np.maximum(smoothed, depth)


def decoded_pose(features: np.ndarray, rest_joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's generated features (T, 264) -> (rotations (T, 22, 3, 3), pelvis (T, 3) m,
    joints (T, 22, 3) m): reconciled rotations, grounded, and their forward kinematics."""
    x = np.asarray(features, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    T = len(x)
    predicted = np.concatenate([rotation_6d_to_matrix(x[:, ROOT_ORIENTATION])[:, None],
                                rotation_6d_to_matrix(x[:, LOCAL_ROTATIONS].reshape(T, NUM_ROTATED_JOINTS, 6))], 1)
    positions = features_to_joints(x)
    rotations = reconcile_rotations(predicted, positions, rest)
    pelvis = positions[:, 0].copy()
    _, joints = forward_kinematics(rotations, rest, pelvis - rest[0], parents=BODY_PARENTS)
    lift = grounding_lift(joints[..., 2].min(axis=-1))
    pelvis[:, 2] += lift
    joints[..., 2] += lift[:, None]
    return rotations, pelvis, joints


def decode_generated(features: np.ndarray, rest_joints: np.ndarray, fps: float, role: Role = "person",
                     name: str = "") -> Motion:
    """A Motion from one person's generated features (T, 264): :func:`decoded_pose` as SMPL."""
    rotations, pelvis, _ = decoded_pose(features, rest_joints)
    return motion_from_local_rotations(rotations, pelvis, rest_joints, fps, role=role, name=name)


def generated_joints(features: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """(P, T, 264) generated features -> (P, T, 22, 3) metres: the joints rigs will show."""
    return np.stack([decoded_pose(f, rest_joints)[2] for f in np.asarray(features, dtype=np.float64)])
