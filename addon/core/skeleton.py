"""SMPL's 24-joint kinematic tree and batched forward kinematics (numpy and torch).

Joint order and parents are SMPL's (Loper et al. 2015); the motion model uses
the first 22 joints (no hand joints), see :data:`NUM_BODY_JOINTS`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any  # np.ndarray or torch.Tensor

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
# PARENTS[j] is the parent joint of j; the root (pelvis) has -1. Parents precede children.
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
NUM_JOINTS = 24
NUM_BODY_JOINTS = 22
JOINT_INDEX = {name: index for index, name in enumerate(JOINT_NAMES)}
# Left/right partner of every joint (itself for the spine), for mirroring.
MIRROR: tuple[int, ...] = tuple(
    JOINT_INDEX[name.replace("left_", "\0").replace("right_", "left_").replace("\0", "right_")]
    for name in JOINT_NAMES
)


def children(parents: tuple[int, ...] = PARENTS) -> list[list[int]]:
    """children[j]: the joints whose parent is j, in joint order."""
    result: list[list[int]] = [[] for _ in parents]
    for joint, parent in enumerate(parents):
        if parent >= 0:
            result[parent].append(joint)
    return result


def forward_kinematics(
    local_rotations: Array,
    rest_joints: Array,
    root_translation: Array | None = None,
    parents: tuple[int, ...] = PARENTS,
) -> tuple[Array, Array]:
    """World rotations and positions of every joint.

    local_rotations: (..., J, 3, 3) each joint's rotation relative to its parent
        (joint 0: the global orientation).
    rest_joints: (..., J, 3) metres, joint positions in the rest pose (broadcasts).
    root_translation: (..., 3) metres added to every joint (SMPL's ``transl``).
    Returns (world_rotations (..., J, 3, 3), joints (..., J, 3)).

    G_j = G_parent(j) [R_j | t_j - t_parent(j)], the chain of SMPL's eq. for
    the rigid transformations (smplx ``batch_rigid_transform``).
    """
    is_torch = type(local_rotations).__module__.startswith("torch")
    lib = __import__("torch") if is_torch else np
    J = len(parents)
    if local_rotations.shape[-3:] != (J, 3, 3):
        raise ValueError(f"local_rotations must be (..., {J}, 3, 3), got {tuple(local_rotations.shape)}")
    if rest_joints.shape[-2:] != (J, 3):
        raise ValueError(f"rest_joints must be (..., {J}, 3), got {tuple(rest_joints.shape)}")
    batch = local_rotations.shape[:-3]
    offsets = [rest_joints[..., 0, :]] + [
        rest_joints[..., j, :] - rest_joints[..., parents[j], :] for j in range(1, J)
    ]
    world_rot = [local_rotations[..., 0, :, :]]
    broadcast = np.broadcast_to if lib is np else lib.broadcast_to
    world_pos = [broadcast(offsets[0], (*batch, 3)) if batch else offsets[0]]
    for j in range(1, J):
        p = parents[j]
        world_rot.append(world_rot[p] @ local_rotations[..., j, :, :])
        world_pos.append(world_pos[p] + (world_rot[p] @ offsets[j][..., None])[..., 0])
    rotations = lib.stack(world_rot, -3) if lib is np else lib.stack(world_rot, dim=-3)
    joints = lib.stack(world_pos, -2) if lib is np else lib.stack(world_pos, dim=-2)
    if root_translation is not None:
        joints = joints + root_translation[..., None, :]
    return rotations, joints
