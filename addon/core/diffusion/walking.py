"""Walkers walk: people the model leaves shuffling on the spot are stepped along a straight route.

Asked for a walk ("a nurse walks into the room", "an old woman falls while walking") the bundled
CPU-trained model answers with a body that stands: over the 128 held-out test requests of the
evaluation its walkers' pelvises wander 0.3-1.7 m in 10 s, facing across the way they drift,
the ankles never more than 0.14-0.23 m apart (the procedural walks: 1.1-3.3 m straight ahead,
ankles 0.47-0.73 m apart), and the evaluator recognises 0 of 5 walks in or out of the room and
1 of 6 falls while walking (README, *Known issues*: the network's, not the corrections'). Where
the prompt was understood as an action that is a walk (``labels.WALKING_SCRIPTS``),
:func:`walk_walkers` runs once on the sampler's result (``corrections.Corrections.finish``,
after the time filter, which would blur the locked stance feet into sliding) and walks the row's
people together (one alone; a helper supporting a patient's walk beside them), over the run in
which all of them are upright (not lying, not sitting, the pelvis at least UPRIGHT_SHARE of
its standing height) when it lasts MIN_UPRIGHT_S:

1. picks the route: straight, from where each pelvis is when the walk starts (people who walk
   together close up or spread out over the first APPROACH_M to walk side by side, BESIDE_M
   apart, as the procedural helpers walk beside the patient they support), the way their pelvises' middle
   drifts over the run (the way the bodies face when it drifts less than MIN_DRIFT_M), turned
   by the smallest of TURNS_DEG that leaves every route free of furniture and inside the room
   for as long as the walk needs (``placement.HeightMap.blocked`` on a body's footprint), the
   rest of the clip, moved with the walk's end, counted too;
2. times it: at the procedural walkers' mid speed for the role (WALK_SPEED_M_S; the slowest
   one's for a group), speeding up
   and slowing down as ``motion.gait.walk_frames`` walks, over the run less
   HOLD_S at its start and, when the run lasts to the clip's end, at its end (a walk that ends
   in a fall runs into it), at most MAX_WALK_M, at least MIN_WALK_M (else nobody is moved);
3. moves the body onto it: every frame of the walk turned about its pelvis to face the way the
   route goes (turning into it from the way the body faced over the walk's first 0.4 s, as
   the procedural walkers set off: turned on the spot beforehand, the planted feet slid) and
   shifted onto it; after it, a walker who stays upright to the clip's end stands where the
   walk ended, facing its way, on the legs of its last step, feet held (the model's drift and
   turns left out: the bundled model's standers wander, turn half round in two frames and
   jump by decimetres now and then; easing back into its legs slid the feet together), and
   what else follows (a fall) is moved rigidly with the walk's end, so that it lands there;
4. steps the legs: hips, knees and ankles take the procedural walk cycle's angles
   (``motion.gait.swing``: phased by distance walked, so the stance foot moves back at about
   the body's speed), each stance foot then held where it landed by turning hip and knee
   (``motion.planted_feet``, the procedural walkers' foot lock), the shoulders swing with the
   opposite leg, the pelvis at the straight legs' standing height with the cycle's dip, eased
   in and out over BLEND_S; the other joints keep the model's rotations.

The features stay consistent: positions, velocities and rotations all change (positions by the
forward-kinematics difference, as ``seating.seated_features`` moves them, so the model's own
offsets stay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..motion.gait import Swing, stride_for, swing, walk_frames
from ..motion.planted_feet import ARMS, FOOT_JOINT_Z, LEGS, Body, foot_targets
from ..motion.joint_ik import BODY_PARENTS, two_bone_ik
from ..motion.level import LYING, lying_weight
from ..motion.representation import (LOCAL_ROTATIONS, POSITIONS, ROOT_ORIENTATION, VELOCITIES, features_to_rotations,
                                     joint_velocities, turn_about_vertical)
from ..motion.sitting import heading, sitting_frames
from ..placement import HeightMap
from ..rotations import axis_angle_to_matrix, matrix_to_quaternion, matrix_to_rotation_6d, quaternion_to_matrix
from ..skeleton import JOINT_INDEX, NUM_BODY_JOINTS, forward_kinematics
from ..time_series import runs

WALK_SPEED_M_S = {"staff": 1.1, "patient": 0.65, "person": 0.9}  # the procedural walkers' mid speeds per role
UPRIGHT_SHARE = 0.85  # a frame is upright when its pelvis is at least this share of the standing height up
MIN_UPRIGHT_S = 2.0  # shorter upright runs are not walked
HOLD_S = 0.5  # the walker stands this long before setting off (and after arriving, if nothing follows)
MIN_DRIFT_M = 0.3  # the model's pelvis drifting less than this over the run gives no way to walk
MIN_WALK_M = 0.6  # a free route shorter than this: the person is left as the model made them
MAX_WALK_M = 4.0  # the procedural walks in and out of the room: up to 4 m
BESIDE_M = 0.56  # people who walk together walk this far apart, side by side (the procedural supporters)
APPROACH_M = 1.0  # ... after closing up (or spreading out) over the walk's first metre
TURNS_DEG = (0, 20, -20, 40, -40, 60, -60, 90, -90, 120, -120, 150, -150, 180)
BLEND_S = 0.3  # the legs ease from the model's pose into the walk cycle (and back) over this long
PROBE_STEP_M = 0.1  # the route is checked for furniture every this many metres ...
PROBE_SIDE_M = 0.2  # ... at the pelvis and, from SIDE_FROM_M on, this far to either side ...
SIDE_FROM_M = 0.3  # (where the body stands already, furniture beside it is no obstacle to setting off)
PROBE_HEIGHTS_M = (0.1, 0.5, 0.9)  # ... at these heights above the floor
END_MARGIN_M = 0.5  # a route stops this short of the first furniture or wall it would meet

_PELVIS = JOINT_INDEX["pelvis"]
_GAIT_YAW = np.pi / 2  # the procedural gait's yaw is the way the body faces (``motion.sitting.heading``) plus this
_FEET = (JOINT_INDEX["left_foot"], JOINT_INDEX["right_foot"])
_SWUNG = tuple(j for leg in LEGS for j in leg) + tuple(arm[0] for arm in ARMS)


@dataclass(frozen=True)
class Walk:
    """One person's walk. start, stop: the frames [start, stop) it takes; xy: (n, 2) m the
    pelvis's route; yaw: (n,) radians the way the body faces along it (``motion.sitting.heading``); limbs: the walk cycle's
    angles (``gait.Swing``); turn: radians, how far the route's way is from the drift's;
    stands_after: the walker stands where the walk ends until the clip's end (else what follows,
    a fall, is carried to the walk's end as the model made it)."""

    start: int
    stop: int
    xy: np.ndarray
    yaw: np.ndarray
    limbs: Swing
    turn: float
    stands_after: bool = False


def walking_persons(roles: Sequence[str]) -> tuple[bool, ...]:
    """Who walks when the prompt is about a walk: everyone, together (a helper supporting a
    patient's walk walks beside them)."""
    return tuple(True for _ in roles)


def walk_walkers(x0: Tensor, mean: np.ndarray, std: np.ndarray, grids: Sequence[HeightMap | None] | None,
                 walkers: Sequence[Sequence[bool] | None], roles: Sequence[Sequence[str] | None], *, fps: float,
                 rest_joints: np.ndarray, frames_valid: Tensor | None = None) -> Tensor:
    """A sampler's result x0 (B, P, T, F), normalised, with its walkers walked (module docstring).

    mean, std: (F,) the checkpoint's statistics; grids: per batch row the scene's height map
    (None: no scene in that row, or ``grids`` None for none at all: any way is free); walkers:
    per row, per person whether they may be walked (None: nobody in that row); roles: per row
    the persons' roles (their walking speed; None: "person"); fps: the clips' frame rate;
    rest_joints: (24, 3) metres, the skeleton the decode uses; frames_valid: (B, T) bool, the
    real (unpadded) frames, or None for all (a row's padding is left alone). Rows and persons
    not walked are returned as they are.
    """
    mean64, std64 = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    out = x0
    for row, who in enumerate(walkers):
        if not who or not any(who):
            continue
        grid = None if grids is None else grids[row]
        row_roles = roles[row] if roles is not None and roles[row] is not None else ()
        frames = x0.shape[2] if frames_valid is None else int(frames_valid[row].sum())
        features = x0[row, :, :frames].detach().to("cpu", torch.float64).numpy() * std64 + mean64  # (P, T, F)
        persons = [person for person, may in enumerate(who[:len(features)]) if may]
        speed = min(WALK_SPEED_M_S.get(row_roles[p] if p < len(row_roles) else "person", WALK_SPEED_M_S["person"])
                    for p in persons)  # together, at the slowest one's pace
        walks = plan_walks([features[p] for p in persons], rest, fps, speed, grid)
        if walks is None:
            continue
        for person, walk in zip(persons, walks):
            features[person] = walked_features(features[person], walk, rest, fps)
        out = x0.clone() if out is x0 else out
        out[row, :, :frames] = torch.as_tensor((features - mean64) / std64, dtype=x0.dtype, device=x0.device)
    return out


def plan_walk(features: np.ndarray, rest_joints: np.ndarray, fps: float, speed: float,
              grid: HeightMap | None) -> Walk | None:
    """One person's un-normalised features (T, 264) -> their Walk at ``speed`` m/s (module
    docstring, 1. and 2.), or None when no upright run lasts MIN_UPRIGHT_S or no route of
    MIN_WALK_M is free."""
    walks = plan_walks([features], rest_joints, fps, speed, grid)
    return None if walks is None else walks[0]


def plan_walks(people: Sequence[np.ndarray], rest_joints: np.ndarray, fps: float, speed: float,
               grid: HeightMap | None) -> list[Walk] | None:
    """Persons who walk together, their un-normalised features (T, 264) each -> one Walk each
    at ``speed`` m/s (module docstring, 1. and 2.), along parallel routes that keep the places
    they have to one another when the walk starts (a helper beside the patient stays beside
    them), timed over the run in which all of them are upright; None when that run is shorter
    than MIN_UPRIGHT_S or no route of MIN_WALK_M is free for all of them."""
    joints = [_posed(features, rest_joints) for features in people]
    spans = [longest_upright(person, rest_joints, fps) for person in joints]
    if any(span is None for span in spans):
        return None
    run = (max(span[0] for span in spans), min(span[1] for span in spans))
    if run[1] - run[0] < MIN_UPRIGHT_S * fps:
        return None
    to_end = run[1] == len(joints[0])
    hold = int(round(HOLD_S * fps)) if to_end else 0  # a walk into a fall may be under way when the clip opens
    frames = run[1] - run[0] - 2 * hold
    stride = stride_for(speed) * (0.85 if speed < 0.7 else 1.0)

    def gait(origin: np.ndarray, way: float, length: float, facing: float = 0.0, side: float = 0.0):
        return walk_frames(_route(origin, way, length, side), speed, stride, fps, facing + _GAIT_YAW)

    def first_frame(length: float) -> int:  # a walk that ends in what follows runs into it
        return run[0] + hold if to_end else run[1] - len(gait(np.zeros(2), 0.0, length).xy)

    length = MAX_WALK_M
    while length >= MIN_WALK_M and len(gait(np.zeros(2), 0.0, length).xy) > frames:
        length -= 0.1
    if length < MIN_WALK_M:
        return None
    centre = np.mean([person[:, _PELVIS, :2] for person in joints], axis=0)  # (T, 2)
    way = drift_way(centre[run[0]:run[1]], np.stack([heading(person[run[0]:run[1]]) for person in joints]))
    start = first_frame(length)
    starts = np.array([person[start, _PELVIS, :2] for person in joints])
    length, turn = _free_route(grid, starts, [person[run[1]:] for person in joints], way, length)
    if length < MIN_WALK_M:
        return None
    start = first_frame(length)
    starts = np.array([person[start, _PELVIS, :2] for person in joints])
    leg_length = Body(np.asarray(rest_joints, dtype=np.float64), np.zeros(10)).leg_length
    walks = []
    for person, origin, side in zip(joints, starts, _sides(starts, way + turn)):
        walked = gait(origin, way + turn, length, float(heading(person[start])), side)
        n = min(len(walked.xy), run[1] - start)
        limbs = swing(walked, speed, stride, leg_length)
        walks.append(Walk(start=start, stop=start + n, xy=walked.xy[:n], yaw=walked.yaw[:n] - _GAIT_YAW,
                          limbs=_cut(limbs, n), turn=turn, stands_after=to_end))
    return walks


def _sides(starts: np.ndarray, way: float) -> np.ndarray:
    """(K, 2) m where K people who walk together stand when the walk starts, and its way
    (radians) -> (K,) m, how far each moves to the left of the way on the walk's first
    APPROACH_M: side by side, BESIDE_M apart about their middle, in the order they stand in
    across the way (one person: 0)."""
    if len(starts) < 2:
        return np.zeros(len(starts))
    left = np.array([-np.sin(way), np.cos(way)])
    across = (starts - starts.mean(axis=0)) @ left
    target = (np.argsort(np.argsort(across)) - (len(starts) - 1) / 2.0) * BESIDE_M
    return target - across


def _route(origin: np.ndarray, way: float, length: float, side: float) -> np.ndarray:
    """(K, 2) m: the polyline of a route ``length`` m long from ``origin`` (2,) m the ``way``
    (radians), drifting ``side`` m to its left over the first APPROACH_M (a smooth step)."""
    direction = np.array([np.cos(way), np.sin(way)])
    if abs(side) < 1e-6:
        return np.array([origin, origin + length * direction])
    along = np.append(np.arange(0.0, min(APPROACH_M, length), 0.1), length)
    share = _smooth(along / min(APPROACH_M, length))
    return origin + along[:, None] * direction + (side * share)[:, None] * np.array([-direction[1], direction[0]])


def drift_way(pelvis: np.ndarray, faces: np.ndarray) -> float:
    """The (n, 2) m pelvis path of an upright run and the ways (..., n) radians the bodies face
    over it -> radians from +x: the way the path drifts from its first frame to its last, or,
    when that is less than MIN_DRIFT_M, the way the bodies face on average."""
    drift = pelvis[-1] - pelvis[0]
    if np.linalg.norm(drift) >= MIN_DRIFT_M:
        return float(np.arctan2(drift[1], drift[0]))
    return float(np.arctan2(np.sin(faces).mean(), np.cos(faces).mean()))


def longest_upright(joints: np.ndarray, rest_joints: np.ndarray, fps: float) -> tuple[int, int] | None:
    """(T, 22, 3) joints (m) -> the longest run [start, stop) of upright frames (module
    docstring) lasting MIN_UPRIGHT_S or more, or None."""
    standing = standing_pelvis_height(rest_joints)
    upright = (lying_weight(joints) < LYING) & ~sitting_frames(joints[None])[0] & \
        (joints[:, _PELVIS, 2] >= UPRIGHT_SHARE * standing)
    spans = [span for span in runs(upright) if span[1] - span[0] >= MIN_UPRIGHT_S * fps]
    return max(spans, key=lambda span: span[1] - span[0]) if spans else None


def standing_pelvis_height(rest_joints: np.ndarray) -> float:
    """Metres: the pelvis's height over the floor with straight legs and flat feet (the rest
    joints (24, 3) are Y-up)."""
    rest = np.asarray(rest_joints, dtype=np.float64)
    return float(rest[_PELVIS, 1] - rest[list(_FEET), 1].mean() + FOOT_JOINT_Z)


def walked_features(features: np.ndarray, walk: Walk, rest_joints: np.ndarray, fps: float) -> np.ndarray:
    """One person's un-normalised features (T, 264) and their Walk -> the features walked
    (module docstring, 3. and 4.). float64."""
    x = np.array(features, dtype=np.float64)
    T = len(x)
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    angle, pivot, shift = _rigid_moves(_posed(x, rest_joints), walk)
    before = x[:, POSITIONS].reshape(T, NUM_BODY_JOINTS, 3).copy()
    x = turn_about_vertical(x, angle, pivot)
    turned = x[:, POSITIONS].reshape(T, NUM_BODY_JOINTS, 3).copy()
    moved = turned.copy()
    moved[..., :2] += shift[:, None]
    # The velocities the rigid move adds: what the moved positions step beyond the turned steps.
    steps = joint_velocities(before)
    steps[..., :2] = _rotate(steps[..., :2], angle[:, None])
    velocity_change = joint_velocities(moved) - steps
    # The legs stepped, on the pelvis over the route.
    local = features_to_rotations(x)
    pelvis = moved[:, _PELVIS].copy()
    _, posed = forward_kinematics(local, rest, pelvis - rest[0], parents=BODY_PARENTS)
    weight = _blend_weight(T, walk, fps)
    stepped = _stepped_rotations(local, walk, weight)
    drop = Body(rest, np.zeros(10)).leg_length * (1.0 - np.cos(_spread(walk.limbs.hip_amplitude, walk, T)))
    phase = _spread(walk.limbs.phase, walk, T)
    height = standing_pelvis_height(rest_joints) - drop * (0.45 + 0.3 * np.cos(4 * np.pi * phase))
    pelvis[:, 2] += weight * (height - pelvis[:, 2])
    _lock_stance_feet(stepped, pelvis, walk, np.asarray(rest_joints, dtype=np.float64))
    _, after = forward_kinematics(stepped, rest, pelvis - rest[0], parents=BODY_PARENTS)
    change = after - posed
    change[:, _PELVIS] = pelvis - moved[:, _PELVIS]
    positions = moved + change
    x[:, POSITIONS] = positions.reshape(T, -1)
    x[:, VELOCITIES] += (velocity_change + joint_velocities(change)).reshape(T, -1)
    frames = weight > 0
    for joint in _SWUNG:
        start = LOCAL_ROTATIONS.start + 6 * (joint - 1)
        x[:, start:start + 6] = np.where(frames[:, None], matrix_to_rotation_6d(stepped[:, joint]),
                                         x[:, start:start + 6])
    return x


def _rigid_moves(joints: np.ndarray, walk: Walk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame the turn (T,) radians about the vertical through pivot (T, 2) m and the shift
    (T, 2) m after it that put the body on the walk (module docstring, 3.)."""
    T = len(joints)
    faces = np.unwrap(heading(joints))
    pelvis = joints[:, _PELVIS, :2]
    angle, pivot, shift = np.zeros(T), pelvis.copy(), np.zeros((T, 2))
    span = slice(walk.start, walk.stop)
    angle[span] = _wrapped(walk.yaw - faces[span])
    shift[span] = walk.xy - pelvis[span]
    last = walk.stop - 1
    if walk.stands_after:  # standing where the walk ended, facing its way: the model's drift and turns left out
        angle[walk.stop:] = _wrapped(walk.yaw[-1] - faces[walk.stop:])
        shift[walk.stop:] = walk.xy[-1] - pelvis[walk.stop:]
    else:
        angle[walk.stop:], pivot[walk.stop:], shift[walk.stop:] = angle[last], pelvis[last], shift[last]
    return angle, pivot, shift


def _stepped_rotations(local: np.ndarray, walk: Walk, weight: np.ndarray) -> np.ndarray:
    """(T, 22, 3, 3) the model's rotations -> the same with legs on the walk cycle and the arms
    swinging, eased from and back to the model's by ``weight`` (T,)."""
    T = len(local)
    stepped = local.copy()
    cycle = local.copy()
    limbs = walk.limbs
    zeros = np.zeros(T)

    def about_x(angles: np.ndarray) -> np.ndarray:
        return axis_angle_to_matrix(np.column_stack([_spread(angles, walk, T), zeros, zeros]))

    for side in range(2):
        hip, knee, ankle = LEGS[side]
        cycle[:, hip] = about_x(-limbs.hip[side])
        cycle[:, knee] = about_x(limbs.knee[side])
        cycle[:, ankle] = about_x(limbs.ankle[side])
        shoulder = ARMS[side][0]
        cycle[:, shoulder] = about_x(-limbs.shoulder[side]) @ local[:, shoulder]
    joints = list(_SWUNG)
    q0 = matrix_to_quaternion(local[:, joints])
    q1 = matrix_to_quaternion(cycle[:, joints])
    q1 = np.where((q0 * q1).sum(-1, keepdims=True) < 0, -q1, q1)
    blended = q0 + weight[:, None, None] * (q1 - q0)  # normalised lerp: the blend is short
    blended /= np.linalg.norm(blended, axis=-1, keepdims=True)
    stepped[:, joints] = quaternion_to_matrix(blended)
    return stepped


def _lock_stance_feet(local: np.ndarray, pelvis: np.ndarray, walk: Walk, rest_joints: np.ndarray) -> None:
    """Hold each stance foot of the walk where its stance began, flat on the floor, by turning
    hip and knee (the procedural walkers' foot lock, ``motion.planted_feet.foot_targets``): the cycle
    alone lets a planted foot slip by about a third of the body's speed. local: (T, 22, 3, 3),
    updated in place; pelvis: (T, 3) m."""
    T = len(local)
    rest = rest_joints[:NUM_BODY_JOINTS]
    planted = np.zeros((T, 2), dtype=bool)
    planted[walk.start:walk.stop] = walk.limbs.planted
    planted[walk.stop:] = walk.stands_after
    world, joints = forward_kinematics(local, rest, pelvis - rest[0], parents=BODY_PARENTS)
    targets, weights, flat = foot_targets(Body(rest_joints, np.zeros(10)), world, joints, planted)
    forward = world[:, 0] @ np.array([0.0, 0.0, 1.0])
    for side in range(2):
        two_bone_ik(rest_joints, LEGS[side], world, joints, local, targets[:, side], weights[:, side], forward,
                    keep_end_rotation=flat[:, side])


def _blend_weight(T: int, walk: Walk, fps: float) -> np.ndarray:
    """(T,) in [0, 1]: 1 over the walk, eased in over BLEND_S before it and out over as long after
    (1 to the end when the walker stands after it)."""
    ease = max(1, int(round(BLEND_S * fps)))
    t = np.arange(T, dtype=np.float64)
    into = np.clip((t - (walk.start - ease)) / ease, 0.0, 1.0)
    out_of = np.clip(((walk.stop - 1 + ease) - t) / ease, 0.0, 1.0) if not walk.stands_after else 1.0
    return _smooth(np.minimum(into, out_of))


def _spread(values: np.ndarray, walk: Walk, T: int) -> np.ndarray:
    """A walk's per-frame series (n,) laid on the clip's T frames, the first and last value held
    before and after it."""
    out = np.empty(T)
    out[:walk.start] = values[0]
    out[walk.start:walk.stop] = values[:walk.stop - walk.start]
    out[walk.stop:] = values[walk.stop - walk.start - 1]
    return out


def _free_route(grid: HeightMap | None, starts: np.ndarray, after: Sequence[np.ndarray], way: float,
                want: float) -> tuple[float, float]:
    """The routes of people standing at ``starts`` (K, 2) m (module docstring, 1.; side by side
    after APPROACH_M, ``_sides``): their free length (m, at most ``want``; the shortest
    person's) and their turn from ``way`` (radians). after: per person (n, 22, 3) the joints of
    the frames after the walk, which land at its end turned with it."""
    if grid is None:
        return want, 0.0
    best: tuple[tuple[float, int, float], float, float] | None = None
    for degrees in TURNS_DEG:
        turn = float(np.radians(degrees))
        direction = np.array([np.cos(way + turn), np.sin(way + turn)])
        origins = starts + _sides(starts, way + turn)[:, None] * np.array([-direction[1], direction[0]])
        length = min(_free_length(grid, origin, direction, want) for origin in origins)
        blocked = 0
        for origin, rest_of_clip in zip(origins, after):
            if len(rest_of_clip):
                landed = rest_of_clip.copy()
                landed[..., :2] = _rotate(rest_of_clip[..., :2] - rest_of_clip[0, _PELVIS, :2],
                                          way + turn - heading(rest_of_clip[0])) + origin + length * direction
                blocked += int(grid.blocked(landed).sum())
        if length >= want - 1e-6 and blocked == 0:
            return length, turn
        key = (round(length, 1), -blocked, -abs(degrees))
        if best is None or key > best[0]:
            best = (key, length, turn)
    return best[1], best[2]


def _free_length(grid: HeightMap, origin: np.ndarray, direction: np.ndarray, want: float) -> float:
    """How far (m) a body walks from ``origin`` (2,) along ``direction`` (2,) before its
    footprint meets furniture or leaves the room, less END_MARGIN_M; at most ``want``."""
    along = np.arange(0.0, want + END_MARGIN_M + PROBE_STEP_M, PROBE_STEP_M)
    side = np.array([-direction[1], direction[0]])
    xy = origin + along[:, None, None] * direction + np.array([-PROBE_SIDE_M, 0.0, PROBE_SIDE_M])[None, :, None] * side
    probes = np.concatenate([np.broadcast_to(xy[:, :, None], (*xy.shape[:2], len(PROBE_HEIGHTS_M), 2)),
                             np.broadcast_to(np.array(PROBE_HEIGHTS_M)[None, None, :, None],
                                             (*xy.shape[:2], len(PROBE_HEIGHTS_M), 1))], axis=-1)
    blocked = grid.blocked(probes)  # (steps, 3 sides, heights)
    blocked[along < SIDE_FROM_M, 0::2] = False
    hit = blocked.any(axis=(1, 2))
    if not hit.any():
        return want
    return float(max(0.0, along[int(np.argmax(hit))] - END_MARGIN_M))


def _posed(features: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """(T, 264) -> (T, 22, 3) m: forward kinematics of the rotations on the predicted pelvis."""
    x = np.asarray(features, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    pelvis = x[:, POSITIONS.start:POSITIONS.start + 3]
    return forward_kinematics(features_to_rotations(x), rest, pelvis - rest[0], parents=BODY_PARENTS)[1]


def _cut(limbs: Swing, n: int) -> Swing:
    return Swing(limbs.phase[:n], limbs.hip[:, :n], limbs.knee[:, :n], limbs.ankle[:, :n], limbs.shoulder[:, :n],
                 limbs.planted[:n], limbs.hip_amplitude[:n])


def _wrapped(angle: np.ndarray) -> np.ndarray:
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def _smooth(u: np.ndarray | float) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _rotate(xy: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return np.stack([cos * xy[..., 0] - sin * xy[..., 1], sin * xy[..., 0] + cos * xy[..., 1]], axis=-1)
