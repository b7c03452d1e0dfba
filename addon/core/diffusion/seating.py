"""Sitters onto chairs: a person the model sits down beside a chair is moved so that they sit on it.

The scene tokens tell the model roughly where the furniture is, but the bundled CPU-trained
model sits "the patient sits down on the chair" half a metre to three metres from the chair, in
mid-air, turning on the spot while it sits, with the feet tucked under the pelvis where a chair
(solid to the floor in the procedural rooms and in the height map) has no room for them: on the
evaluation's held-out test scenes 0 to 18 of its 40 to 114 sitting frames in sit-on-a-chair
clips had the pelvis on a seat (real clips: 77 of 78). Pulling the sitting frames alone onto
the chair, over time, during sampling (tried) made the feet slide; so did this module's moves
when they were applied to every x0 prediction (the model answered the moved predictions with
ever wilder sitters: foot skating 0.3 in those clips). :func:`seat_sitters` therefore runs once,
on the sampler's result (``corrections.Corrections.finish``), for the rows whose prompt was
understood as an action in which someone sits on a chair (``labels.ON_CHAIR_SCRIPTS``). It takes
each person who may sit there (:func:`sitting_persons`) whose longest run of sitting frames
(``motion.sitting``, runs at most GAP_FRAMES apart joined) lasts MIN_SIT_S or more, picks the
nearest chair within SIT_REACH_M of the run's mean pelvis, and

1. moves the person's whole clip rigidly, the same for every frame, so that no foot slides that
   did not slide before: a shift along the floor that puts the run's mean ankles
   ANKLE_AHEAD_M ahead of the sitting place, where a sitter's feet stand (the procedural
   sitters': 0.32-0.38 m ahead of the pelvis), then the smallest of TURNS_DEG about the
   vertical through that point that keeps the frames before and after the sitting out of the
   furniture and inside the room (``placement.HeightMap.blocked``);
2. sits the body down on the seat: over the run, eased in over the 2 x SETTLE_EASE_FRAMES
   frames before it and out over as many after (the sitting down and getting up;
   ``time_series.eased_peaks``), the pelvis goes to the sitting place,
   SIT_ABOVE_M above the seat's top, the root turns to face the way a sitter on that chair
   faces (away from its backrest; a stool keeps the body's way), and each leg turns at hip
   and knee (two-bone IK, the knee bending forwards) to put the ankle on the floor
   ANKLE_AHEAD_M ahead of the place, HALF_STANCE_M to its side, the foot nearly flat; a foot
   on its way there is lifted by up to STEP_M, as in a step. Seated, pelvis and feet are still.

Chairs come from the scene's height map (``core.placement.height_map``): connected cells with
tops between SEAT_MIN_M and SEAT_MAX_M covering SEAT_AREA_M2 to CHAIR_AREA_M2 (larger surfaces
are beds). A chair's backrest is what stands BACKREST_ABOVE_M above the seat within
BACKREST_CELLS of its edge. The sitting place is the seat's middle, moved forward by the
first of PLACE_FORWARD_M that leaves none of the trunk's joints inside the furniture (a sitter
who leans back would otherwise sit in the backrest).

On the 128 held-out test requests (default sampler) the sit-on-a-chair clips' sitting frames on
a seat went from 18 of 114 to 104 of 120 and foot skating over all clips from 0.0181 to 0.0171
(side runs; reports/eval.md has the evaluation's own figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from ..motion.decode import decoded_pose
from ..motion.foot_lock import LEGS
from ..motion.joint_ik import BODY_PARENTS, two_bone_ik
from ..motion.leg_reach import ANKLE_ABOVE_M
from ..motion.representation import (LOCAL_ROTATIONS, POSITIONS, ROOT_ORIENTATION, VELOCITIES, joint_velocities,
                                     turn_about_vertical)
from ..motion.sitting import heading, sitting_frames
from ..placement import CELL_M, HeightMap, dilate, height_map
from ..rotations import axis_angle_to_matrix, matrix_to_rotation_6d
from ..skeleton import NUM_BODY_JOINTS, forward_kinematics
from ..time_series import eased_peaks, runs
from .keep_out import INSIDE_TOLERANCE_M, LOW_OBSTACLE_M, TRUNK_JOINTS

SEAT_MIN_M = 0.3  # lower tops are steps and footstools
SEAT_MAX_M = 0.75  # higher: tables and worktops
SEAT_AREA_M2 = 0.1  # a chair seat is about 0.45 m x 0.45 m
CHAIR_AREA_M2 = 1.0  # from here on a surface is a bed (onto_support.BED_AREA_M2)
TOP_BAND_M = 0.02  # scene points this close to a seat's top height lie on it
BACKREST_ABOVE_M = 0.2  # cells this much higher than the seat next to it are its backrest
BACKREST_CELLS = 2  # ... within this many cells of the seat's edge
SIT_REACH_M = 4.0  # chairs farther than this from the sitting pelvis are not where the body was meant to sit
STOOL_PENALTY_M = 0.5  # a seat without a backrest (a stool, or a low table) counts as this much farther
SIT_ABOVE_M = 0.18  # the pelvis this high above the seat (the procedural sitters': 0.17-0.18 m)
ANKLE_AHEAD_M = 0.42  # a sitter's ankles this far ahead of the sitting place (clear of a seat's front edge)
PLACE_FORWARD_M = (0.0, 0.05, 0.1)  # the sitting place this far ahead of the seat's middle, the first that fits
MIN_SIT_S = 1.0  # sitting runs shorter than this are passed through (getting up, crouching), not sat in
HALF_STANCE_M = 0.1  # a sitter's ankles this far either side of the middle (hip width)
STEP_M = 0.1  # a foot moving to or from its seated place is lifted this much halfway
FOOT_DROP_M = 0.05  # a seated foot's toes this far below its ankle (the foot nearly flat)
GAP_FRAMES = 2  # sitting runs this few frames apart are one (the model's sitters shift in their seat)
SETTLE_EASE_FRAMES = 4  # the sitting down eases in over twice this many frames, the getting up out
TURNS_DEG = tuple(range(-180, 180, 30))  # the whole clip may turn by these about where the feet go ...
FREE_STRIDE = 3  # ... judged on every 3rd of the frames that are not seated
SITTING_ROLES = ("patient",)  # in a scene of several people, who may be put onto a chair
_PELVIS = 0
_ANKLES = (7, 8)


@dataclass(frozen=True)
class Chairs:
    """middle: (C, 2) metres, each seat's middle; top: (C,) metres, its top; facing: (C,) radians
    from +x counter-clockwise, the way a sitter on it faces (NaN: no backrest says); grid: the
    height map they come from (what keeps a sitter's trunk out of the furniture)."""

    middle: np.ndarray
    top: np.ndarray
    facing: np.ndarray
    grid: HeightMap


@dataclass(frozen=True)
class Seating:
    """One person's move onto a chair: for every frame ``shift`` (2,) metres, then ``turn``
    radians (counter-clockwise) about the vertical through ``pivot`` (2,) metres; then over the
    frames of ``weight`` (T,) in [0, 1] the pelvis towards ``place`` (3,) metres (the sitting
    place, SIT_ABOVE_M over the seat), the body turned to face ``facing`` (radians from +x,
    counter-clockwise) and the feet onto the floor ahead of the seat. ``moved`` (T,) in [0, 1]:
    per frame the share of the shift and turn it gets (None: all of it; ``bed_edge`` leaves the
    frames that lie in bed where they are)."""

    shift: np.ndarray
    turn: float
    pivot: np.ndarray
    place: np.ndarray
    facing: float
    weight: np.ndarray
    moved: np.ndarray | None = None


def chairs_of(points: np.ndarray, grid: HeightMap | None = None) -> Chairs:
    """The chairs of scene points (N, 3) metres (room frame, floor z = 0); none: empty arrays.
    grid: their ``placement.height_map``, when made.

    A seat's middle is that of the extent of the points on its top (within TOP_BAND_M of it):
    the height map spreads every top over the neighbouring cells, a backrest's over the seat's
    back row."""
    points = np.asarray(points, dtype=np.float64)
    grid = height_map(points) if grid is None else grid
    top = grid.top
    labels, count = ndimage.label((top >= SEAT_MIN_M) & (top <= SEAT_MAX_M))
    ix, iy, in_grid = grid.cells(points[:, :2])
    middles, tops, facings = [], [], []
    for k in range(1, count + 1):
        cells = labels == k
        if not SEAT_AREA_M2 <= cells.sum() * CELL_M**2 < CHAIR_AREA_M2:
            continue
        height = float(np.median(top[cells]))
        around = dilate(cells, np.logical_or)  # with the back row under the backrest's spread
        on_top = in_grid & around[ix, iy] & (np.abs(points[:, 2] - height) <= TOP_BAND_M)
        facing = _backrest_facing(cells, top)
        middles.append(_middle(points[on_top, :2], facing) if on_top.any()
                       else grid.origin + (np.argwhere(cells).mean(axis=0) + 0.5) * CELL_M)
        tops.append(height)
        facings.append(facing)
    return Chairs(np.reshape(middles, (-1, 2)), np.asarray(tops, dtype=np.float64),
                  np.asarray(facings, dtype=np.float64), grid)


def sitting_persons(roles: Sequence[str]) -> tuple[bool, ...]:
    """Who may be put onto a chair when the prompt is about sitting on one: a person alone, or
    the patients of a group (staff handing them something stand)."""
    return tuple(len(roles) == 1 or role in SITTING_ROLES for role in roles)


def seat_sitters(x0: Tensor, mean: np.ndarray, std: np.ndarray, chairs: list[Chairs | None],
                 seated: Sequence[Sequence[bool] | None], *, fps: float, rest_joints: np.ndarray) -> Tensor:
    """A sampler's result x0 (B, P, T, F), normalised, with its sitters on chairs (module docstring).

    mean, std: (F,) the checkpoint's statistics; chairs: per batch row the scene's Chairs (None:
    no scene); seated: per row, per person whether they may be seated (None: nobody in that
    row); fps: the clips' frame rate; rest_joints: (24, 3) metres, the skeleton the decode uses.
    Rows and persons not moved are returned as they are.
    """
    return seat_persons(x0, mean, std, [None if c is None or not len(c.top) else c for c in chairs], seated,
                        lambda joints, row_chairs, persons: seating(joints, row_chairs, fps), rest_joints=rest_joints)


def seat_persons(x0: Tensor, mean: np.ndarray, std: np.ndarray, seats: Sequence[object | None],
                 who: Sequence[Sequence[bool] | None], plan: Callable[[np.ndarray, object, int], Seating | None], *,
                 rest_joints: np.ndarray) -> Tensor:
    """x0 (B, P, T, F), normalised, with each person of ``who`` (per row, per person; None:
    nobody) moved by ``plan(joints (T, 22, 3) m, the row's seats, the row's number of persons)``
    (None: left alone) through :func:`seated_features`; ``seats``: per row what they sit on
    (None: nothing). The loop of :func:`seat_sitters` and ``bed_edge.sit_on_bed_edges``."""
    mean64, std64 = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    out = x0
    for row, (row_seats, may_sit) in enumerate(zip(seats, who)):
        if row_seats is None or not may_sit or not any(may_sit):
            continue
        features = x0[row].detach().to("cpu", torch.float64).numpy() * std64 + mean64  # (P, T, F)
        changed = False
        for person, may in enumerate(may_sit[:len(features)]):
            move = plan(decoded_pose(features[person], rest)[2], row_seats, len(may_sit)) if may else None
            if move is not None:
                features[person] = seated_features(features[person], move, rest)
                changed = True
        if changed:
            out = x0.clone() if out is x0 else out
            out[row] = torch.as_tensor((features - mean64) / std64, dtype=x0.dtype, device=x0.device)
    return out


def seating(joints: np.ndarray, chairs: Chairs, fps: float) -> Seating | None:
    """One person's joints (T, 22, 3) m at ``fps`` -> their Seating onto the nearest chair
    (module docstring), or None when no sitting run lasts MIN_SIT_S or no chair is within
    SIT_REACH_M of its mean pelvis."""
    joints = np.asarray(joints, dtype=np.float64)
    longest = longest_sitting(joints, fps)
    if longest is None:
        return None
    body = joints[longest[0]:longest[1]]
    pelvis = body[:, _PELVIS, :2].mean(axis=0)
    distance = np.linalg.norm(chairs.middle - pelvis, axis=-1)
    chair = int((distance + np.where(np.isfinite(chairs.facing), 0.0, STOOL_PENALTY_M)).argmin())
    if distance[chair] > SIT_REACH_M:
        return None
    ways = heading(body)
    way = float(np.arctan2(np.sin(ways).mean(), np.cos(ways).mean()))
    facing = float(chairs.facing[chair]) if np.isfinite(chairs.facing[chair]) else way
    ahead = np.array([np.cos(facing), np.sin(facing)])
    place = _place(body, facing - way, chairs, chair, ahead)
    feet, shift, weight = toward_seat(len(joints), longest, body, place, facing)
    turn = _free_turn(joints[weight == 0][::FREE_STRIDE] + [*shift, 0.0], feet, chairs.grid)
    return Seating(shift=shift, turn=turn, pivot=feet, place=place, facing=facing, weight=weight)


def toward_seat(frames: int, run: tuple[int, int], body: np.ndarray, place: np.ndarray, facing: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sitting ``run`` [start, stop) of a clip of ``frames`` frames, its joints ``body`` (n, 22,
    3) m, the sitting ``place`` (3,) m and the way a sitter there faces (radians) -> feet (2,) m,
    where the run's ankles go (ANKLE_AHEAD_M ahead of the place); shift (2,) m, the move along
    the floor that takes the run's mean ankles there; weight (T,), the run eased in and out over
    2 x SETTLE_EASE_FRAMES frames (the Seating's)."""
    feet = place[:2] + ANKLE_AHEAD_M * np.array([np.cos(facing), np.sin(facing)])
    shift = feet - body[:, list(_ANKLES), :2].mean(axis=(0, 1))
    weight = np.zeros(frames)
    weight[run[0]:run[1]] = 1.0
    return feet, shift, np.clip(eased_peaks(weight, SETTLE_EASE_FRAMES), 0.0, 1.0)


def _free_turn(joints: np.ndarray, pivot: np.ndarray, grid: HeightMap) -> float:
    """(n, 22, 3) joints of the frames that are not seated (m) -> of the TURNS_DEG about the
    vertical through ``pivot`` (2,) m, the one that leaves the fewest of them outside the room
    or inside furniture (``placement.HeightMap.blocked``), the smallest among equals, radians."""
    best, fewest = 0.0, None
    for degrees in sorted(TURNS_DEG, key=abs):
        angle = np.radians(degrees)
        turned = joints.copy()
        turned[..., :2] = _rotate(joints[..., :2] - pivot, angle) + pivot
        blocked = int(grid.blocked(turned).sum())
        if fewest is None or blocked < fewest:
            best, fewest = angle, blocked
        if blocked == 0:
            break
    return best


def seated_features(features: np.ndarray, move: Seating, rest_joints: np.ndarray) -> np.ndarray:
    """One person's un-normalised features (T, 264) and their Seating -> the features moved and
    settled (module docstring, 1. and 2.). float64."""
    T = len(features)
    x = _moved_rigidly(np.array(features, dtype=np.float64), move)
    positions = x[:, POSITIONS].reshape(T, NUM_BODY_JOINTS, 3)
    frames = move.weight > 0
    if not frames.any():
        return x
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    weight = move.weight[:, None]
    local, pelvis, _ = decoded_pose(x, rest)
    world, before = forward_kinematics(local, rest, pelvis - rest[0], parents=BODY_PARENTS)
    # The trunk: turned to face the chair's way and over the sitting place.
    turn = move.weight * ((move.facing - heading(before) + np.pi) % (2 * np.pi) - np.pi)
    local[:, 0] = _about_vertical(turn) @ local[:, 0]
    pelvis = pelvis + weight * (move.place - pelvis)
    world, joints = forward_kinematics(local, rest, pelvis - rest[0], parents=BODY_PARENTS)
    # The feet: from where they were to the floor ahead of the seat, lifted on the way.
    ahead = np.array([np.cos(move.facing), np.sin(move.facing), 0.0])
    left = np.array([-ahead[1], ahead[0], 0.0])
    step = STEP_M * 4.0 * move.weight * (1.0 - move.weight)
    for side, (hip, knee, ankle, foot) in zip((1.0, -1.0), LEGS):
        seat_ankle = np.array([*move.place[:2], ANKLE_ABOVE_M]) + ANKLE_AHEAD_M * ahead + side * HALF_STANCE_M * left
        target = before[:, ankle] + weight * (seat_ankle - before[:, ankle])
        target[:, 2] += step
        flat = _flat_foot(world[:, ankle], rest[foot] - rest[ankle], ahead, move.weight)
        forward = world[:, hip] @ np.array([0.0, 0.0, 1.0])  # the knee always bends this way (min_bend inf)
        two_bone_ik(rest, (hip, knee, ankle), world, joints, local, target, frames.astype(np.float64), forward,
                    keep_end_rotation=flat, min_bend=np.inf)
    _, after = forward_kinematics(local, rest, pelvis - rest[0], parents=BODY_PARENTS)
    moved = after - before
    moved[:, _PELVIS] = weight * (move.place - positions[:, _PELVIS])  # the decode keys the predicted pelvis
    x[:, POSITIONS] = (positions + moved).reshape(T, -1)
    x[:, VELOCITIES] += joint_velocities(moved).reshape(T, -1)
    x[:, ROOT_ORIENTATION] = np.where(frames[:, None], matrix_to_rotation_6d(local[:, 0]), x[:, ROOT_ORIENTATION])
    for joint in sorted({j for leg in LEGS for j in leg[:3]}):  # what the IK turned
        start = LOCAL_ROTATIONS.start + 6 * (joint - 1)
        x[:, start:start + 6] = np.where(frames[:, None], matrix_to_rotation_6d(local[:, joint]), x[:, start:start + 6])
    return x


def _moved_rigidly(x: np.ndarray, move: Seating) -> np.ndarray:
    """Features (T, 264) float64 shifted by ``move.shift`` and turned by ``move.turn`` about
    ``move.pivot``, each frame by its share ``move.moved``; where the share changes, the
    velocities gain the difference of the moved positions (a constant move only turns them)."""
    T = len(x)
    share = np.ones(T) if move.moved is None else np.asarray(move.moved, dtype=np.float64)
    before = x[:, POSITIONS].reshape(T, NUM_BODY_JOINTS, 3).copy()
    positions = before.copy()
    positions[..., :2] += share[:, None, None] * move.shift
    x[:, POSITIONS] = positions.reshape(T, -1)
    x = turn_about_vertical(x, share * move.turn, np.broadcast_to(move.pivot, (T, 2)))
    if move.moved is not None and np.ptp(share) > 0:
        after = x[:, POSITIONS].reshape(T, NUM_BODY_JOINTS, 3)
        steps = joint_velocities(before)  # turned as the velocities were: what a constant move leaves
        steps[..., :2] = _rotate(steps[..., :2], (share * move.turn)[:, None])
        x[:, VELOCITIES] += (joint_velocities(after) - steps).reshape(T, -1)
    return x


def _about_vertical(angle: np.ndarray) -> np.ndarray:
    """(T,) radians -> (T, 3, 3) rotations about +z."""
    cos, sin = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1], out[:, 2, 2] = cos, -sin, sin, cos, 1.0
    return out


def _flat_foot(ankle: np.ndarray, foot_rest: np.ndarray, ahead: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """World ankle rotations (T, 3, 3), the rest ankle-to-toe offset (3,) m, the way ahead (3,)
    and (T,) weights -> (T, 3, 3): each rotation turned, by its weight's share of the way, so
    that the foot points ahead with the toes FOOT_DROP_M below the ankle."""
    length = np.linalg.norm(foot_rest)
    drop = min(FOOT_DROP_M, 0.9 * length)
    want = np.sqrt(length**2 - drop**2) * ahead + np.array([0.0, 0.0, -drop])
    now = np.einsum("tij,j->ti", ankle, foot_rest)
    axis = np.cross(now, want)
    sin = np.linalg.norm(axis, axis=-1)
    angle = np.arctan2(sin, now @ want)
    unit = axis / np.maximum(sin, 1e-12)[:, None]
    turn = axis_angle_to_matrix(unit * (weight * angle)[:, None])
    return turn @ ankle


def _place(body: np.ndarray, turn: float, chairs: Chairs, chair: int, ahead: np.ndarray) -> np.ndarray:
    """The sitting place (3,) m on ``chair`` for a sitting run (n, 22, 3) turned by ``turn``: its
    middle moved forward by the first of PLACE_FORWARD_M that leaves no trunk joint inside the
    furniture (the fewest, when none does), SIT_ABOVE_M over the seat's top."""
    height = chairs.top[chair] + SIT_ABOVE_M
    trunk = body[:, list(TRUNK_JOINTS)] - body[:, _PELVIS, None]  # (n, L, 3) about the pelvis
    xy = _rotate(trunk[..., :2], turn)
    inside = []
    for forward in PLACE_FORWARD_M:
        place = chairs.middle[chair] + forward * ahead
        inside.append(int(_inside(xy + place, height + trunk[..., 2], chairs.grid).sum()))
        if inside[-1] == 0:
            break
    best = int(np.argmin(inside))
    return np.array([*(chairs.middle[chair] + PLACE_FORWARD_M[best] * ahead), height])


def longest_sitting(joints: np.ndarray, fps: float) -> tuple[int, int] | None:
    """One person's joints (T, 22, 3) m -> the [start, stop) frames of their longest sitting run
    (``motion.sitting``; runs at most GAP_FRAMES apart joined), None when none lasts MIN_SIT_S."""
    longest = max(joined_runs(runs(sitting_frames(joints[None])[0])), key=lambda run: run[1] - run[0], default=None)
    return None if longest is None or longest[1] - longest[0] < MIN_SIT_S * fps else longest


def joined_runs(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, stop) runs in order -> the same with runs at most GAP_FRAMES apart joined."""
    joined: list[tuple[int, int]] = []
    for start, stop in spans:
        if joined and start - joined[-1][1] <= GAP_FRAMES:
            joined[-1] = (joined[-1][0], stop)
        else:
            joined.append((start, stop))
    return joined


def _rotate(xy: np.ndarray, angle: float) -> np.ndarray:
    """(..., 2) turned by ``angle`` radians counter-clockwise about the origin."""
    cos, sin = np.cos(angle), np.sin(angle)
    return np.stack([cos * xy[..., 0] - sin * xy[..., 1], sin * xy[..., 0] + cos * xy[..., 1]], axis=-1)


def _inside(xy: np.ndarray, z: np.ndarray, grid: HeightMap) -> np.ndarray:
    """Joints at (..., 2) metres and heights (...) -> (...) bool: inside the furniture as
    ``keep_out`` judges it."""
    ix, iy, in_grid = grid.cells(xy)
    top = grid.top[ix, iy]
    return in_grid & (top > LOW_OBSTACLE_M) & (top - z > INSIDE_TOLERANCE_M)


def _middle(xy: np.ndarray, facing: float) -> np.ndarray:
    """(n, 2) points on a seat's top (m) -> (2,) the middle of their extent along the way a
    sitter faces and across it (+x and +y for a stool)."""
    way = 0.0 if not np.isfinite(facing) else facing
    local = _rotate(xy, -way)
    return _rotate((local.min(axis=0) + local.max(axis=0)) / 2, way)


def _backrest_facing(cells: np.ndarray, top: np.ndarray) -> float:
    """The way a sitter on the seat ``cells`` faces: from the middle of the cells near it that
    stand BACKREST_ABOVE_M above it towards the seat's middle; NaN without such cells."""
    near = cells.copy()
    for _ in range(BACKREST_CELLS):
        near = dilate(near, np.logical_or)
    back = near & ~cells & (top >= np.median(top[cells]) + BACKREST_ABOVE_M)
    if not back.any():
        return float("nan")
    away = np.argwhere(cells).mean(axis=0) - np.argwhere(back).mean(axis=0)
    return float(np.arctan2(away[1], away[0]))
