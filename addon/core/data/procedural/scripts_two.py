"""Two-person scripts: staff helps a fallen patient up, helps a patient out of bed, supports a walking
patient, attends a patient in bed, hurries to a patient who falls, talks with or hands something to a patient.

Staff hands reach the patient through :class:`Reach` (two-bone IK on the finished patient's
joints), so they touch what they hold. Each function takes a :class:`Cast` and returns an
:class:`Outcome` with the tracks in the order they must be finalised (the patient first).
"""

from __future__ import annotations

import math

import numpy as np

from . import poses
from .cast import Cast, Outcome, offset_point
from .kinematics import J
from .rooms import heading
from ...labels import ACTION_INDEX
from .scripts_single import (fall_standing, fall_walking, get_up_from_bed, start_lying_in_bed, start_on_floor,
                             walk_speed)
from .track import Reach, Track


def _approach(cast: Cast, goal: np.ndarray, hurry: bool = False, within: float = 3.5,
             avoid: np.ndarray | None = None, outward: np.ndarray | None = None) -> Track:
    """A staff member who starts in the doorway or somewhere else and walks to ``goal``,
    keeping clear of the ``avoid`` points (M, 2) (the other person's body)."""
    candidates = [cast.free_point(0.6, near=goal, within=within) for _ in range(8)]
    if cast.rng.random() < 0.4 and np.linalg.norm(cast.door_inside() - goal) < within + 1.0:
        candidates.insert(0, cast.door_inside())
    if avoid is not None:
        candidates = [c for c in candidates if np.linalg.norm(np.asarray(avoid) - c, axis=-1).min() >= 0.8]
    if not candidates:
        raise RuntimeError("the helper would start inside the other person")
    start = candidates[0]
    staff = cast.track("staff", start, cast.facing(start, goal), name="staff")
    staff.hold(cast.uniform(0.1, 0.5), "stand")
    if np.linalg.norm(goal - start) > 0.3:
        if outward is not None:  # the last 0.7 m straight in, away from the furniture
            pre = goal + 0.7 * outward
            if not cast.room.is_free(pre, 0.35):
                raise RuntimeError("no room to walk up to the bed")
            path = np.vstack([cast.room.plan_path(start, pre, 0.35, avoid), goal[None]])
        else:
            path = cast.room.plan_path(start, goal, 0.3, avoid)
        staff.walk(path, walk_speed(cast, "staff", hurry), "hurry" if hurry else "walk")
    return staff


def body_points(track: Track) -> np.ndarray:
    """(5, 2) floor points along a person's current body (the pelvis and up to 0.9 m either way
    along a lying body, 0.25 m ahead and behind an upright one) for paths to keep clear of."""
    xy = track.pelvis[:2]
    h = heading(track.yaw)
    reach = 0.9 if track.pelvis[2] < 0.5 else 0.25
    return xy + np.linspace(-reach, reach, 5)[:, None] * h


def _hands_on(staff: Track, start: int, stop: int, staff_yaw: float, patient_yaw: float, near_shoulder: int,
              back_offset: float = 0.135) -> None:
    """Staff's hands: one on the patient's nearer upper arm, the other on the lower back (spine2).
    The spine leans into the arm hand's reach only: leaning round a patient who stands, towards
    the back, would put the staff's near arm into theirs."""
    left_of_staff = np.array([-heading(staff_yaw)[1], heading(staff_yaw)[0]])
    behind_patient = -heading(patient_yaw)
    back_hand = 0 if float(left_of_staff @ behind_patient) > 0 else 1
    # Wrist targets on the skin, not at the joint: on the outside of the upper arm, 0.1 m
    # towards the staff and 0.06 m below the shoulder joint, and 0.135 m behind the lower back
    # (capsule radii 0.045 and 0.10 plus the forearm's 0.045, less the 2 cm tolerance).
    on_arm = np.append(heading(staff_yaw) * -0.1, -0.06)
    staff.reaches.append(Reach(start, stop, 1 - back_hand, near_shoulder, tuple(on_arm), lean=True))
    on_back = np.append(behind_patient * back_offset, 0.0)
    staff.reaches.append(Reach(start, stop, back_hand, J["spine2"], tuple(on_back)))


def help_up_from_floor(cast: Cast) -> Outcome:
    patient, prone = start_on_floor(cast, "patient", "patient", margin=0.8)
    p_xy, p_yaw = patient.pelvis[:2].copy(), patient.yaw
    stand_spot = offset_point(p_xy, p_yaw, 0.3, 0.0)
    for side in ((1.0, -1.0) if cast.rng.random() < 0.5 else (-1.0, 1.0)):
        staff_spot = offset_point(stand_spot, p_yaw, 0.05, side * 0.8)
        if cast.room.is_free(staff_spot, 0.35):
            break
    else:
        raise RuntimeError("no room for the helper")
    hurry = bool(cast.rng.random() < 0.4)
    staff = _approach(cast, staff_spot, hurry, avoid=body_points(patient))
    staff_yaw = cast.facing(staff_spot, stand_spot)
    staff.turn(staff_yaw, cast.uniform(0.5, 0.8))
    low = poses.crouch(cast.rng) if cast.rng.random() < 0.5 else poses.half_kneel(cast.rng)
    low_planted = (True, True) if low.support.joints[0] == J["left_foot"] else (True, False)
    staff.move(low, cast.uniform(0.8, 1.2), "help_up", planted=low_planted)
    reach_from = staff.frames - 4
    staff.hold(cast.uniform(0.3, 0.8), "help_up", planted=low_planted)
    off = (False, False)
    patient.hold_until(staff.frames, "lie_on_floor", planted=off)
    first = poses.hands_knees(cast.rng) if prone else poses.sit_floor(cast.rng)
    patient.move(first, cast.uniform(1.3, 1.8), "try_to_get_up", planted=off)
    patient.move(poses.half_kneel(cast.rng), cast.uniform(1.2, 1.6), "stand_up",
                 xy=offset_point(p_xy, p_yaw, 0.2, 0.0), planted=(True, False))
    staff.hold_until(patient.frames, "help_up", planted=low_planted)
    rise = cast.uniform(1.3, 1.8)
    patient.move(poses.stand(cast.rng, hunch=10), rise, "stand_up", xy=stand_spot)
    staff.move(poses.stand(cast.rng), rise, "help_up")
    patient.hold(cast.uniform(0.6, 1.2), "stand")
    staff.hold_until(patient.frames, "help_up")
    near = J["left_shoulder"] if side > 0 else J["right_shoulder"]
    _hands_on(staff, reach_from, staff.frames, staff_yaw, p_yaw, near)
    return Outcome("help_up_from_floor", [patient, staff], {"prone": prone, "hurry": hurry})


def help_out_of_bed(cast: Cast) -> Outcome:
    room = cast.room
    patient, along = start_lying_in_bed(cast, "patient", "patient", (-0.12, -0.02))
    half = room.bed.sy / 2
    staff_spot = room.bed_side_point(along - cast.uniform(0.4, 0.5) / half, 0.36)
    if not room.is_free(staff_spot, 0.3):
        raise RuntimeError("no room for the helper at the bed")
    staff = _approach(cast, staff_spot, outward=heading(cast.bed_outward_yaw()))
    staff_yaw = cast.facing(staff_spot, room.bed_side_point(along, 0.0))
    staff.turn(staff_yaw, cast.uniform(0.5, 0.8))
    staff.move(poses.bend_over(cast.rng, amount=0.5), cast.uniform(0.8, 1.1), "assist_transfer")
    reach_from = staff.frames - 3
    patient.hold_until(staff.frames, "lie", planted=(False, False))
    get_up_from_bed(cast, patient, along)
    staff.hold_until(patient.frames, "assist_transfer")
    rise = cast.uniform(1.3, 1.8)
    patient.move(poses.stand(cast.rng, hunch=10), rise, "stand_up", xy=room.bed_side_point(along, 0.28))
    staff.move(poses.stand(cast.rng), rise, "assist_transfer")
    patient.hold(cast.uniform(0.5, 1.0), "stand")
    staff.hold_until(patient.frames, "assist_transfer")
    # Lying on the back head-first, or sitting up facing the room, the patient's right shoulder
    # is on the room side (and the head side) when the room is on the bed's local +x.
    near = J["right_shoulder"] if room.bed_side_sign > 0 else J["left_shoulder"]
    _hands_on(staff, reach_from, staff.frames, staff_yaw, cast.bed_outward_yaw(), near)
    return Outcome("help_out_of_bed", [patient, staff], {}, anchor="end")


def support_walking(cast: Cast) -> Outcome:
    start = cast.free_point(0.7)
    goals = [cast.free_point(0.7) for _ in range(8)]
    goal = min(goals, key=lambda g: abs(np.linalg.norm(g - start) - 3.0))
    if not 1.5 < np.linalg.norm(goal - start) < 5.0:
        raise RuntimeError("too short or too long a walk")
    path = cast.path(start, goal, margin=0.6)
    speed = cast.uniform(0.35, 0.6)
    patient = cast.track("patient", start, cast.facing(start, path[1]), poses.stand(cast.rng, hunch=15),
                         name="patient")
    patient.hold(cast.uniform(0.3, 0.8), "stand")
    patient.walk(path, speed, "support_walk", hunch=cast.uniform(12, 25))
    first, gait = patient.last_walk
    h = np.stack([np.sin(gait.yaw), -np.cos(gait.yaw)], -1)
    left = np.stack([-h[:, 1], h[:, 0]], -1)
    clearances = {side: cast.room.clearance(gait.xy + side * 0.56 * left).min() for side in (1.0, -1.0)}
    side = max(clearances, key=clearances.get)
    if clearances[side] < 0.25:
        raise RuntimeError("no room to walk beside the patient")
    xy = gait.xy + side * 0.56 * left
    staff = cast.track("staff", xy[0], float(gait.yaw[0]), name="staff")
    staff.hold_until(first, "stand")
    staff.follow(xy, gait.yaw, gait.amplitude, speed, "support_walk")
    patient.hold(cast.uniform(0.4, 1.0), "stand")
    staff.hold_until(patient.frames, "stand")
    near_elbow = J["left_elbow"] if side > 0 else J["right_elbow"]
    near_shoulder = J["left_shoulder"] if side > 0 else J["right_shoulder"]
    toward = np.append(side * 0.1 * left[len(left) // 2], 0.0)  # from the patient's arm towards the staff
    # The staff's hand on the patient's side holds the arm below the shoulder, the other the elbow.
    inner = 1 if side > 0 else 0  # staff on the patient's left: staff's right hand is inner
    staff.reaches.append(Reach(max(0, first - 3), staff.frames, inner, near_shoulder, tuple(toward + [0, 0, -0.08])))
    staff.reaches.append(Reach(max(0, first - 3), staff.frames, 1 - inner, near_elbow, tuple(toward)))
    return Outcome("support_walking", [patient, staff], {"side": "left" if side > 0 else "right"}, anchor="start")


def attend_in_bed(cast: Cast) -> Outcome:
    room = cast.room
    # The patient lies towards the room side, where the staff member can reach them.
    patient, along = start_lying_in_bed(cast, "patient", "patient", (-0.15, -0.02), (0.05, 0.25))
    half = room.bed.sy / 2
    staff_spot = room.bed_side_point(along - cast.uniform(0.3, 0.45) / half, 0.24)  # level with the chest, close
    if not room.is_free(staff_spot, 0.23):
        raise RuntimeError("no room at the bed")
    staff = _approach(cast, staff_spot, outward=heading(cast.bed_outward_yaw()))
    staff_yaw = cast.facing(staff_spot, room.bed_side_point(along, 0.0))
    staff.turn(staff_yaw, cast.uniform(0.5, 0.8))
    staff.move(poses.bend_over(cast.rng, amount=cast.uniform(0.8, 1.0)), cast.uniform(0.8, 1.1), "attend")
    touch_from = staff.frames - 2
    staff.hold(cast.uniform(1.5, 3.0), "attend")
    touch_to = staff.frames
    staff.move(poses.stand(cast.rng), cast.uniform(0.8, 1.1), "attend")
    staff.hold(cast.uniform(0.5, 1.0), "stand")
    patient.hold_until(staff.frames, "lie", planted=(False, False))
    near = J["right_shoulder"] if room.bed_side_sign > 0 else J["left_shoulder"]  # the room-side one
    hand = int(cast.rng.integers(2))
    staff.reaches.append(Reach(touch_from, touch_to, hand, near, (0.0, 0.0, 0.09), lean=True))
    return Outcome("attend_in_bed", [patient, staff], {}, anchor="end")


def fall_while_staff_present(cast: Cast) -> Outcome:
    falling = fall_walking if cast.rng.random() < 0.5 else fall_standing
    outcome = falling(cast, "patient")
    patient = outcome.tracks[0]
    labels = patient.arrays()[3]
    fall_start = int(np.argmax(labels == ACTION_INDEX["fall"]))
    landed = patient.pelvis[:2].copy()
    candidates = [cast.free_point(0.6, near=landed, within=4.0) for _ in range(8)]
    pelvis_path = patient.arrays()[0][:, :2]
    candidates = [c for c in candidates if np.linalg.norm(c - landed) >= 1.5
                  and np.linalg.norm(pelvis_path - c, axis=-1).min() >= 0.8]
    if not candidates:
        raise RuntimeError("no place for the staff member away from the fall")
    staff_start = candidates[0]
    staff = cast.track("staff", staff_start, cast.uniform(-math.pi, math.pi), name="staff")
    staff.hold_until(fall_start + staff.seconds(cast.uniform(0.3, 0.6)), "stand")
    for side in ((1.0, -1.0) if cast.rng.random() < 0.5 else (-1.0, 1.0)):
        spot = offset_point(landed, patient.yaw, 0.0, side * 0.8)
        if cast.room.is_free(spot, 0.35):
            break
    else:
        raise RuntimeError("no room beside the fallen patient")
    staff.turn(cast.facing(staff.pelvis, landed), 0.5)
    staff.walk(cast.room.plan_path(staff.pelvis[:2], spot, 0.3, body_points(patient)),
               walk_speed(cast, "staff", hurry=True), "hurry")
    staff.turn(cast.facing(spot, landed), 0.4)
    low = poses.crouch(cast.rng) if cast.rng.random() < 0.5 else poses.kneel(cast.rng)
    planted = (True, True) if low.support.joints[0] == J["left_foot"] else (False, False)
    staff.move(low, cast.uniform(0.7, 1.0), "attend", planted=planted)
    staff.hold(cast.uniform(1.0, 2.0), "attend", planted=planted)
    patient.hold_until(staff.frames, "lie_on_floor", planted=(False, False))
    return Outcome("fall_while_staff_present", [patient, staff], {"fall": outcome.facts["fall"]}, anchor="end")


def talk(cast: Cast) -> Outcome:
    """Two people, or now and then three, stand and talk; the second may walk up first."""
    if cast.rng.random() < 0.3:
        return _group_talk(cast)
    a_xy = cast.free_point(0.8)
    yaw = cast.facing(a_xy, np.array([cast.room.width / 2, cast.room.depth / 2])) + cast.uniform(-0.6, 0.6)
    b_xy = offset_point(a_xy, yaw, cast.uniform(1.0, 1.4), 0.0)
    if not cast.room.is_free(b_xy, 0.45):
        raise RuntimeError("no room to talk")
    roles = cast.choice((("staff", "patient"), ("patient", "staff"), ("staff", "staff"), ("patient", "patient")))
    a = cast.track(roles[0], a_xy, yaw, poses.stand(cast.rng), name="first")
    walks_in = cast.rng.random() < 0.4
    if walks_in:
        b_start = cast.free_point(0.6, near=b_xy, within=3.0)
        if np.linalg.norm(b_start - a_xy) < 0.7:
            raise RuntimeError("would start inside the other person")
        b = cast.track(roles[1], b_start, cast.facing(b_start, b_xy), name="second")
        b.walk(cast.room.plan_path(b_start, b_xy, 0.35, body_points(a)), walk_speed(cast, roles[1]))
        b.turn(yaw + math.pi, 0.6)
        a.hold_until(b.frames, "stand")
    else:
        b = cast.track(roles[1], b_xy, yaw + math.pi, poses.stand(cast.rng), name="second")
    _chat(cast, [a, b])
    return Outcome("talk", [a, b], {"walks_in": walks_in}, anchor="start")


def _group_talk(cast: Cast) -> Outcome:
    """Three people on a circle of radius 0.6-0.8 m, facing its centre, talking."""
    centre = cast.free_point(1.2)
    radius = cast.uniform(0.6, 0.8)
    start = cast.uniform(-math.pi, math.pi)
    roles = cast.choice((("staff", "patient", "patient"), ("staff", "staff", "patient"), ("patient", "patient", "staff")))
    people = []
    for k, role in enumerate(roles):
        angle = start + 2 * math.pi * k / 3 + cast.uniform(-0.3, 0.3)
        xy = centre + radius * np.array([math.cos(angle), math.sin(angle)])
        if not cast.room.is_free(xy, 0.4):
            raise RuntimeError("no room for three to talk")
        people.append(cast.track(role, xy, cast.facing(xy, centre), poses.stand(cast.rng), name=f"person{k}"))
    _chat(cast, people)
    return Outcome("talk", people, {"group": True}, anchor="start")


def _chat(cast: Cast, people: list[Track]) -> None:
    """Turns of gesturing and standing, everyone kept in step."""
    for _ in range(int(cast.rng.integers(2, 4))):
        for person in people:
            pose = poses.gesture(cast.rng) if cast.rng.random() < 0.7 else poses.stand(cast.rng)
            person.move(pose, cast.uniform(0.6, 1.0), "talk")
            person.hold(cast.uniform(0.4, 1.2), "talk")
        end = max(p.frames for p in people)
        for person in people:
            person.hold_until(end, "talk")


def hand_over(cast: Cast) -> Outcome:
    seated = bool(cast.room.chairs) and cast.rng.random() < 0.4
    seat = cast.chair() if seated else None
    if seat is not None:
        patient = cast.track("patient", seat.xy, seat.yaw, poses.sit(seat.height, cast.rng), name="patient")
        spot = offset_point(seat.xy, seat.yaw, 0.8, 0.0)
        meet_z = cast.uniform(0.85, 0.9)
    else:
        p_xy = cast.free_point(1.0)
        p_yaw = cast.uniform(-math.pi, math.pi)
        patient = cast.track("patient", p_xy, p_yaw, poses.stand(cast.rng, hunch=8), name="patient")
        spot = offset_point(p_xy, p_yaw, 0.7, 0.0)
        meet_z = cast.uniform(1.1, 1.2)
    if not cast.room.is_free(spot, 0.35):
        raise RuntimeError("no room to hand over")
    staff = _approach(cast, spot, within=3.0, avoid=body_points(patient))
    p_xy = patient.pelvis[:2]
    staff.turn(cast.facing(spot, p_xy), 0.5)
    reach = cast.uniform(1.2, 1.8)
    meet = np.append(0.5 * spot + 0.5 * p_xy, meet_z)
    start = staff.frames
    staff.move(poses.bend_over(cast.rng, 0.45) if seated else poses.reach_forward(cast.rng), reach / 2, "hand_over")
    staff.hold(reach / 2, "hand_over")
    rest_pose = poses.sit(seat.height, cast.rng) if seat is not None else poses.stand(cast.rng)
    patient.hold_until(start, "sit" if seated else "stand")
    patient.move(rest_pose if seated else poses.reach_forward(cast.rng), reach / 2, "hand_over")
    patient.hold(reach / 2, "hand_over")
    stop = staff.frames
    staff.move(poses.stand(cast.rng), 0.8, "stand")
    patient.move(rest_pose, 0.8, "sit" if seated else "stand")
    end = max(staff.frames, patient.frames) + int(cast.rng.integers(2, 8))
    staff.hold_until(end, "stand")
    patient.hold_until(end, "sit" if seated else "stand")
    toward_staff = (spot - p_xy) / max(np.linalg.norm(spot - p_xy), 1e-6)
    staff.reaches.append(Reach(start + 2, stop + 2, 1, -1, tuple(meet + np.append(toward_staff * 0.04, 0))))
    patient.reaches.append(Reach(start + 2, stop + 2, 1, -1, tuple(meet - np.append(toward_staff * 0.04, 0))))
    return Outcome("hand_over", [patient, staff], {"seated": seated}, anchor="end")


TWO_SCRIPTS = {
    "help_up_from_floor": help_up_from_floor, "help_out_of_bed": help_out_of_bed,
    "support_walking": support_walking, "attend_in_bed": attend_in_bed,
    "fall_while_staff_present": fall_while_staff_present, "talk": talk, "hand_over": hand_over,
}
