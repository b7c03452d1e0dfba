"""Single-person scripts: walk, turn, sit, go to bed, get up, turn in bed, fall, try to get up, kneel, bend.

Each function takes a :class:`Cast` and a role and returns an :class:`Outcome`. Distances are
metres, times seconds, angles radians (degrees where the name says so).
"""

from __future__ import annotations

import math

import numpy as np

from ...rotations import axis_angle_to_matrix
from . import poses
from .cast import Cast, Outcome, offset_point
from .rooms import heading

FALL_DIRECTIONS = ("forwards", "backwards", "to the left", "to the right")


def walk_speed(cast: Cast, role: str, hurry: bool = False) -> float:
    if hurry:
        return cast.uniform(1.5, 1.9)
    return cast.uniform(0.45, 0.85) if role == "patient" else cast.uniform(0.9, 1.35)


def hunch(cast: Cast, role: str) -> float:
    return cast.uniform(8, 20) if role == "patient" else cast.uniform(0, 5)


def walk_through(cast: Cast, role: str) -> Outcome:
    kind = cast.choice(("in", "out", "across"))
    door = cast.door_inside()
    if kind == "in":
        start, goal = door, cast.free_point(0.6, near=door, within=4.0)
    elif kind == "out":
        start, goal = cast.free_point(0.6, near=door, within=4.0), door
    else:
        start = cast.free_point(0.6)
        goal = cast.free_point(0.6, near=start, within=4.5)
        if np.linalg.norm(goal - start) < 1.5:
            raise RuntimeError("too short a walk")
    path = cast.path(start, goal)
    speed = walk_speed(cast, role)
    t = cast.track(role, start, cast.facing(start, path[1]), name="walker")
    t.hold(cast.uniform(0.2, 0.8), "stand").walk(path, speed, hunch=hunch(cast, role))
    t.hold(cast.uniform(0.3, 1.0), "stand")
    return Outcome("walk_through", [t], {"direction": kind, "pace": "slowly" if speed < 0.7 else ""}, anchor="start")


def stand_and_turn(cast: Cast, role: str) -> Outcome:
    start = cast.free_point(0.6)
    yaw = cast.uniform(-math.pi, math.pi)
    t = cast.track(role, start, yaw, poses.stand(cast.rng, hunch=hunch(cast, role)), name="person")
    t.hold(cast.uniform(0.8, 2.0), "stand")
    angle = cast.choice((1, -1)) * cast.uniform(math.pi / 2, math.pi)
    t.turn(yaw + angle, cast.uniform(1.0, 1.6))
    t.hold(cast.uniform(0.8, 2.0), "stand")
    if cast.rng.random() < 0.5:
        t.turn(yaw + angle - cast.choice((1, -1)) * cast.uniform(math.pi / 3, math.pi / 2), cast.uniform(0.8, 1.3))
        t.hold(cast.uniform(0.5, 1.5), "stand")
    return Outcome("stand_and_turn", [t], {"turn": "around" if abs(angle) > 2.5 else ""}, anchor="start")


def approach(cast: Cast, start, front: np.ndarray, outward: np.ndarray) -> np.ndarray:
    """A path from ``start`` that ends with a straight 0.7 m run into ``front`` along
    -``outward`` (a unit floor direction pointing away from the furniture), so feet never
    cross the furniture's footprint on the way in."""
    pre = front + 0.7 * outward
    if not cast.room.is_free(pre, 0.35):
        raise RuntimeError("no room in front of the furniture")
    if np.linalg.norm(np.asarray(start) - pre) < 0.2:
        return np.array([start, front])
    return np.vstack([cast.path(start, pre), front[None]])


def sit_on_chair(cast: Cast, role: str) -> Outcome:
    seat = cast.chair()
    front = offset_point(seat.xy, seat.yaw, 0.42, 0.0)
    start = cast.free_point(0.6, near=front, within=3.0)
    t = cast.track(role, start, cast.facing(start, front), name="sitter")
    t.hold(cast.uniform(0.2, 0.6), "stand")
    t.walk(approach(cast, start, front, heading(seat.yaw)), walk_speed(cast, role), hunch=hunch(cast, role))
    t.turn(seat.yaw, cast.uniform(0.8, 1.2))
    t.move(poses.sit(seat.height, cast.rng), cast.uniform(1.2, 1.8), "sit_down", xy=seat.xy)
    t.hold(cast.uniform(1.0, 2.5), "sit")
    stands_up = cast.rng.random() < 0.4
    if stands_up:
        t.move(poses.stand(cast.rng), cast.uniform(1.2, 1.8), "stand_up", xy=front)
        t.hold(0.5, "stand")
    return Outcome("sit_on_chair", [t], {"seat": "chair", "stands_up": stands_up})


def _sit_on_bed_edge(cast: Cast, t, along: float) -> None:
    room = cast.room
    hips = room.bed_side_point(along, -0.12)
    t.move(poses.sit(room.bed_top, cast.rng), cast.uniform(1.2, 1.8), "sit_down", xy=hips)


def sit_on_bed_edge(cast: Cast, role: str) -> Outcome:
    along = cast.uniform(-0.3, 0.3)
    front = cast.room.bed_side_point(along, 0.2)
    start = cast.free_point(0.6, near=front, within=3.0)
    t = cast.track(role, start, cast.facing(start, front), name="sitter")
    t.walk(approach(cast, start, front, heading(cast.bed_outward_yaw())), walk_speed(cast, role),
           hunch=hunch(cast, role))
    t.turn(cast.bed_outward_yaw(), cast.uniform(0.8, 1.2))
    _sit_on_bed_edge(cast, t, along)
    t.hold(cast.uniform(1.0, 3.0), "sit")
    return Outcome("sit_on_bed_edge", [t], {"seat": "bed"})


def lie_in_bed(cast: Cast, t, along: float) -> None:
    """From sitting on the bed edge to lying on the back, head at the head end."""
    room = cast.room
    mid = poses.sit_up_in_bed(room.bed_top, cast.rng)
    t.move(mid, cast.uniform(1.2, 1.6), "lie_down", xy=room.bed_surface_point(along + 0.05, 0.3),
           yaw=cast.lying_in_bed_yaw(), planted=(False, False))
    t.move(poses.lie_back(room.bed_top, cast.rng), cast.uniform(1.0, 1.4), "lie_down",
           xy=room.bed_surface_point(along + 0.05, 0.1), planted=(False, False))


def go_to_bed(cast: Cast, role: str) -> Outcome:
    along = cast.uniform(-0.15, 0.15)
    front = cast.room.bed_side_point(along, 0.2)
    start = cast.free_point(0.6, near=front, within=2.5)
    t = cast.track(role, start, cast.facing(start, front), name="patient")
    t.walk(approach(cast, start, front, heading(cast.bed_outward_yaw())), walk_speed(cast, role),
           hunch=hunch(cast, role))
    t.turn(cast.bed_outward_yaw(), cast.uniform(0.8, 1.1))
    _sit_on_bed_edge(cast, t, along)
    t.hold(cast.uniform(0.3, 0.8), "sit")
    lie_in_bed(cast, t, along)
    t.hold(cast.uniform(0.8, 2.0), "lie", planted=(False, False))
    return Outcome("go_to_bed", [t], {})


def start_lying_in_bed(cast: Cast, role: str, name: str, along_range: tuple[float, float] = (-0.1, 0.1),
                       across_range: tuple[float, float] = (-0.1, 0.2)):
    along = cast.uniform(*along_range)
    xy = cast.room.bed_surface_point(along, cast.uniform(*across_range))
    return cast.track(role, xy, cast.lying_in_bed_yaw(), poses.lie_back(cast.room.bed_top, cast.rng), name=name), along


def get_up_from_bed(cast: Cast, t, along: float, label: str = "get_out_of_bed") -> None:
    room = cast.room
    t.move(poses.sit_up_in_bed(room.bed_top, cast.rng), cast.uniform(1.2, 1.8), label,
           xy=room.bed_surface_point(along, 0.2), planted=(False, False))
    t.move(poses.sit(room.bed_top, cast.rng), cast.uniform(1.2, 1.6), label, xy=room.bed_side_point(along, -0.12),
           yaw=cast.bed_outward_yaw(), planted=(False, False))
    t.hold(cast.uniform(0.3, 1.0), "sit")


def get_out_of_bed(cast: Cast, role: str) -> Outcome:
    t, along = start_lying_in_bed(cast, role, "patient")
    t.hold(cast.uniform(0.5, 1.5), "lie", planted=(False, False))
    get_up_from_bed(cast, t, along)
    t.move(poses.stand(cast.rng, hunch=hunch(cast, role)), cast.uniform(1.2, 1.8), "stand_up",
           xy=cast.room.bed_side_point(along, 0.25))
    t.hold(cast.uniform(0.5, 1.0), "stand")
    return Outcome("get_out_of_bed", [t], {}, anchor="start")


def turn_in_bed(cast: Cast, role: str) -> Outcome:
    t, along = start_lying_in_bed(cast, role, "patient")
    off = (False, False)
    t.hold(cast.uniform(0.8, 2.0), "lie", planted=off)
    left = bool(cast.rng.random() < 0.5)
    t.move(poses.lie_side(cast.room.bed_top, left, cast.rng), cast.uniform(1.2, 2.0), "turn_in_bed", planted=off)
    t.hold(cast.uniform(1.0, 2.5), "lie", planted=off)
    if cast.rng.random() < 0.5:
        t.move(poses.lie_back(cast.room.bed_top, cast.rng), cast.uniform(1.2, 2.0), "turn_in_bed", planted=off)
        t.hold(cast.uniform(0.5, 1.5), "lie", planted=off)
    return Outcome("turn_in_bed", [t], {"side": "left" if left else "right"}, anchor="start")


def fallen_pose(cast: Cast, direction: str) -> tuple[poses.Pose, float, float]:
    """The pose a fall ends in, for a fall ``direction`` from standing with the yaw kept: a
    forward fall lands on the front, a backward one on the back, a sideways one on that side.
    Returns (pose, forward offset of the pelvis (m), leftward offset (m))."""
    rng = cast.rng
    if direction == "forwards":
        return poses.lie_prone(rng), cast.uniform(0.8, 1.0), 0.0
    if direction == "backwards":
        return poses.lie_back(0.0, rng), -cast.uniform(0.4, 0.6), 0.0
    left = direction == "to the left"
    pose = poses.lie_side(0.0, left, rng)
    # lie_side lies along the yaw; turn it a quarter so the body topples sideways instead.
    quarter = axis_angle_to_matrix(np.array([0.0, (-1 if left else 1) * math.pi / 2, 0.0]))
    pose = poses.Pose(pose.local.copy(), pose.support)
    pose.local[0] = quarter @ pose.local[0]
    return pose, 0.0, (1 if left else -1) * cast.uniform(0.6, 0.8)


def fall_landing(cast: Cast, xy, yaw: float, direction: str, extra_forward: float = 0.0) -> np.ndarray | None:
    """Where the pelvis lands for a fall ``direction`` from (xy, yaw), or None when that
    spot has too little free floor around it for a lying body."""
    forward, left = {"forwards": (0.9, 0.0), "backwards": (-0.5, 0.0), "to the left": (0.0, 0.7),
                     "to the right": (0.0, -0.7)}[direction]
    land = offset_point(xy, yaw, forward + (extra_forward if forward > 0 else 0.0), left)
    return land if cast.room.is_free(land, 0.6) else None


def fall(cast: Cast, t, direction: str, extra_forward: float = 0.0) -> None:
    pose, forward, left = fallen_pose(cast, direction)
    land = offset_point(t.pelvis[:2], t.yaw, forward + (extra_forward if forward > 0 else 0.0), left)
    if not cast.room.is_free(land, 0.5):
        raise RuntimeError("no room to fall there")
    t.move(pose, cast.uniform(0.7, 1.0), "fall", xy=land, easing="fall", planted=(False, False))


def fall_spot(cast: Cast, direction: str, margin: float = 0.6) -> tuple[np.ndarray, float]:
    """A standing spot and yaw from which a fall ``direction`` lands on free floor."""
    for _ in range(30):
        xy = cast.free_point(margin)
        yaw = cast.uniform(-math.pi, math.pi)
        if fall_landing(cast, xy, yaw, direction) is not None:
            return xy, yaw
    raise RuntimeError("no room to fall")


def fall_standing(cast: Cast, role: str) -> Outcome:
    direction = cast.choice(FALL_DIRECTIONS)
    start, yaw = fall_spot(cast, direction)
    t = cast.track(role, start, yaw, poses.stand(cast.rng, hunch=hunch(cast, role)), name="patient")
    t.hold(cast.uniform(0.8, 2.5), "stand")
    fall(cast, t, direction)
    t.hold(cast.uniform(1.5, 3.0), "lie_on_floor", planted=(False, False))
    return Outcome("fall_standing", [t], {"fall": direction})


def fall_walking(cast: Cast, role: str) -> Outcome:
    direction = cast.choice(("forwards", "forwards", "to the left", "to the right"))
    start = cast.free_point(0.6)
    for _ in range(20):
        goal = cast.free_point(0.6, near=start, within=3.5)
        if np.linalg.norm(goal - start) > 1.2 and fall_landing(cast, goal, cast.facing(start, goal), direction, 0.2) is not None:
            break
    else:
        raise RuntimeError("no room to fall while walking")
    t = cast.track(role, start, cast.facing(start, goal), name="patient")
    t.walk(cast.path(start, goal), walk_speed(cast, role), hunch=hunch(cast, role))
    fall(cast, t, direction, extra_forward=0.2)
    t.hold(cast.uniform(1.5, 3.0), "lie_on_floor", planted=(False, False))
    return Outcome("fall_walking", [t], {"fall": direction})


def fall_from_bed(cast: Cast, role: str) -> Outcome:
    along = cast.uniform(-0.3, 0.3)
    room = cast.room
    t = cast.track(role, room.bed_side_point(along, -0.12), cast.bed_outward_yaw(), poses.sit(room.bed_top, cast.rng),
                   name="patient")
    t.hold(cast.uniform(1.0, 2.5), "sit")
    t.move(poses.sit(room.bed_top, cast.rng), 0.4, "sit", xy=room.bed_side_point(along, -0.05))
    kind = cast.choice(("sit_floor", "side"))
    land = room.bed_side_point(along, cast.uniform(0.45, 0.65))
    pose = poses.sit_floor(cast.rng) if kind == "sit_floor" else poses.lie_side(0.0, bool(cast.rng.random() < 0.5), cast.rng)
    if not room.is_free(land, 0.4):
        raise RuntimeError("no room beside the bed")
    t.move(pose, cast.uniform(0.7, 0.9), "fall", xy=land, easing="fall", planted=(False, False))
    t.hold(cast.uniform(1.5, 3.0), "lie_on_floor", planted=(False, False))
    return Outcome("fall_from_bed", [t], {})


def start_on_floor(cast: Cast, role: str, name: str, margin: float = 0.6):
    xy = cast.free_point(margin)
    prone = bool(cast.rng.random() < 0.5)
    pose = poses.lie_prone(cast.rng) if prone else poses.lie_back(0.0, cast.rng)
    return cast.track(role, xy, cast.uniform(-math.pi, math.pi), pose, name=name), prone


def fall_and_try_to_get_up(cast: Cast, role: str) -> Outcome:
    t, prone = start_on_floor(cast, role, "patient")
    off = (False, False)
    t.hold(cast.uniform(0.8, 2.0), "lie_on_floor", planted=off)
    for _ in range(int(cast.rng.integers(1, 3))):
        attempt = poses.hands_knees(cast.rng) if prone and cast.rng.random() < 0.6 else (
            poses.push_up_attempt(cast.rng) if prone else poses.sit_floor(cast.rng))
        t.move(attempt, cast.uniform(1.2, 2.0), "try_to_get_up", planted=off)
        t.hold(cast.uniform(0.5, 1.2), "try_to_get_up", planted=off)
        back = poses.lie_prone(cast.rng) if prone else poses.lie_back(0.0, cast.rng)
        t.move(back, cast.uniform(1.0, 1.5), "try_to_get_up", planted=off)
        t.hold(cast.uniform(0.5, 1.5), "lie_on_floor", planted=off)
    return Outcome("fall_and_try_to_get_up", [t], {"prone": prone}, anchor="start")


def kneel_or_crouch(cast: Cast, role: str) -> Outcome:
    kind = cast.choice(("kneel", "half_kneel", "crouch"))
    start = cast.free_point(0.6)
    goal = cast.free_point(0.8, near=start, within=2.5)
    t = cast.track(role, start, cast.facing(start, goal), name="person")
    if np.linalg.norm(goal - start) > 0.6:
        t.walk(cast.path(start, goal), walk_speed(cast, role), hunch=hunch(cast, role))
    pose = {"kneel": poses.kneel, "half_kneel": poses.half_kneel, "crouch": poses.crouch}[kind](cast.rng)
    label = "crouch" if kind == "crouch" else "kneel"
    planted = (True, True) if kind == "crouch" else ((True, False) if kind == "half_kneel" else (False, False))
    t.move(pose, cast.uniform(0.8, 1.3), label, planted=planted)
    t.hold(cast.uniform(1.0, 2.5), label, planted=planted)
    t.move(poses.stand(cast.rng), cast.uniform(0.9, 1.4), "stand_up", planted=planted)
    t.hold(0.5, "stand")
    return Outcome("kneel_or_crouch", [t], {"kind": kind})


def bend_over_bed(cast: Cast, role: str) -> Outcome:
    along = cast.uniform(-0.5, 0.5)
    spot = cast.room.bed_side_point(along, cast.uniform(0.38, 0.48))
    start = cast.free_point(0.6, near=spot, within=3.0)
    t = cast.track(role, start, cast.facing(start, spot), name="person")
    t.walk(approach(cast, start, spot, heading(cast.bed_outward_yaw())), walk_speed(cast, role))
    toward_bed = cast.bed_outward_yaw() + math.pi
    t.turn(toward_bed, cast.uniform(0.3, 0.6))
    t.move(poses.bend_over(cast.rng), cast.uniform(0.8, 1.2), "bend_over")
    t.hold(cast.uniform(1.0, 2.5), "bend_over")
    t.move(poses.stand(cast.rng), cast.uniform(0.8, 1.2), "stand")
    return Outcome("bend_over_bed", [t], {})


SINGLE_SCRIPTS = {
    "walk_through": walk_through, "stand_and_turn": stand_and_turn, "sit_on_chair": sit_on_chair,
    "sit_on_bed_edge": sit_on_bed_edge, "go_to_bed": go_to_bed, "get_out_of_bed": get_out_of_bed,
    "turn_in_bed": turn_in_bed, "fall_standing": fall_standing, "fall_walking": fall_walking,
    "fall_from_bed": fall_from_bed, "fall_and_try_to_get_up": fall_and_try_to_get_up,
    "kneel_or_crouch": kneel_or_crouch, "bend_over_bed": bend_over_bed,
}
# Who usually does what: the role a single-person script's person gets (drawn from these).
SINGLE_ROLES = {
    "walk_through": ("staff", "patient"), "stand_and_turn": ("staff", "patient"), "sit_on_chair": ("patient", "staff"),
    "sit_on_bed_edge": ("patient",), "go_to_bed": ("patient",), "get_out_of_bed": ("patient",),
    "turn_in_bed": ("patient",), "fall_standing": ("patient",), "fall_walking": ("patient",),
    "fall_from_bed": ("patient",), "fall_and_try_to_get_up": ("patient",), "kneel_or_crouch": ("staff", "patient"),
    "bend_over_bed": ("staff",),
}
