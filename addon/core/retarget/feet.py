"""Foot contacts of the SMPL source and the planted-foot clean-up on the target.

Contacts (source): a foot joint (ankle or toe) is planted at frame t when it is within
:data:`CONTACT_HEIGHT_M` of its lowest height in the clip, that lowest height is at most
:data:`MAX_GROUND_M` above the floor (feet that never touch the floor have no contacts), and
it moves slower than :data:`CONTACT_SPEED_M_S` horizontally.

Foot height: how far a foot's lowest joint is above where it rests on the floor. For the
target that is the joint's rest height above the avatar's floor; for the source it is the
joint's height above the world floor (z = 0) minus its height when SMPL stands on flat feet
(:func:`.smpl_world.standing_heights`), never a statistic of the clip.

Clean-up (target): while a foot is planted, the planted joint follows the source's planted
joint (times the leg-length ratio) from where the target's joint is on average during that
contact, so a foot the source holds still does not slide on the target after scaling; and
the foot is raised or lowered into the band between the source's foot height and that
times the leg-length ratio, give or take :data:`HEIGHT_TOLERANCE_M` (never below the floor).
A scaled copy of the source does both by itself, so only what the retarget changed is
corrected (removing the source's own slides would bend a nearly straight stance leg a lot
for a few millimetres). The vertical shift both feet share goes to the pelvis; what is left
fades out over :data:`RAMP_S` around each contact and is reached by turning thigh and shin
(two-bone IK, the knee kept in its plane; the foot keeps its world orientation); a deeply
folded leg's bones are turned at most :data:`MAX_TURN_DEG` (its foot keeps part of its slide).
Where a leg cannot reach, the pelvis is lowered first.
"""

from __future__ import annotations

import numpy as np

from ..time_series import runs
from .plan import Leg, RetargetPlan
from .rig import WorldRest
from .rotmath import swing, unit
from .smpl_world import FEET, SmplWorld, standing_heights

CONTACT_HEIGHT_M = 0.01
CONTACT_SPEED_M_S = 0.15
MAX_GROUND_M = 0.15
RAMP_S = 0.2
HEIGHT_TOLERANCE_M = 0.003
_REACH = 0.9995  # never straighten a leg completely: the knee direction would be undefined
# A deeply folded leg (kneeling, squatting: the ankle within FOLDED of the leg's length from
# the hip) turns tens of degrees for a centimetre at the ankle: there the clean-up turns its
# thigh or shin at most MAX_TURN_DEG, and the foot keeps the rest of its slide (a kneeling
# helper's knee jumped 32 degrees for one frame to hold an ankle 2.8 cm). Legs less folded are
# turned as far as their feet need (a walk on an avatar whose path is not scaled needs more).
FOLDED = 0.35
MAX_TURN_DEG = 10.0


def foot_contacts(smpl: SmplWorld) -> dict[str, np.ndarray]:
    """side -> (T, 2) bool: is the (ankle, toe) joint of that foot planted at each frame."""
    joints = smpl.joints
    out = {}
    for side, (_, _, ankle, toe) in FEET.items():
        columns = []
        for k in (ankle, toe):
            z = joints[:, k, 2]
            ground = float(z.min())
            if ground > MAX_GROUND_M or len(z) < 2:
                columns.append(np.zeros(len(z), dtype=bool))
                continue
            velocity = np.gradient(joints[:, k, :2], axis=0) * smpl.fps
            speed = np.linalg.norm(velocity, axis=1)
            columns.append((z - ground < CONTACT_HEIGHT_M) & (speed < CONTACT_SPEED_M_S))
        out[side] = np.stack(columns, axis=1)
    return out


def source_foot_height(smpl: SmplWorld, side: str, with_toe: bool = True) -> np.ndarray:
    """(T,) metres: the source foot's lowest joint above where it is when SMPL stands on flat
    feet on the world floor (:func:`.smpl_world.standing_heights`)."""
    _, _, ankle, toe = FEET[side]
    joints = [ankle, toe] if with_toe else [ankle]
    standing = standing_heights(smpl.rest_joints)[joints]
    return (smpl.joints[:, joints, 2] - standing).min(axis=1)


def clearance(rest: WorldRest, bone: int) -> float:
    """A foot bone's rest head height above the target's own floor (``rest.floor_z``), >= 0."""
    return max(float(rest.heads[bone, 2] - rest.floor_z), 0.0)


def foot_height_error(leg: Leg, rest: WorldRest, heads: np.ndarray) -> np.ndarray:
    """(T,) metres: how far the foot's lowest joint is above (+) or below (-) its rest height."""
    heights = [heads[:, leg.foot, 2] - clearance(rest, leg.foot)]
    if leg.toe >= 0:
        heights.append(heads[:, leg.toe, 2] - clearance(rest, leg.toe))
    return np.min(np.stack(heights), axis=0)


def _ramp(offsets: np.ndarray, active: np.ndarray, frames: int) -> np.ndarray:
    """Spread each contact frame's offset to its neighbours, fading linearly over ``frames``."""
    T = len(active)
    if frames <= 0 or not active.any():
        return offsets
    index = np.arange(T)
    contact_index = np.flatnonzero(active)
    nearest = contact_index[np.clip(np.searchsorted(contact_index, index), 0, len(contact_index) - 1)]
    before = contact_index[np.clip(np.searchsorted(contact_index, index) - 1, 0, len(contact_index) - 1)]
    nearest = np.where(np.abs(before - index) < np.abs(nearest - index), before, nearest)
    distance = np.abs(nearest - index)
    weight = np.clip(1.0 - distance / (frames + 1.0), 0.0, 1.0)
    return offsets[nearest] * weight[:, None]


def ankle_offsets(leg: Leg, contacts: np.ndarray, rest: WorldRest, heads: np.ndarray,
                  height: np.ndarray, source_xy: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(offsets (T, 3), planted (T,)): the world shift of the ankle that plants the foot at
    each contact frame (zeros elsewhere).

    height: (T,) the source's foot height (m): the target's may lie between it and ``scale``
    times it, give or take :data:`HEIGHT_TOLERANCE_M`, never below the floor (both are right:
    a planted foot is on the floor, and a scaled body lifts its feet more; tolerating the
    band keeps straight stance legs from being bent for a millimetre); source_xy: (T, 2, 2) the source's
    (ankle, toe) horizontal positions: during a contact the planted target joint follows the
    source's planted joint, scaled (so a source that holds its foot still holds the target's
    still), from where the target's joint is on average.
    """
    ankle_c = contacts[:, 0]
    toe_c = contacts[:, 1] & (leg.toe >= 0)
    planted = ankle_c | contacts[:, 1]
    use_toe = toe_c & ~ankle_c
    offsets = np.zeros((len(planted), 3))
    current = foot_height_error(leg, rest, heads)
    low = np.maximum(np.minimum(height, scale * height) - HEIGHT_TOLERANCE_M, 0.0)
    high = np.maximum(np.maximum(height, scale * height) + HEIGHT_TOLERANCE_M, low)
    offsets[:, 2] = np.where(planted, np.clip(current, low, high) - current, 0.0)
    ankle_xy = heads[:, leg.foot, :2]
    toe_xy = heads[:, leg.toe, :2] if leg.toe >= 0 else ankle_xy
    for start, stop in runs(planted):
        frames = np.arange(start, stop)
        for mask, xy, k in ((~use_toe[frames], ankle_xy, 0), (use_toe[frames], toe_xy, 1)):
            held = frames[mask]
            if len(held):
                path = scale * (source_xy[held, k] - source_xy[held[0], k])
                offsets[held, :2] = (xy[held] - path).mean(axis=0) + path - xy[held]
    return offsets, planted


def plant_feet(
    plan: RetargetPlan,
    rest: WorldRest,
    smpl: SmplWorld,
    deltas: np.ndarray,
    heads: np.ndarray,
    root_position: np.ndarray,
    contacts: dict[str, np.ndarray],
    scale: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(deltas (T, B, 3, 3), root_position (T, 3)) with planted feet; inputs are not modified.

    heads: (T, B, 3) world bone heads from ``deltas`` and ``root_position``; scale: the
    leg-length ratio the source's foot paths during contacts are multiplied by.

    1. The pelvis takes the vertical shift the planted feet share (their mean, interpolated
       between contacts), so legs are not bent just to move the whole body up or down.
    2. Where a leg still cannot reach its planted ankle, the pelvis is lowered.
    3. Two-bone IK turns thigh and shin for the rest (the horizontal hold, one-sided heights).
    """
    deltas = deltas.copy()
    root_position = root_position.copy()
    T = len(root_position)
    legs = []
    for leg in plan.legs:
        height = source_foot_height(smpl, leg.side, leg.toe >= 0)
        _, _, ankle, toe = FEET[leg.side]
        source_xy = smpl.joints[:, [ankle, toe], :2]
        legs.append((leg, *ankle_offsets(leg, contacts[leg.side], rest, heads, height, source_xy, scale)))
    legs = [item for item in legs if item[2].any()]
    if not legs:
        return deltas, root_position
    # 1. The shared vertical shift, on the pelvis.
    planted_count = sum(planted.astype(float) for _, _, planted in legs)
    shared = sum(offsets[:, 2] for _, offsets, _ in legs) / np.maximum(planted_count, 1.0)
    some = planted_count > 0
    shared = np.interp(np.arange(T), np.flatnonzero(some), shared[some])
    lifted = heads.copy()
    lifted[..., 2] += shared[:, None]  # every bone below the pelvis moves with it
    root_position[:, 2] += shared
    ramp = int(round(RAMP_S * smpl.fps))
    shifts = []
    for leg, offsets, planted in legs:
        offsets = offsets.copy()
        offsets[:, 2] = np.where(planted, offsets[:, 2] - shared, 0.0)
        shifts.append((leg, _ramp(offsets, planted, ramp)))
    # 2. Lower the pelvis where a leg cannot reach its planted ankle.
    drop = np.zeros(T)
    for leg, shift in shifts:
        reach = _REACH * _leg_length(leg, rest)
        v = lifted[:, leg.foot] + shift - lifted[:, leg.thigh]
        too_far = np.linalg.norm(v, axis=1) > reach
        vz = v[:, 2]
        disc = vz**2 - (np.sum(v * v, axis=1) - reach**2)
        need = np.where(disc >= 0, -vz - np.sqrt(np.maximum(disc, 0.0)), -vz)
        drop = np.maximum(drop, np.where(too_far, np.maximum(need, 0.0), 0.0))
    root_position[:, 2] -= drop
    lowered = lifted.copy()
    lowered[..., 2] -= drop[:, None]
    # 3. Two-bone IK per leg, where the ankle moves.
    forward = smpl.forward()
    for leg, shift in shifts:
        frames = np.flatnonzero(np.abs(shift).max(axis=1) > 0)
        if not len(frames):
            continue
        H, K, A = (lowered[frames, b] for b in (leg.thigh, leg.shin, leg.foot))
        goal = lifted[frames, leg.foot] + shift[frames]
        R1, R2 = _bounded_two_bone(H, K, A, goal, forward[frames])
        deltas[np.ix_(frames, leg.thigh_chain)] = R1[:, None] @ deltas[np.ix_(frames, leg.thigh_chain)]
        deltas[np.ix_(frames, leg.shin_chain)] = (R2 @ R1)[:, None] @ deltas[np.ix_(frames, leg.shin_chain)]
    return deltas, root_position


def _leg_length(leg: Leg, rest: WorldRest) -> float:
    h = rest.heads
    return float(np.linalg.norm(h[leg.shin] - h[leg.thigh]) + np.linalg.norm(h[leg.foot] - h[leg.shin]))


def _bounded_two_bone(H, K, A, goal, forward) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_two_bone` towards ``goal``; for a leg folded deeper than :data:`FOLDED` (before or
    after), where that would turn the thigh or the shin more than :data:`MAX_TURN_DEG`, towards
    a fraction of the way there (halved until it does not: 1, 1/2 ... 1/64, then not at all)."""
    length = np.linalg.norm(K - H, axis=1) + np.linalg.norm(A - K, axis=1)
    near = np.minimum(np.linalg.norm(A - H, axis=1), np.linalg.norm(goal - H, axis=1))
    folded = near < FOLDED * length
    fraction = np.ones(len(H))
    for _ in range(7):
        R1, R2 = _two_bone(H, K, A, A + fraction[:, None] * (goal - A), forward)
        over = folded & (np.maximum(_turn_deg(R1), _turn_deg(R2 @ R1)) > MAX_TURN_DEG)
        if not over.any():
            return R1, R2
        fraction[over] *= 0.5
    fraction[over] = 0.0
    return _two_bone(H, K, A, A + fraction[:, None] * (goal - A), forward)


def _turn_deg(R: np.ndarray) -> np.ndarray:
    """(N,) the rotation angle of (N, 3, 3) rotations, degrees."""
    cosine = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _two_bone(H, K, A, goal, forward) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (N, 3, 3) of the thigh (about the hip) and then the shin (about the
    new knee) that bring ankle A to ``goal`` with the knee in its current bend plane."""
    L1 = np.linalg.norm(K - H, axis=1)
    L2 = np.linalg.norm(A - K, axis=1)
    v = goal - H
    u = unit(v)
    d = np.clip(np.linalg.norm(v, axis=1), np.abs(L1 - L2) + 1e-6, _REACH * (L1 + L2))
    pole = (K - H) - np.sum((K - H) * u, axis=1, keepdims=True) * u
    straight = np.linalg.norm(pole, axis=1) < 1e-6 * np.maximum(L1, 1e-9)
    fallback = forward - np.sum(forward * u, axis=1, keepdims=True) * u
    pole = unit(np.where(straight[:, None], fallback, pole))
    a = (L1**2 - L2**2 + d**2) / (2 * d)
    h = np.sqrt(np.maximum(L1**2 - a**2, 0.0))
    knee = H + a[:, None] * u + h[:, None] * pole
    ankle = H + d[:, None] * u
    R1 = swing(K - H, knee - H)
    R2 = swing(np.einsum("nij,nj->ni", R1, A - K), ankle - knee)
    return R1, R2
