"""The SMPL source in world space: per-frame joint positions and rotations relative to its rest.

The SMPL rig's rest (as :mod:`..rig_pose` builds it, armature space = world for a rig at the
origin) is the template turned Z-up, i.e. global_orient = C = Y_UP_TO_Z_UP with a zero body
pose. A Motion's world joint rotation G_j acts on Y-up template offsets, so relative to that
rest (on Z-up vectors) joint j is turned by D_j = G_j C^T; with the rig's object rotation R
this is R D_j R^T in world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..axes import Y_UP_TO_Z_UP as C
from ..skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS, children, forward_kinematics
from .rig import SourceMotion
from .rotmath import rotation_and_scale

# The child that defines a joint's direction where it has several (as in :mod:`..rig_pose`).
MAIN_CHILD: dict[int, int] = {JOINT_INDEX["pelvis"]: JOINT_INDEX["spine1"], JOINT_INDEX["spine3"]: JOINT_INDEX["neck"]}
SPINE_JOINTS = frozenset(JOINT_INDEX[n] for n in ("spine1", "spine2", "spine3", "neck", "head"))
FEET = {  # side -> (hip, knee, ankle, foot) SMPL joint indices
    side: tuple(JOINT_INDEX[f"{side}_{n}"] for n in ("hip", "knee", "ankle", "foot")) for side in ("left", "right")
}
FOOT_JOINTS = tuple(j for side in FEET.values() for j in side[2:])  # ankles and toes
TOES = tuple(side[3] for side in FEET.values())
HIPS = tuple(side[0] for side in FEET.values())
# SMPL's toe joints (left_foot/right_foot) above the floor when the body stands on flat feet.
# Joints sit inside the body: the stand-in's are 2.5 cm above its soles, and the procedural
# training data stands them at 3 cm (``motion.planted_feet.FOOT_JOINT_Z``, not imported:
# training code stays out of the inference path).
STANDING_TOE_Z_M = 0.03


def main_child(joint: int) -> int:
    """The SMPL joint that joint's bone points at, or -1 for a leaf (head, feet, hands)."""
    kids = children()[joint]
    if joint in MAIN_CHILD:
        return MAIN_CHILD[joint]
    return kids[0] if len(kids) == 1 else -1


@dataclass(frozen=True, eq=False)
class SmplWorld:
    """deltas: (T, 24, 3, 3) world rotation of every joint relative to the rig's rest;
    joints: (T, 24, 3) world metres; rest_joints: (24, 3) world metres of the rig at rest;
    fps; frame_start (scene frame of pose 0)."""

    deltas: np.ndarray
    joints: np.ndarray
    rest_joints: np.ndarray
    fps: float
    frame_start: float

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    def forward(self) -> np.ndarray:
        """(T, 3) the body's facing direction in world (template +Z, turned by the pelvis)."""
        return self.deltas[:, 0] @ (C @ np.array([0.0, 0.0, 1.0]))


def standing_heights(rest_joints: np.ndarray) -> np.ndarray:
    """(24,) metres: each joint's height above the floor when the SMPL body stands in its rest
    pose on flat feet on the floor (toe joints :data:`STANDING_TOE_Z_M` above it).

    rest_joints: (24, 3) world metres, Z up (:attr:`SmplWorld.rest_joints`). This is the
    source's floor reference for the root height and foot heights: the world floor (z = 0)
    and the skeleton's own proportions, never a statistic of the clip (a clip whose feet never
    touch the floor, a body lying on a bed, would otherwise be lowered onto it).
    """
    z = np.asarray(rest_joints, dtype=np.float64)[:, 2]
    return z - z[list(TOES)].min() + STANDING_TOE_Z_M


def smpl_world(source: SourceMotion) -> SmplWorld:
    M = np.asarray(source.object_matrix, dtype=np.float64)
    R, scale = rotation_and_scale(M[:3, :3], f"source {source.name!r}")
    local = np.asarray(source.local_rotations, dtype=np.float64)
    rest_y = np.asarray(source.rest_joints_y, dtype=np.float64)
    G, joints = forward_kinematics(local, rest_y, np.asarray(source.transl, dtype=np.float64))
    deltas = R @ G @ (C.T @ R.T)
    joints_w = scale * joints @ R.T + M[:3, 3]
    rest_w = scale * (rest_y @ C.T) @ R.T + M[:3, 3]
    return SmplWorld(deltas, joints_w, rest_w, float(source.fps), float(source.frame_start))


assert len(PARENTS) == len(JOINT_NAMES)
