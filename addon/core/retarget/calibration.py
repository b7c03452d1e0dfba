"""Rest-pose calibration: the world rotation K_j that takes the target's rest bone of SMPL
joint j to where that bone would be if the target stood in SMPL's rest pose.

With it a mapped bone's world rotation is W_b(t) = D_j(t) K_j T_b (T_b its rest frame,
D_j(t) the SMPL joint's rotation relative to its rest), i.e. in bone-local terms the
change-of-basis B_tgt = C^-1 B_src C with C = S^-1 T when K_j = I (both rests equal).

Modes:
- NONE: K = I; correct only when both rigs rest in the same pose (T-pose avatars).
- DIRECTIONS: from bone directions. Parents first, each bone inherits the calibration of the
  nearest mapped bone above it and then swings so its rest direction meets the SMPL bone's
  (A-pose arms rise to SMPL's T-pose, a rig facing +X turns to face like SMPL). A bone with
  several mapped SMPL children (the pelvis: hips; the chest: collars) also twists about its
  direction so the children's directions agree as well as they can (this fixes the facing).
  Leaves (head, toes) keep their parent's calibration.
- MATCH_POSE: the target's current pose is the SMPL rest pose (or SMPL's pose at
  ``match_frame``): K_j = D_j(f)^-1 P_b T_b^-1, with P_b the bone's posed world rotation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..skeleton import NUM_JOINTS, PARENTS
from .plan import RetargetPlan
from .rig import TargetRig, WorldRest
from .rotmath import about, orthonormalize, swing, transpose, unit
from .smpl_world import SmplWorld, main_child

Calibration = Literal["NONE", "DIRECTIONS", "MATCH_POSE"]
CALIBRATIONS: tuple[str, ...] = ("DIRECTIONS", "NONE", "MATCH_POSE")


def calibrate(
    mode: Calibration,
    plan: RetargetPlan,
    rig: TargetRig,
    rest: WorldRest,
    smpl: SmplWorld,
    match_frame: int | None = None,
) -> np.ndarray:
    """(24, 3, 3) world calibration rotations K_j (identity for unmapped joints)."""
    if mode == "NONE":
        return np.tile(np.eye(3), (NUM_JOINTS, 1, 1))
    if mode == "DIRECTIONS":
        return from_directions(plan, rest, smpl.rest_joints)
    if mode == "MATCH_POSE":
        return from_match_pose(plan, rig, rest, smpl, match_frame)
    raise ValueError(f"calibration: unknown mode {mode!r} (known: {', '.join(CALIBRATIONS)})")


def from_directions(plan: RetargetPlan, rest: WorldRest, smpl_rest_joints: np.ndarray) -> np.ndarray:
    K = np.tile(np.eye(3), (NUM_JOINTS, 1, 1))
    depth = {int(b): i for i, b in enumerate(plan.order)}
    mapped = sorted(plan.mapped_joints.tolist(), key=lambda j: depth[int(plan.bone_of_joint[j])])
    for j in mapped:
        parent = plan.calibration_parent[j]
        inherited = K[parent] if parent >= 0 else np.eye(3)
        if plan.reference_child[j] < 0:  # a leaf: no direction of its own
            K[j] = inherited
            continue
        axis = plan.smpl_axis[j]
        K[j] = swing(inherited @ plan.target_axis[j], axis) @ inherited
        angle = _secondary_twist(j, K[j], axis, plan, rest, smpl_rest_joints)
        if angle is not None:
            K[j] = about(axis, angle) @ K[j]
    return K


def _secondary_twist(j, K, axis, plan, rest, smpl_rest_joints) -> float | None:
    """Twist (radians, about ``axis``) that best lines up the directions to j's other mapped
    SMPL children (not the one j points at), or None when there are none."""
    b = plan.bone_of_joint[j]
    sin_sum = cos_sum = 0.0
    found = False
    for c in range(NUM_JOINTS):
        if PARENTS[c] != j or c == main_child(j) or plan.bone_of_joint[c] < 0:
            continue
        target = K @ (rest.heads[plan.bone_of_joint[c]] - rest.heads[b])
        source = smpl_rest_joints[c] - smpl_rest_joints[j]
        t = target - axis * (target @ axis)
        s = source - axis * (source @ axis)
        if np.linalg.norm(t) < 1e-6 or np.linalg.norm(s) < 1e-6:
            continue
        t, s = unit(t), unit(s)
        sin_sum += float(np.cross(t, s) @ axis)
        cos_sum += float(t @ s)
        found = True
    return float(np.arctan2(sin_sum, cos_sum)) if found else None


def from_match_pose(
    plan: RetargetPlan, rig: TargetRig, rest: WorldRest, smpl: SmplWorld, match_frame: int | None
) -> np.ndarray:
    if rig.pose_matrices is None:
        raise ValueError(f"calibration MATCH_POSE: the pose of armature {rig.name!r} was not read")
    if match_frame is not None and not 0 <= match_frame < smpl.num_frames:
        raise ValueError(f"calibration MATCH_POSE: match_frame {match_frame} outside the source's 0..{smpl.num_frames - 1}")
    posed = rest.object_rotation @ orthonormalize(np.asarray(rig.pose_matrices, dtype=np.float64)[:, :3, :3])
    K = np.tile(np.eye(3), (NUM_JOINTS, 1, 1))
    for j in plan.mapped_joints:
        b = plan.bone_of_joint[j]
        offset = posed[b] @ transpose(rest.rotations[b])
        K[j] = offset if match_frame is None else transpose(smpl.deltas[match_frame, j]) @ offset
    return K
