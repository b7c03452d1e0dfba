"""The quality score of a retarget: bone directions, planted feet and person-person penetration.

- Bone-direction error: for every mapped bone with a direction (not head, toes, hands), the
  angle between the target bone's posed direction (its rest direction towards the next
  mapped bone, turned by its world rotation) and the SMPL segment it stands for.
- Foot-height error: at the source's contact frames, how far the target foot's lowest
  joint is from its rest height above the floor (|.|, metres).
- Penetration: the deepest overlap of two persons' bone capsules
  (:func:`..eval.physical.penetration_depths`, SMPL's radii times the avatar's leg-length
  ratio) after retargeting, next to the source's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..eval.physical import PENETRATION_TOLERANCE_M, penetration_depths
from ..skeleton import JOINT_NAMES, NUM_BODY_JOINTS, NUM_JOINTS, PARENTS
from .feet import foot_height_error
from .plan import RetargetPlan
from .rig import WorldRest
from .rotmath import angle_between_deg
from .smpl_world import SmplWorld
from .solve import Solution


@dataclass(frozen=True)
class RetargetScore:
    """direction_mean_deg / direction_max_deg over mapped bones and frames; worst_joint: the SMPL
    joint with the largest error; foot_mean_m / foot_max_m: |foot height error| at contact frames
    (NaN without contacts); contact_frames: foot-frames in contact; leg_scale; missing: SMPL body
    joints without a bone; penetration_max_m / penetration_fraction: deepest capsule overlap with
    the other persons and the fraction of frames beyond 2 cm (NaN for one person);
    source_penetration_max_m: the same for the SMPL sources."""

    direction_mean_deg: float
    direction_max_deg: float
    worst_joint: str
    foot_mean_m: float
    foot_max_m: float
    contact_frames: int
    leg_scale: float
    missing: tuple[str, ...] = ()
    penetration_max_m: float = float("nan")
    penetration_fraction: float = float("nan")
    source_penetration_max_m: float = float("nan")

    def summary(self) -> str:
        """One line for the panel and the log."""
        parts = [f"direction {self.direction_mean_deg:.2f} deg mean, {self.direction_max_deg:.2f} max ({self.worst_joint})"]
        if self.contact_frames:
            parts.append(f"feet {100 * self.foot_mean_m:.1f} cm mean, {100 * self.foot_max_m:.1f} max at {self.contact_frames} contacts")
        else:
            parts.append("no foot contacts")
        if np.isfinite(self.penetration_max_m):
            parts.append(
                f"penetration {100 * self.penetration_max_m:.1f} cm max (source {100 * self.source_penetration_max_m:.1f})"
            )
        parts.append(f"scale {self.leg_scale:.3f}")
        return "; ".join(parts)

    def as_dict(self) -> dict:
        """The fields as plain JSON: tuples as lists, NaN (not measured) as None."""
        return {k: list(v) if isinstance(v, tuple) else None if isinstance(v, float) and np.isnan(v) else v
                for k, v in self.__dict__.items()}


def direction_errors(plan: RetargetPlan, smpl: SmplWorld, solution: Solution) -> np.ndarray:
    """(T, M) degrees for the measured joints ``plan.measured_joints`` (M,)."""
    joints = plan.measured_joints
    bones = plan.bone_of_joint[joints]
    target = np.einsum("tmij,mj->tmi", solution.deltas[:, bones], plan.target_axis[joints])
    source = smpl.joints[:, plan.reference_child[joints]] - smpl.joints[:, joints]
    return angle_between_deg(target, source)


def score(plan: RetargetPlan, rest: WorldRest, smpl: SmplWorld, solution: Solution, missing=()) -> RetargetScore:
    errors = direction_errors(plan, smpl, solution)
    joints = plan.measured_joints
    if errors.size:
        worst = JOINT_NAMES[joints[int(np.argmax(errors.max(axis=0)))]]
        mean, top = float(errors.mean()), float(errors.max())
    else:
        worst, mean, top = "-", float("nan"), float("nan")
    feet = []
    for leg in plan.legs:
        planted = solution.contacts[leg.side].any(axis=1)
        feet.append(np.abs(foot_height_error(leg, rest, solution.heads))[planted])
    feet = np.concatenate(feet) if feet else np.zeros(0)
    return RetargetScore(
        direction_mean_deg=mean,
        direction_max_deg=top,
        worst_joint=worst,
        foot_mean_m=float(feet.mean()) if feet.size else float("nan"),
        foot_max_m=float(feet.max()) if feet.size else float("nan"),
        contact_frames=int(feet.size),
        leg_scale=solution.leg_scale,
        missing=tuple(missing),
    )


def target_joints(plan: RetargetPlan, smpl: SmplWorld, solution: Solution) -> np.ndarray:
    """(T, 22, 3) world positions standing in for SMPL's body joints on the target: the heads of
    the mapped bones; an unmapped joint sits at its SMPL offset from the nearest mapped ancestor
    joint, turned by that bone and scaled by the leg-length ratio."""
    return joints_on_rig(plan.bone_of_joint, solution.heads, solution.deltas, smpl.rest_joints,
                         solution.leg_scale, NUM_BODY_JOINTS)


def joints_on_rig(bone_of_joint: np.ndarray, heads: np.ndarray, deltas: np.ndarray, smpl_rest_joints: np.ndarray,
                  scale: float, count: int = NUM_JOINTS) -> np.ndarray:
    """(T, count, 3) SMPL's first ``count`` joints on a rig, world metres: a mapped joint at its
    bone's head; an unmapped one at its SMPL rest offset from the nearest mapped ancestor joint,
    times ``scale``, turned by that ancestor's bone.

    bone_of_joint: (24,) bone index per SMPL joint (-1 unmapped; the pelvis must be mapped);
    heads: (T, B, 3) bone heads, world; deltas: (T, B, 3, 3) each bone's world rotation relative
    to its rest; smpl_rest_joints: (24, 3) SMPL's rest joints in the rig's world frame.
    """
    T = heads.shape[0]
    out = np.empty((T, count, 3))
    for j in range(count):
        b = bone_of_joint[j]
        if b >= 0:
            out[:, j] = heads[:, b]
            continue
        a = PARENTS[j]
        while a >= 0 and bone_of_joint[a] < 0:
            a = PARENTS[a]
        offset = scale * (smpl_rest_joints[j] - smpl_rest_joints[a])
        out[:, j] = out[:, a] + deltas[:, bone_of_joint[a]] @ offset
    return out


FOLLOW_WARNING_DEG = 5.0  # Blender's evaluated pose this far from SMPL ...
FOLLOW_MARGIN_DEG = 1.0  # ... and this much farther than the keys themselves: something overrides them


def keys_overridden(evaluated_max_deg: float, keyed_max_deg: float) -> bool:
    """Whether Blender's evaluated pose strays more than :data:`FOLLOW_MARGIN_DEG` farther from
    the SMPL directions than the keys themselves (something on the rig overrides them)."""
    return evaluated_max_deg > keyed_max_deg + FOLLOW_MARGIN_DEG


def follow_warning(evaluated_max_deg: float, keyed_max_deg: float) -> str:
    """The warning for a rig whose evaluated pose in Blender strays more than
    :data:`FOLLOW_WARNING_DEG` from the SMPL directions, beyond what the keys themselves do
    (``keyed_max_deg``, the score's own maximum); "" if none."""
    if not (evaluated_max_deg > FOLLOW_WARNING_DEG and keys_overridden(evaluated_max_deg, keyed_max_deg)):
        return ""
    return (f"WARNING: the rig does not follow the keys ({evaluated_max_deg:.0f} deg in Blender): constraints or "
            "drivers override the keyed bones (on a generated Rigify rig, map its FK controls with the limbs on FK)")


PENETRATION_FRAMES = 400  # longer overlaps are sampled evenly: capsule distances cost O(T x 19^2)


def add_penetration(scores: list[RetargetScore], targets: list[np.ndarray], sources: list[np.ndarray],
                    offsets: list[int]) -> list[RetargetScore]:
    """Scores with the person-person penetration filled in.

    targets / sources: per person (T_i, 22, 3) world joints; offsets: each person's first frame
    on a shared timeline (persons are compared where they overlap, at most
    :data:`PENETRATION_FRAMES` evenly spaced frames of it). The targets' capsules are SMPL's
    times each score's ``leg_scale`` (a bigger avatar is a thicker one)."""
    if len(scores) < 2:
        return scores
    start = max(offsets)
    stop = min(o + len(t) for o, t in zip(offsets, targets))
    if stop <= start:
        return scores

    step = max(1, -(-(stop - start) // PENETRATION_FRAMES))

    def window(items):
        return np.stack([x[start - o : stop - o : step] for x, o in zip(items, offsets)])

    depth_target = penetration_depths(window(targets), scales=[item.leg_scale for item in scores])  # (pairs, T)
    depth_source = penetration_depths(window(sources))
    P = len(scores)
    pairs = [(a, b) for a in range(P) for b in range(a + 1, P)]
    out = []
    for person, item in enumerate(scores):
        rows = [k for k, pair in enumerate(pairs) if person in pair]
        mine, theirs = depth_target[rows].max(axis=0), depth_source[rows].max(axis=0)
        out.append(replace(
            item,
            penetration_max_m=float(max(mine.max(), 0.0)),
            penetration_fraction=float((mine > PENETRATION_TOLERANCE_M).mean()),
            source_penetration_max_m=float(max(theirs.max(), 0.0)),
        ))
    return out

