"""What every target bone does in a retarget, decided once from the rest data and the mapping.

Roles of a target bone:
- mapped: plays an SMPL joint; its world rotation follows that joint (see :mod:`.solve`).
- in-between: unmapped, on the chain from a mapped bone to the bone of the next mapped SMPL
  joint along the limb or spine (Rigify's DEF-upper_arm.L.001, UE5's spine_02/spine_04,
  neck_02). On the spine and neck it takes a share of the whole rotation between the two
  (the bend spreads over the vertebrae); on limbs only a share of the twist, because a limb
  bends at one joint.
- twist: an unmapped side bone lying along a mapped limb bone (Unreal's upperarm_twist_01_l,
  lowerarm_twist_01_l), the share growing with its position along the bone. On the forearm
  and shin it takes a share of the twist of the next joint (the wrist, the ankle); on the
  upper arm and thigh ("proximal") a share of the twist of the shoulder or hip joint itself,
  relative to the parent joint (the elbow and knee are hinges: they have no twist to share).
- rigid: any other bone under a mapped one (fingers, face, props): moves with its parent.
- static: no mapped bone above it (Unreal's root, IK targets): stays at rest.

Rigify's mechanism bones (MCH-, ORG-, tweak, WGT-, VIS-) never take the in-between or twist
role: constraints drive them, keys would not.

Directions (what calibration lines up and the score measures): :mod:`.directions`.

Only the bones the keys depend on are solved (:mod:`.subset`): the keyed bones and their
ancestors; a rig's hundreds of face, finger and mechanism bones are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from .directions import joint_directions
from .mapping import BoneMapping, MappingError, check_against_rig
from .rig import TargetRig, WorldRest
from .rotmath import angle_between_deg, unit
from .smpl_world import FEET, SPINE_JOINTS

TWIST_ALIGNMENT_DEG = 25.0  # a side bone within this angle of its parent's segment is a twist bone
TWIST_OFFSET = 0.25  # ... and its head within this fraction of the segment's length from the segment
MECHANISM = re.compile(r"^(mch|org|tweak|wgt|vis)([-_.]|$)", re.IGNORECASE)
PROXIMAL_JOINTS = frozenset(JOINT_NAMES.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))


@dataclass(frozen=True)
class Between:
    """An unmapped bone ``bone`` on the chain from the bone of SMPL joint ``upper`` to that of
    ``lower``; ``fraction`` of the chain's rest length lies above its head; ``full``: share
    the whole rotation (spine) or only the twist about ``axis`` (3,) (world rest, unit);
    ``proximal``: the twist shared is that of joint ``upper`` relative to its SMPL parent,
    not that of ``lower`` (twist bones of the upper arm and thigh)."""

    bone: int
    upper: int
    lower: int
    fraction: float
    full: bool
    axis: np.ndarray
    proximal: bool = False


@dataclass(frozen=True)
class Leg:
    """The bones of one leg for the foot clean-up: thigh, shin, foot (and toe or -1), and the
    bone sets that turn with the thigh (above the shin) and with the shin (above the foot)."""

    side: str
    thigh: int
    shin: int
    foot: int
    toe: int
    thigh_chain: np.ndarray
    shin_chain: np.ndarray


@dataclass(frozen=True, eq=False)
class RetargetPlan:
    """Roles and per-joint geometry for one target and mapping (see the module docstring).

    Bone indices are into the plan's own bones: ``bones`` (A,) gives each one's index in the
    rig (``arange(B)`` as built by :func:`build_plan`; fewer after :func:`.subset.restrict`).
    bone_of_joint: (24,) bone index per SMPL joint, -1 unmapped.
    order: (A,) bones, parents first. parents: (A,) parent of each bone, -1 for roots.
    segment_end: (24,) the next mapped SMPL joint along the joint's limb/spine whose bone is
        below the joint's bone (and not at its head), or -1. reference_child: (24,) the SMPL
        joint the direction of joint j is measured towards, -1 for none (leaves, and bones
        without a geometric direction: they keep their parent's calibration).
    target_axis: (24, 3) world rest direction of each mapped bone (:mod:`.directions`). smpl_axis: (24, 3) SMPL rest direction towards reference_child
        (zeros for none). multi_segment: (24,) the bone spans several SMPL bones (swung onto
        the SMPL chord every frame). measured: (24,) the score measures the joint (it has a
        direction of its own, not one borrowed past a zero-length link).
    calibration_parent: (24,) nearest mapped joint whose bone is above the joint's bone, -1.
    between / twists: the in-between and twist bones; rigid: rigid bones in order.
    keyed: (K,) the bones the action keys (mapped, in-between, twist), ascending.
    rest_keyed: (R,) unmapped bones above keyed ones (Unreal's root, a BVH's LHipJoint): the
        solve assumes them at rest, so the action keys their rest values.
    root: the pelvis's bone (gets the location keys). legs: the legs usable by the foot clean-up;
    leg_support: the unmapped bones above their bones (what the clean-up's positions depend on).
    """

    bone_of_joint: np.ndarray
    order: np.ndarray
    parents: np.ndarray
    segment_end: np.ndarray
    reference_child: np.ndarray
    target_axis: np.ndarray
    smpl_axis: np.ndarray
    multi_segment: np.ndarray
    measured: np.ndarray
    calibration_parent: np.ndarray
    between: tuple[Between, ...]
    twists: tuple[Between, ...]
    rigid: np.ndarray
    keyed: np.ndarray
    rest_keyed: np.ndarray
    root: int
    legs: tuple[Leg, ...]
    leg_support: frozenset
    bones: np.ndarray

    @property
    def mapped_joints(self) -> np.ndarray:
        return np.flatnonzero(self.bone_of_joint >= 0)

    @property
    def measured_joints(self) -> np.ndarray:
        """Mapped joints whose direction the score measures (not head, toes, childless hands)."""
        return np.flatnonzero((self.bone_of_joint >= 0) & self.measured)


def topological_order(parents: tuple[int, ...], rig_name: str) -> np.ndarray:
    """Bones with every parent before its children; ValueError on a cycle."""
    B = len(parents)
    kids: list[list[int]] = [[] for _ in range(B)]
    roots = []
    for b, p in enumerate(parents):
        (kids[p] if p >= 0 else roots).append(b)
    order, stack = [], list(reversed(roots))
    while stack:
        b = stack.pop()
        order.append(b)
        stack.extend(reversed(kids[b]))
    if len(order) != B:
        raise ValueError(f"armature {rig_name!r}: the bone hierarchy has a cycle")
    return np.array(order, dtype=np.int64)


def _ancestors(parents, bone: int) -> list[int]:
    out, p = [], parents[bone]
    while p >= 0:
        out.append(p)
        p = parents[p]
    return out


def _subtree(kids, bone: int) -> np.ndarray:
    out, stack = [], [bone]
    while stack:
        b = stack.pop()
        out.append(b)
        stack.extend(kids[b])
    return np.array(sorted(out), dtype=np.int64)


def build_plan(rig: TargetRig, rest: WorldRest, mapping: BoneMapping, smpl_rest_joints: np.ndarray) -> RetargetPlan:
    """The plan for ``rig`` (rest in world ``rest``) under ``mapping``; ``smpl_rest_joints``
    (24, 3) world metres of the SMPL rig at rest. MappingError when a mapped bone is missing,
    the pelvis is unmapped, or the pelvis bone is connected to its parent (cannot move)."""
    check_against_rig(mapping, rig.bone_names, rig.name)
    B = rig.num_bones
    parents = tuple(rig.parents)
    order = topological_order(parents, rig.name)
    kids: list[list[int]] = [[] for _ in range(B)]
    for b, p in enumerate(parents):
        if p >= 0:
            kids[p].append(b)
    bone_of_joint = np.full(NUM_JOINTS, -1, dtype=np.int64)
    for joint, bone in mapping.pairs:
        bone_of_joint[JOINT_NAMES.index(joint)] = rig.index(bone)
    joint_of_bone = np.full(B, -1, dtype=np.int64)
    joint_of_bone[bone_of_joint[bone_of_joint >= 0]] = np.flatnonzero(bone_of_joint >= 0)
    root = int(bone_of_joint[0])
    if root < 0:
        raise MappingError(f"{mapping.name or 'mapping'}: the SMPL pelvis has no bone in armature {rig.name!r}")
    if rig.connected[root]:
        raise MappingError(
            f"armature {rig.name!r}: bone {rig.bone_names[root]!r} (the pelvis) is connected to its parent, "
            "so it cannot be moved; map the pelvis to an unconnected bone"
        )
    ancestors = [set(_ancestors(parents, b)) for b in range(B)]

    def below(lower_bone: int, upper_bone: int) -> bool:
        return upper_bone in ancestors[lower_bone]

    mechanism = np.array([bool(MECHANISM.match(name)) for name in rig.bone_names])
    geometry = joint_directions(bone_of_joint, rest, kids, mechanism, below, smpl_rest_joints)
    segment_end, reference_child, target_axis, smpl_axis, multi, measured = geometry
    calibration_parent = np.full(NUM_JOINTS, -1, dtype=np.int64)
    for j in np.flatnonzero(bone_of_joint >= 0):
        for a in _ancestors(parents, bone_of_joint[j]):
            if joint_of_bone[a] >= 0:
                calibration_parent[j] = joint_of_bone[a]
                break

    # In-between bones: on the chain from a mapped joint's bone to its segment end's bone.
    between: dict[int, Between] = {}
    for j in np.flatnonzero(segment_end >= 0):
        upper, lower = bone_of_joint[j], bone_of_joint[segment_end[j]]
        chain = []
        p = parents[lower]
        while p != upper:
            chain.append(p)
            p = parents[p]
        if not chain:
            continue
        chain.reverse()
        points = rest.heads[[upper, *chain, lower]]
        lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
        total = max(lengths.sum(), 1e-9)
        axis = unit(rest.heads[lower] - rest.heads[upper])
        for i, bone in enumerate(chain):
            if joint_of_bone[bone] >= 0 or mechanism[bone]:
                continue
            between[bone] = Between(
                bone, int(j), int(segment_end[j]), float(lengths[: i + 1].sum() / total),
                bool(segment_end[j] in SPINE_JOINTS), axis,
            )
    # Twist bones: unmapped side bones along a mapped bone's segment.
    twists: dict[int, Between] = {}
    for u in range(B):
        p = parents[u]
        if joint_of_bone[u] >= 0 or u in between or p < 0 or mechanism[u]:
            continue
        owner = joint_of_bone[p] if joint_of_bone[p] >= 0 else (between[p].upper if p in between else -1)
        if owner < 0 or segment_end[owner] < 0:
            continue
        start, end = rest.heads[bone_of_joint[owner]], rest.heads[bone_of_joint[segment_end[owner]]]
        segment = end - start
        length = np.linalg.norm(segment)
        direction = rest.tails[u] - rest.heads[u]
        if np.linalg.norm(direction) < 1e-9 or angle_between_deg(direction, segment) > TWIST_ALIGNMENT_DEG:
            continue
        along = float(np.dot(rest.heads[u] - start, segment) / length**2)
        off_line = np.linalg.norm(rest.heads[u] - (start + along * segment))
        if off_line > TWIST_OFFSET * length:
            continue
        twists[u] = Between(u, int(owner), int(segment_end[owner]), float(np.clip(along, 0.0, 1.0)), False,
                            unit(segment), proximal=bool(owner in PROXIMAL_JOINTS))
    # Rigid bones: under a mapped bone, in no other role.
    has_mapped_above = np.array([any(joint_of_bone[a] >= 0 for a in ancestors[b]) for b in range(B)])
    rigid = [b for b in order if joint_of_bone[b] < 0 and b not in between and b not in twists and has_mapped_above[b]]
    keyed = np.array(sorted({*bone_of_joint[bone_of_joint >= 0].tolist(), *between, *twists}), dtype=np.int64)
    keyed_set = set(keyed.tolist())
    rest_keyed = np.array(sorted({a for b in keyed for a in ancestors[b]} - keyed_set), dtype=np.int64)
    legs = []
    for side, (hip, knee, ankle, toe) in FEET.items():
        thigh, shin, foot = bone_of_joint[hip], bone_of_joint[knee], bone_of_joint[ankle]
        if min(thigh, shin, foot) < 0 or not (below(shin, thigh) and below(foot, shin)):
            continue
        thigh_set, shin_set, foot_set = (set(_subtree(kids, b).tolist()) for b in (thigh, shin, foot))
        legs.append(Leg(
            side, int(thigh), int(shin), int(foot), int(bone_of_joint[toe]),
            np.array(sorted(thigh_set - shin_set), dtype=np.int64),
            np.array(sorted(shin_set - foot_set), dtype=np.int64),
        ))
    leg_bones = {b for leg in legs for b in (leg.thigh, leg.shin, leg.foot, leg.toe) if b >= 0}
    leg_support = frozenset(a for b in leg_bones for a in ancestors[b] if joint_of_bone[a] < 0)
    return RetargetPlan(
        bone_of_joint=bone_of_joint,
        order=order,
        parents=np.array(parents, dtype=np.int64),
        segment_end=segment_end,
        reference_child=reference_child,
        target_axis=target_axis,
        smpl_axis=smpl_axis,
        multi_segment=multi,
        measured=measured,
        calibration_parent=calibration_parent,
        between=tuple(between[b] for b in sorted(between)),
        twists=tuple(twists[b] for b in sorted(twists)),
        rigid=np.array(rigid, dtype=np.int64),
        keyed=keyed,
        rest_keyed=rest_keyed,
        root=root,
        legs=tuple(legs),
        leg_support=leg_support,
        bones=np.arange(B, dtype=np.int64),
    )


assert len(PARENTS) == NUM_JOINTS
