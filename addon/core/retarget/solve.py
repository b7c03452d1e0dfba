"""The retarget solve: SMPL joint rotations -> target bone world rotations -> pose channels.

All frames at once (numpy batched over T). World frame: metres, Z up, floor z = 0.

1. Mapped bones: W_b(t) = D_j(t) K_j T_b, i.e. a world delta Delta_b = D_j K_j (D_j: SMPL
   joint j relative to its rest, :mod:`.smpl_world`; K_j: :mod:`.calibration`; T_b: rest
   frame). When the bone spans several SMPL bones (a two-bone spine), it is swung onto the
   SMPL chord it stands for.
2. In-between, twist, rigid bones as described in :mod:`.plan`.
3. Root: the target's hip midpoint follows SMPL's hip midpoint, scaled by the leg-length
   ratio s = target thigh + shin / SMPL's hip -> knee -> ankle: the horizontal path from the
   first frame, and the height from standing: SMPL standing on flat feet on the world floor
   (z = 0; :func:`.smpl_world.standing_heights`) puts the target's hips at their rest height
   above its origin, and what SMPL's hips are above or below that is scaled by s (a body
   lying on a bed keeps its height; no clip statistic is involved). The pelvis bone's head
   is then placed from the hip midpoint through its rest offset, turned by the pelvis bone's
   rotation (its head need not be at SMPL's pelvis joint: Rigify's ``spine`` head lies 6 cm
   below the thighs). Without mapped hips the pelvis bone's head stands for SMPL's pelvis
   joint. IN_PLACE keeps the first frame's horizontal position.
4. Optional foot clean-up (:mod:`.feet`).
5. Pose channels in Blender's convention, pose = parent_pose (parent_rest^-1 rest) basis:
   the rotation Q_b = T_b^-1 (Delta_p^-1 Delta_b) T_b and, for the root bone, the location
   loc = T_b^-1 [Delta_p^-1 (h_b - h_p) - (h_b_rest - h_p_rest)] (armature space).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..rotations import quaternion_continuity
from ..skeleton import PARENTS
from .calibration import Calibration, calibrate
from .feet import foot_contacts, plant_feet
from .plan import RetargetPlan
from .rig import TargetRig, WorldRest
from .rotmath import about, orthonormalize, power, swing, to_quaternion, transpose, twist_angle
from .smpl_world import FEET, FOOT_JOINTS, HIPS, SmplWorld, standing_heights

RootMotion = Literal["FULL", "IN_PLACE"]
ROOT_MOTIONS: tuple[str, ...] = ("FULL", "IN_PLACE")


@dataclass(frozen=True)
class SolveOptions:
    """calibration: see :mod:`.calibration`; match_frame: source frame of the match pose
    (None: SMPL's rest); root_motion: FULL or IN_PLACE; scale_root: scale the root path by the
    leg-length ratio; foot_cleanup: plant feet at contact frames; pivot: the world (x, y) point,
    metres, the root path is scaled about (None: the person's own start, so only its travel
    scales; several people get their common centre, so their spacing scales with them)."""

    calibration: Calibration = "DIRECTIONS"
    match_frame: int | None = None
    root_motion: RootMotion = "FULL"
    scale_root: bool = True
    foot_cleanup: bool = True
    pivot: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.root_motion not in ROOT_MOTIONS:
            raise ValueError(f"root_motion: expected one of {ROOT_MOTIONS}, got {self.root_motion!r}")


@dataclass(frozen=True, eq=False)
class Solution:
    """Bone indices are the plan's (``plan.bones`` maps them to the rig).

    keyed: (K,) bone indices; quaternions: (T, K, 4) (w, x, y, z) Blender pose rotations,
    sign-continuous; root: the pelvis bone; root_location: (T, 3) its pose location
    (armature units, its rest frame); deltas: (T, A, 3, 3) world rotation of each plan bone
    relative to rest; heads: (T, A, 3) world bone heads; leg_scale: s (1.0 when not
    scaled or not measurable); contacts: side -> (T, 2) planted (ankle, toe) of the source."""

    keyed: np.ndarray
    quaternions: np.ndarray
    root: int
    root_location: np.ndarray
    deltas: np.ndarray
    heads: np.ndarray
    leg_scale: float
    contacts: dict


def solve(plan: RetargetPlan, rig: TargetRig, rest: WorldRest, smpl: SmplWorld, options: SolveOptions) -> Solution:
    K = calibrate(options.calibration, plan, rig, rest, smpl, options.match_frame)
    deltas = mapped_deltas(plan, smpl, K)
    scale = leg_scale(plan, rest, smpl) if options.scale_root else 1.0
    root = root_positions(plan, rest, smpl, deltas[:, plan.root], scale, options.root_motion, options.pivot)
    contacts = foot_contacts(smpl)
    if options.foot_cleanup and plan.legs:
        # The clean-up needs only the legs' positions: fill just the bones above them first.
        fill_unmapped(plan, deltas, smpl, only=plan.leg_support)
        heads = forward_positions(plan, rest, deltas, root)
        deltas, root = plant_feet(plan, rest, smpl, deltas, heads, root, contacts, scale)
    fill_unmapped(plan, deltas, smpl)
    heads = forward_positions(plan, rest, deltas, root)
    quaternions, location = pose_channels(plan, rig, rest, deltas, heads)
    return Solution(plan.keyed, quaternions, plan.root, location, deltas, heads, scale, contacts)


def mapped_deltas(plan: RetargetPlan, smpl: SmplWorld, K: np.ndarray) -> np.ndarray:
    """(T, B, 3, 3) world deltas: D_j K_j on mapped bones, identity elsewhere."""
    T, B = smpl.num_frames, len(plan.parents)
    deltas = np.empty((T, B, 3, 3))
    deltas[:] = np.eye(3)
    for j in plan.mapped_joints:
        delta = smpl.deltas[:, j] @ K[j]
        if plan.multi_segment[j]:
            chord = smpl.joints[:, plan.segment_end[j]] - smpl.joints[:, j]
            delta = swing(delta @ plan.target_axis[j], chord) @ delta
        deltas[:, plan.bone_of_joint[j]] = delta
    return deltas


def fill_unmapped(plan: RetargetPlan, deltas: np.ndarray, smpl: SmplWorld, only: frozenset | None = None) -> None:
    """In place: in-between and twist bones from their mapped neighbours, then rigid bones
    (``only``: just these bones)."""
    bone = plan.bone_of_joint
    for item in (*plan.between, *plan.twists):
        if only is not None and item.bone not in only:
            continue
        upper, lower = deltas[:, bone[item.upper]], deltas[:, bone[item.lower]]
        axis = np.broadcast_to(item.axis, upper.shape[:-2] + (3,))
        if item.proximal:
            # SMPL's own twist of the shoulder/hip joint relative to its parent joint, about
            # SMPL's rest bone direction. The upper bone carries all of it; the twist bone
            # keeps the share ``fraction``, i.e. turns back by the remaining 1 - fraction.
            parent = smpl.deltas[:, PARENTS[item.upper]]
            local = transpose(parent) @ smpl.deltas[:, item.upper]
            direction = smpl.rest_joints[item.lower] - smpl.rest_joints[item.upper]
            angle = twist_angle(local, np.broadcast_to(direction / np.linalg.norm(direction), axis.shape))
            deltas[:, item.bone] = upper @ about(axis, -(1.0 - item.fraction) * angle)
            continue
        relative = transpose(upper) @ lower
        if item.full:
            deltas[:, item.bone] = upper @ power(relative, item.fraction)
        else:
            angle = twist_angle(relative, axis)
            deltas[:, item.bone] = upper @ about(axis, item.fraction * angle)
    for b in plan.rigid:
        if only is not None and b not in only:
            continue
        p = plan.parents[b]
        deltas[:, b] = deltas[:, p] if p >= 0 else np.eye(3)


def leg_scale(plan: RetargetPlan, rest: WorldRest, smpl: SmplWorld) -> float:
    """s: the target's thigh + shin length over SMPL's hip -> knee -> ankle, summed over the
    legs mapped hip to ankle; without one, the target's pelvis height over its lowest mapped
    foot joint at rest over SMPL's; 1.0 when neither can be measured."""
    target = source = 0.0
    for hip, knee, ankle, _ in FEET.values():
        bones = plan.bone_of_joint[[hip, knee, ankle]]
        if (bones < 0).any():
            continue
        target += float(np.linalg.norm(np.diff(rest.heads[bones], axis=0), axis=1).sum())
        source += float(np.linalg.norm(np.diff(smpl.rest_joints[[hip, knee, ankle]], axis=0), axis=1).sum())
    if target > 1e-6 and source > 1e-6:
        return target / source
    feet = [j for j in FOOT_JOINTS if plan.bone_of_joint[j] >= 0]
    if not feet:
        return 1.0
    target = rest.heads[plan.root, 2] - min(rest.heads[plan.bone_of_joint[j], 2] for j in feet)
    source = smpl.rest_joints[0, 2] - smpl.rest_joints[list(FOOT_JOINTS), 2].min()
    if target <= 1e-6 or source <= 1e-6:
        return 1.0
    return float(target / source)


def root_positions(plan: RetargetPlan, rest: WorldRest, smpl: SmplWorld, root_delta: np.ndarray, scale: float,
                   root_motion: RootMotion, pivot: tuple[float, float] | None = None) -> np.ndarray:
    """(T, 3) world position of the pelvis bone's head (module docstring, step 3).

    root_delta: (T, 3, 3) the pelvis bone's world rotation relative to its rest. Heights:
    SMPL standing on the floor maps to the target standing on its floor (``rest.floor_z``), differences from
    that are scaled, z_t = (anchor rest height) + s (z_s - SMPL's standing anchor height);
    horizontally x_t = c + s (x_s - c) about the pivot c (the person's own start by default).
    """
    standing = standing_heights(smpl.rest_joints)
    hips = plan.bone_of_joint[list(HIPS)]
    if (hips >= 0).all():
        source, anchor = smpl.joints[:, list(HIPS)].mean(axis=1), rest.heads[hips].mean(axis=0)
        source_standing = float(standing[list(HIPS)].mean())
    else:
        source, anchor = smpl.joints[:, 0], rest.heads[plan.root]
        source_standing = float(standing[0])
    out = np.empty_like(source)
    out[:, 2] = (anchor[2] - rest.floor_z) + scale * (source[:, 2] - source_standing)
    centre = source[0, :2] if pivot is None else np.asarray(pivot, dtype=np.float64)
    out[:, :2] = centre + scale * (source[:, :2] - centre)
    out += root_delta @ (rest.heads[plan.root] - anchor)
    if root_motion == "IN_PLACE":
        out[:, :2] = out[0, :2]
    return out


def forward_positions(plan: RetargetPlan, rest: WorldRest, deltas: np.ndarray, root: np.ndarray) -> np.ndarray:
    """(T, A, 3) world heads: h_b = h_p + Delta_p (rest_b - rest_p); the root bone at ``root``.

    Level by level (all bones at the same depth below a placed bone at once)."""
    T, A = deltas.shape[0], len(plan.parents)
    heads = np.empty((T, A, 3))
    placed = np.zeros(A, dtype=bool)
    for b in plan.order:  # roots, and the root bone wherever it hangs: positioned directly
        if b == plan.root or plan.parents[b] < 0:
            heads[:, b] = root if b == plan.root else rest.heads[b]
            placed[b] = True
    while not placed.all():
        level = np.flatnonzero(~placed & (plan.parents >= 0))
        level = level[placed[plan.parents[level]]]
        parents = plan.parents[level]
        offsets = rest.heads[level] - rest.heads[parents]
        heads[:, level] = heads[:, parents] + np.einsum("tkij,kj->tki", deltas[:, parents], offsets)
        placed[level] = True
    return heads


def pose_channels(
    plan: RetargetPlan, rig: TargetRig, rest: WorldRest, deltas: np.ndarray, heads: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(quaternions (T, K, 4) of the keyed bones, root location (T, 3)) (module docstring, step 5)."""
    keyed = plan.keyed
    parents = plan.parents[keyed]
    eye = np.broadcast_to(np.eye(3), deltas.shape[:1] + (len(keyed), 3, 3))
    parent_delta = np.where((parents >= 0)[None, :, None, None], deltas[:, np.maximum(parents, 0)], eye)
    frames = rest.rotations[keyed]
    Q = transpose(frames)[None] @ (transpose(parent_delta) @ deltas[:, keyed]) @ frames[None]
    quaternions = quaternion_continuity(to_quaternion(Q), axis=0)
    # Root location, armature space: world -> armature is x -> R^T (x - t) / s.
    R, s, t = rest.object_rotation, rest.object_scale, rest.object_translation
    b, p = plan.root, plan.parents[plan.root]
    rest_heads = np.asarray(rig.rest_matrices, dtype=np.float64)[:, :3, 3]
    frame_b = orthonormalize(np.asarray(rig.rest_matrices, dtype=np.float64)[b, :3, :3])
    head_b = (heads[:, b] - t) @ R / s
    if p >= 0:
        head_p = (heads[:, p] - t) @ R / s
        parent_arm = R.T @ deltas[:, p] @ R
        offset = np.einsum("tji,tj->ti", parent_arm, head_b - head_p) - (rest_heads[b] - rest_heads[p])
    else:
        offset = head_b - rest_heads[b]
    return quaternions, offset @ frame_b
