"""Bodies, not just pelvises, kept apart during sampling: no limb or torso inside another person.

``spacing.keep_apart`` keeps pelvises 0.6 m apart, but two people can stand at that distance
and still put a leg or a head into each other. ``keep_bodies_apart`` wraps the guided model
(``model(x_t, t) -> x0``) the same way and corrects every x0 prediction with the capsules the
evaluation scores (``eval.physical.penetration_depths``: one capsule per bone, radii
``eval.geometry.BONE_RADII``, the forearms left out because people touch with them). For each
pair of persons and frame, the deepest overlap depth d (r_a + r_b - segment distance, the
closest points of Ericson's segment test) is resolved in closed form: when d > -margin, both
persons move (d + margin) / 2 apart in the floor plane, along the closest points of the two
bones (shallow overlaps) or the pelvises (deep ones). A shift can make an overlap elsewhere
(the middle one of three people, an oblique limb), so each call runs a few such rounds; a limb
that crosses the other body between two frames asks for opposite directions in them, so after
CLOSEST_POINT_ROUNDS rounds every overlap parts along the pelvises, the way that always opens.
A steep overlap (one bone above the other) needs more floor-plane travel than its depth:
``_floor_distance``.

The capsules are those of the joints a rig will show: the decode (``motion.decode``) puts the
predicted rotations on the predicted pelvis path, and a small model's predicted joint positions
are often decimetres off that pose, so a separation measured on them would not hold on the rig.
With the frame rate the capsules include the decode's foot hold (legs turned by centimetres).

A pair may overlap for only a few frames (a step, a lean). Averaging the push over time like
``spacing.smooth_over_time`` would apply a fraction of it where it is needed, so the push is
first dilated (each frame takes the largest push within the window) and then averaged over the
same window: the full push where the overlap is, easing in and out over the neighbouring
frames, the per-frame change at most |push| / SPREAD_FRAMES (planted feet do not slide).
Rotations are untouched (a pure shift). Padded persons (``persons_valid`` False) are ignored.

Next to furniture an even split can push one person into a bed or chair (the shift comes
after ``keep_out``, so nothing would take them out again). Given the scene's height map (the
EscapeMap ``keep_out`` uses), a pair-frame whose half push would put one person's legs or
trunk (``keep_out.KEPT_OUT_JOINTS``) inside an obstacle while the whole push leaves the
other's free moves the other person only (``_furniture_share``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..eval.geometry import BONE_CHILDREN, BONE_PARENTS, BONE_RADII  # the metric's capsules (numpy only)
from ..eval.physical import FOREARM_CHILDREN
from ..motion.decode import decoded_pose
from .keep_out import KEPT_OUT_JOINTS, EscapeMap, depth_below_top
from ..skeleton import NUM_BODY_JOINTS
from .spacing import Model, shift_guidance

MARGIN_M = 0.0  # resolved capsules just touch: the metric's 2 cm tolerance covers what the last round
# leaves, and a wider gap costs contact (bodies touching are what an interaction is made of)
ITERATIONS = 20  # push + apply rounds per x0 prediction at most (a shift can make an overlap elsewhere; a
# split that moves one person only, next to furniture, can take more than 10 rounds to settle)
CLOSEST_POINT_ROUNDS = 2  # rounds that part overlaps along their closest points; later ones along the pelvises
SPREAD_FRAMES = 21  # a push eases in and out over this many frames (2.1 s at 10 fps, like spacing)
_SETTLED_M = 1e-3  # rounds stop once no push is larger than this
_KEPT_OUT = list(KEPT_OUT_JOINTS)  # the joints a push must not put into furniture (keep_out's)
_DIRECTION_EPS_M = 1e-3  # closest points nearer than this in the floor plane give no direction



class ClosestPoints(NamedTuple):
    """distance (...) metres between two segments; first, second (..., 3): the closest point on each."""

    distance: Tensor
    first: Tensor
    second: Tensor


def closest_points(p1: Tensor, q1: Tensor, p2: Tensor, q2: Tensor) -> ClosestPoints:
    """Closest points of segments [p1, q1] and [p2, q2]; inputs (..., 3) broadcast, metres.

    Ericson 2005, *Real-Time Collision Detection* §5.1.9: points p1 + s·d1 and p2 + t·d2 with
    s, t in [0, 1] minimising |r + s·d1 - t·d2|², r = p1 - p2; first the infinite lines, then
    s clamped, t recomputed for that s and clamped, s recomputed. Parallel segments start from
    s = 0 (any s is a minimiser of the lines); a zero-length segment is a point (parameter 0).
    """
    p1, q1, p2, q2 = torch.broadcast_tensors(p1, q1, p2, q2)
    eps = torch.finfo(p1.dtype).eps
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = (d1 * d1).sum(-1)  # |d1|²
    e = (d2 * d2).sum(-1)  # |d2|²
    b = (d1 * d2).sum(-1)
    c = (d1 * r).sum(-1)
    f = (d2 * r).sum(-1)
    point1, point2 = a <= eps**2, e <= eps**2
    safe_a = torch.where(point1, torch.ones_like(a), a)
    safe_e = torch.where(point2, torch.ones_like(e), e)
    # 1. Closest points of the infinite lines; s = 0 when they are (nearly) parallel.
    denom = a * e - b * b
    parallel = denom <= eps * (a * e).clamp_min(eps**2)
    s = torch.where(parallel, torch.zeros_like(a), ((b * f - c * e) / torch.where(parallel, torch.ones_like(a), denom)))
    s = s.clamp(0.0, 1.0)
    # 2. The point of segment 2 nearest to p1 + s·d1; where it had to be clamped, s moves again.
    t = (b * s + f) / safe_e
    s = torch.where(t < 0.0, (-c / safe_a).clamp(0.0, 1.0), torch.where(t > 1.0, ((b - c) / safe_a).clamp(0.0, 1.0), s))
    t = t.clamp(0.0, 1.0)
    # 3. Degenerate segments: a point's parameter is 0, the other's is the projection onto it.
    s = torch.where(point1, torch.zeros_like(s), s)
    t = torch.where(point1 & ~point2, (f / safe_e).clamp(0.0, 1.0), t)
    s = torch.where(point2 & ~point1, (-c / safe_a).clamp(0.0, 1.0), s)
    t = torch.where(point2, torch.zeros_like(t), t)
    first = p1 + s[..., None] * d1
    second = p2 + t[..., None] * d2
    return ClosestPoints(distance=(first - second).norm(dim=-1), first=first, second=second)


Obstacles = list["tuple[Tensor, Tensor] | None"]  # per batch row: a height map's (origin (2,), top (X, Y)) or None


def body_push(joints: Tensor, valid: Tensor, margin_m: float = MARGIN_M, pairs: Tensor | None = None,
              along_pelvis: bool = False, obstacles: Obstacles | None = None) -> Tensor:
    """(B, P, T, 22, 3) joints (m), (B, P) valid -> (B, P, T, 2) floor-plane shifts (m).

    Each pair-frame whose deepest capsule overlap d (forearms left out) exceeds -margin_m
    moves both persons apart in the floor plane, each by half of what opens it (d + margin_m
    where the gap is level, :func:`_floor_distance`; the direction: :func:`_floor_direction`). Pairs add up (P = 3). pairs: (B, P, P, T) bool, the pair-frames
    to look at ([:, a, b] for a < b), or None: all. along_pelvis: every overlap parts along the
    pelvises (the direction that separates two bodies whatever their limbs do). obstacles: the
    rows' height maps, or None; with one, a pair-frame's push is split so that nobody goes into
    furniture where the other can take the whole push (:func:`_furniture_share`).
    """
    B, P, T = joints.shape[:3]
    push = torch.zeros(B, P, T, 2, dtype=joints.dtype, device=joints.device)
    kept = ~np.isin(BONE_CHILDREN, FOREARM_CHILDREN)  # (21,) -> K = 19 bones
    start = joints[..., BONE_PARENTS[kept].tolist(), :]  # (B, P, T, K, 3)
    end = joints[..., BONE_CHILDREN[kept].tolist(), :]
    radius = torch.as_tensor(BONE_RADII[kept], dtype=joints.dtype, device=joints.device)
    # Each person-frame's bounding box with its capsules: far-apart pairs are never looked at.
    low = torch.minimum(start, end).amin(dim=-2) - float(radius.max())  # (B, P, T, 3)
    high = torch.maximum(start, end).amax(dim=-2) + float(radius.max())
    valid = valid.to(torch.bool)
    for a in range(P):
        for b in range(a + 1, P):
            gap = torch.maximum(low[:, a] - high[:, b], low[:, b] - high[:, a]).amax(dim=-1)  # (B, T)
            near = (gap < margin_m) & (valid[:, a] & valid[:, b])[:, None]
            if pairs is not None:
                near &= pairs[:, a, b]
            rows, frames = near.nonzero(as_tuple=True)  # N candidate pair-frames
            if len(rows) == 0:
                continue
            depth, between = deepest_overlap(start[rows, a, frames], end[rows, a, frames],
                                             start[rows, b, frames], end[rows, b, frames], radius, margin_m)
            pelvis_gap = joints[rows, a, frames, 0, :2] - joints[rows, b, frames, 0, :2]
            direction, shallow = _floor_direction(between, depth, pelvis_gap, along_pelvis)
            distance = _floor_distance(between, depth, margin_m, shallow)
            amount = distance[:, None] * direction  # what opens the pair: a's move plus b's
            share = torch.full_like(distance, 0.5)  # a's part of it
            if obstacles is not None:
                share = _furniture_share(joints[rows, a, frames][:, _KEPT_OUT], joints[rows, b, frames][:, _KEPT_OUT],
                                         amount, rows, obstacles)
            push[rows, a, frames] += share[:, None] * amount
            push[rows, b, frames] -= (1.0 - share)[:, None] * amount
    return push


def _furniture_share(legs_a: Tensor, legs_b: Tensor, amount: Tensor, rows: Tensor, obstacles: Obstacles) -> Tensor:
    """Kept-out joints (N, L, 3) m of persons a and b in N pair-frames, amount (N, 2) m: a's move
    plus b's (a moves along it, b against it), rows (N,) their batch rows -> (N,) a's share of
    the move: 0.5, or 0 where a's half would put one of a's joints inside furniture and b's whole
    move leaves b's free, or 1 the other way round."""
    share = torch.full((len(rows),), 0.5, dtype=amount.dtype, device=amount.device)
    for row in torch.unique(rows).tolist():
        if obstacles[row] is None:
            continue
        origin, top = obstacles[row]
        chosen = rows == row

        def inside(legs: Tensor, move: Tensor) -> Tensor:
            moved = legs[chosen].clone()
            moved[..., :2] += move[chosen][:, None]
            return depth_below_top(moved, origin, top)[1].any(dim=-1)

        a_half, a_whole = inside(legs_a, 0.5 * amount), inside(legs_a, amount)
        b_half, b_whole = inside(legs_b, -0.5 * amount), inside(legs_b, -amount)
        share[chosen] = torch.where(a_half & ~b_whole, 0.0, torch.where(b_half & ~a_whole, 1.0, 0.5)).to(share)
    return share


def deepest_overlap(start_a: Tensor, end_a: Tensor, start_b: Tensor, end_b: Tensor, radius: Tensor,
                    reach_m: float) -> tuple[Tensor, Tensor]:
    """Two persons' bones in N frames, (N, K, 3) each (m), radius (K,) m -> (depth (N,), gap (N, 3)).

    depth: the deepest capsule overlap r_i + r_j - distance over bone pairs (i of a, j of b),
    exact where it is > -reach_m (-inf where no bone pair comes that close); gap: a's closest
    point minus b's for that bone pair (zeros where depth is -inf).
    """
    N, K = start_a.shape[:2]
    # 1. Broad phase: bone pairs whose bounding spheres (midpoint, half length + radius) are
    # further apart than reach_m cannot overlap by more than -reach_m.
    centre_a, centre_b = (start_a + end_a) / 2, (start_b + end_b) / 2
    bound_a = (end_a - start_a).norm(dim=-1) / 2 + radius  # (N, K)
    bound_b = (end_b - start_b).norm(dim=-1) / 2 + radius
    limit = bound_a[:, :, None] + bound_b[:, None, :] + reach_m  # (N, K, K)
    # |c_a - c_b|² as |c_a|² + |c_b|² - 2 c_a·c_b (one batched product instead of (N, K, K, 3)
    # differences); the 1 mm slack covers its rounding.
    square = ((centre_a**2).sum(-1)[:, :, None] + (centre_b**2).sum(-1)[:, None, :]
              - 2 * centre_a @ centre_b.transpose(1, 2))  # (N, K, K)
    close = square < (limit + 1e-3).clamp_min(0.0) ** 2
    frame, i, j = close.nonzero(as_tuple=True)  # M candidate bone pairs
    # 2. Narrow phase on the candidates, then the deepest of each frame.
    pair = closest_points(start_a[frame, i], end_a[frame, i], start_b[frame, j], end_b[frame, j])  # (M,)
    key = (frame * K + i) * K + j
    depths = torch.full((N * K * K,), -torch.inf, dtype=start_a.dtype, device=start_a.device)
    depths[key] = radius[i] + radius[j] - pair.distance
    depth, deepest = depths.view(N, K * K).max(dim=-1)
    slot = torch.full((N * K * K,), -1, dtype=torch.long, device=start_a.device)
    slot[key] = torch.arange(len(key), device=start_a.device)
    chosen = slot[torch.arange(N, device=start_a.device) * K * K + deepest]  # (N,), -1: none close
    gap = (pair.first - pair.second)[chosen.clamp_min(0)] if len(key) else torch.zeros_like(start_a[:, 0])
    return depth, torch.where((chosen >= 0)[:, None], gap, torch.zeros_like(gap))


def spread_over_time(push: Tensor, frames: int = SPREAD_FRAMES) -> Tensor:
    """(B, P, T, 2) pushes (m) -> the same, dilated then averaged over a centred window of
    ``frames`` (odd; the ends repeat the first and last frame): every frame keeps at least the
    largest push within half a window, if the pushes near it point the same way, and for pushes
    in one direction the change per frame is at most max |push| / frames."""
    B, P, T, C = push.shape
    if T < 2:
        return push
    half = frames // 2
    # 1. Dilation: each frame takes the largest-magnitude push of its window (pads never win).
    magnitude = torch.nn.functional.pad(push.norm(dim=-1), (half, half), value=-1.0)  # (B, P, T + 2·half)
    chosen = magnitude.unfold(-1, 2 * half + 1, 1).argmax(dim=-1)  # (B, P, T): offset in the window
    source = (torch.arange(T, device=push.device) + chosen - half).clamp(0, T - 1)
    dilated = torch.gather(push, 2, source[..., None].expand(B, P, T, C))
    # 2. The same window's mean, ends repeated (averaging only what exists would steepen the
    # ramp near a clip's ends): the push eases in and out around the frames that need it.
    series = dilated.permute(0, 1, 3, 2).reshape(B * P, C, T)
    padded = torch.nn.functional.pad(series, (half, half), mode="replicate")
    return padded.unfold(-1, 2 * half + 1, 1).mean(dim=-1).reshape(B, P, C, T).permute(0, 1, 3, 2)


def separating_shift(joints: Tensor, valid: Tensor, margin_m: float = MARGIN_M, iterations: int = ITERATIONS,
                     frames_valid: Tensor | None = None, obstacles: Obstacles | None = None) -> Tensor:
    """(B, P, T, 22, 3) joints (m), (B, P) valid -> (B, P, T, 2) the total floor-plane shift (m)
    of up to ``iterations`` rounds of body_push + spread_over_time, each round seeing the joints
    moved by the rounds before it (they stop when every push is under 1 mm). frames_valid:
    (B, T) bool or None; padded frames push no one (they still take the spread of the real
    frames next to them). obstacles: see :func:`body_push`."""
    total = torch.zeros(*joints.shape[:3], 2, dtype=joints.dtype, device=joints.device)
    pairs = None  # the first round looks at every pair-frame
    for round_ in range(iterations):
        moved = joints.clone()
        moved[..., :2] += total[..., None, :]
        push = body_push(moved, valid, margin_m, pairs, along_pelvis=round_ >= CLOSEST_POINT_ROUNDS,
                         obstacles=obstacles)
        if frames_valid is not None:
            push = push * frames_valid.to(push)[:, None, :, None]
        if push.abs().max() < _SETTLED_M:  # nothing left that a rig would show
            break
        step = spread_over_time(push)
        total = total + step
        # A pair's overlap depends on where its two persons are relative to each other only:
        # the next round looks again where that changed.
        pairs = (step[:, :, None] - step[:, None]).abs().amax(dim=-1) > 1e-6  # (B, P, P, T)
    return total


def keep_bodies_apart(model: Model, mean: np.ndarray, std: np.ndarray, persons_valid: Tensor,
                      margin_m: float = MARGIN_M, iterations: int = ITERATIONS, *,
                      rest_joints: np.ndarray | None = None, frames_valid: Tensor | None = None,
                      fps: float | None = None, maps: list[EscapeMap | None] | None = None) -> Model:
    """``model`` whose x0 (B, P, T, F), normalised, has valid persons' bone capsules apart
    (deepest overlap <= -margin_m, forearms left out) after ``iterations`` rounds.

    mean, std: (F,) the checkpoint's normalisation statistics (features = x * std + mean, metres);
    persons_valid: (B, P) bool; frames_valid: (B, T) bool or None (all frames real); fps: the
    clip's frame rate, for the decode's foot hold (None: without it).
    rest_joints: (24, 3) metres, the skeleton generation decodes onto, or None. Given, the
    capsules are those of the decoded joints (``motion.decode.decoded_pose``: what a rig
    shows), not of the predicted positions, which can be decimetres off the rig's pose. A
    floor-plane shift commutes with that decode (the pelvis carries the shift; rotations and
    heights are untouched; the foot hold reads foot speeds, which a push eased over
    SPREAD_FRAMES changes little), so one decode per call suffices and the shift found on the
    decoded joints is the one the rig gets.
    maps: one ``keep_out.EscapeMap`` (or None: no scene) per batch row, or None: pushes are split
    so that they put nobody into furniture (:func:`body_push`).
    """
    mean64, std64 = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    valid = persons_valid.to(torch.bool)
    grids = None if maps is None or all(m is None for m in maps) else [
        None if m is None else (torch.as_tensor(m.origin), torch.as_tensor(m.top)) for m in maps]

    def push(x0: Tensor, positions: Tensor) -> Tensor:
        joints = positions.reshape(*positions.shape[:3], NUM_BODY_JOINTS, 3)
        frames = None if frames_valid is None else frames_valid.to(x0.device)
        if rest_joints is not None:
            features = x0.detach().to("cpu", torch.float64).numpy() * std64 + mean64
            joints = _decoded(features, joints, valid, frames_valid, rest_joints, fps)
        obstacles = None if grids is None else [
            None if g is None else (g[0].to(joints), g[1].to(joints)) for g in grids]
        return separating_shift(joints, valid.to(x0.device), margin_m, iterations, frames, obstacles)

    return shift_guidance(model, mean, std, push, min_persons=2)


def _decoded(features: np.ndarray, joints: Tensor, valid: Tensor, frames_valid: Tensor | None,
             rest_joints: np.ndarray, fps: float | None = None) -> Tensor:
    """(B, P, T, 264) un-normalised features -> (B, P, T, 22, 3) ``joints`` with the decoded
    joints of every valid person in a row with two or more (their real frames only)."""
    out = joints.clone()
    lengths = [features.shape[2]] * len(features) if frames_valid is None else frames_valid.sum(-1).tolist()
    for row, persons in enumerate(valid.tolist()):
        if sum(persons) < 2:
            continue
        for person in (p for p, real in enumerate(persons) if real):
            pose = decoded_pose(features[row, person, : int(lengths[row])], rest_joints, fps)[2]  # (T, 22, 3)
            out[row, person, : len(pose)] = torch.as_tensor(pose, dtype=out.dtype, device=out.device)
    return out


def _floor_distance(gap: Tensor, depth: Tensor, margin_m: float, shallow: Tensor) -> Tensor:
    """(N,) metres the two persons move apart in the floor plane, in total, for overlaps ``depth``
    (N,) between closest points ``gap`` (N, 3) apart (a's minus b's); shallow (N, 1) bool: parting
    along the closest points' floor-plane direction (else along the pelvises).

    Along the pelvises, depth + margin. Along the closest points, what brings them R = r_a + r_b +
    margin apart when only their floor-plane offset h = |gap_xy| grows: sqrt(R² - gap_z²) - h.
    That is depth + margin when the gap is level, and more when it is steep (a head above a
    shoulder, an arm across a lap), where moving by the depth alone would hardly open it.
    """
    overlapping = depth > -margin_m
    reach = torch.where(overlapping, depth + gap.norm(dim=-1) + margin_m, torch.zeros_like(depth))  # R
    level = (reach**2 - gap[..., 2] ** 2).clamp_min(0.0).sqrt() - gap[..., :2].norm(dim=-1)
    straight = (depth + margin_m).clamp_min(0.0)
    return torch.where(shallow[..., 0] & overlapping, level.clamp_min(0.0), straight)


def _floor_direction(gap: Tensor, depth: Tensor, pelvis_gap: Tensor, along_pelvis: bool = False
                     ) -> tuple[Tensor, Tensor]:
    """gap (N, 3): a's closest point minus b's, depth (N,) their overlap (m), pelvis_gap (N, 2)
    a's pelvis minus b's -> (N, 2) unit floor-plane directions in which a moves (b the other way).

    Shallow overlaps (the bones further apart than the overlap is deep: a limb against a torso,
    an arm behind the other's back) part along the closest points, the way out that moves
    least. Deep ones (bones crossing inside each other, whose closest points jump about from
    frame to frame, so that pushes along them would average away over time) part along the
    pelvis difference; where either is ~zero in the floor plane, the next; -x last (a has the
    lower index). along_pelvis: none is shallow. Returns (directions, shallow (N, 1) bool: along the
    closest points).
    """
    fallback = torch.zeros_like(pelvis_gap)
    fallback[..., 0] = -1.0
    floor, floor_length = gap[..., :2], gap[..., :2].norm(dim=-1, keepdim=True)
    pelvis_length = pelvis_gap.norm(dim=-1, keepdim=True)
    direction = torch.where(pelvis_length > _DIRECTION_EPS_M, pelvis_gap / pelvis_length.clamp_min(1e-12), fallback)
    shallow = (gap.norm(dim=-1, keepdim=True) >= depth[..., None]) & (floor_length > _DIRECTION_EPS_M)
    shallow &= not along_pelvis
    return torch.where(shallow, floor / floor_length.clamp_min(1e-12), direction), shallow
