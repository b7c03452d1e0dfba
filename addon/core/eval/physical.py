"""Evaluator-free physical metrics of generated joints (motion-generation-anchors.md §5 B).

Every function takes one clip: ``joints`` (P, T, 22, 3) float, SMPL's first 22 joints in
SMPL order, world metres, Z up, floor z = 0, P persons (1..4) and T frames. Joints sit
inside the body: a standing person's foot joints are ~2.6 cm above the floor and a person
lying on the floor has the pelvis and spine joints ~8-12 cm above it, which is why the
thresholds below are what they are. Lower is better for every metric except the contact ones.
The per-clip numbers are combined over a test set by :func:`.physical_report.physical_metrics`.
"""

from __future__ import annotations

import numpy as np

from ..motion.representation import (
    FEATURE_DIM,
    POSITIONS,
    VELOCITIES,
    features_to_joints,
    fk_joints_from_features,
    joint_velocities,
)
from ..motion.sitting import sitting_frames
from ..skeleton import JOINT_INDEX, NUM_BODY_JOINTS
from ..time_series import centred_mean
from .geometry import (
    BONE_CHILDREN,
    BONE_RADII,
    bone_points,
    bone_segments,
    check_boxes,
    check_joints,
    depth_inside_boxes,
    inside_footprints,
    segment_distance,
)

FEET = (JOINT_INDEX["left_foot"], JOINT_INDEX["right_foot"])  # 10, 11
# Joints that can touch another person: elbows and wrists (SMPL's hand joints 22/23 are not in the 22).
REACHING = tuple(JOINT_INDEX[n] for n in ("left_elbow", "right_elbow", "left_wrist", "right_wrist"))  # 18..21

SKATING_HEIGHT_M = 0.05  # foot joint below this in two consecutive frames: in contact
SKATING_SPEED_M_S = 0.5  # contact foot faster than this (and its 5-frame mean too): skating
SKATING_WINDOW = 5  # frames of the centred speed mean
FLOAT_HEIGHT_M = 0.15  # lowest joint this far above its support: floating
FOREARM_CHILDREN = (20, 21)  # the bones elbow -> wrist end at the wrists
SEAT_TOP_M = (0.3, 0.75)  # a seat's top is this high (m): lower are steps, higher tables
SEAT_MAX_AREA_M2 = 1.0  # ... and its footprint smaller than this (beds are larger)
SEATED_ABOVE_M = 0.35  # a sitter's pelvis at most this far above the seat (sitting: about 0.18 m)
PENETRATION_TOLERANCE_M = 0.02  # capsule overlaps and box intrusions shallower than this are ignored


def foot_skating_ratio(joints: np.ndarray, fps: float) -> float:
    """Fraction of foot-frames in which a planted foot slides (MotionLCM / OmniControl's skating ratio).

    joints: (P, T, 22, 3) metres; fps: frames per second (speeds are in m/s, so any rate works;
    the reference code hard-codes 20 fps). For feet 10 and 11 over the T - 1 frame intervals:

        contact  = foot z < 0.05 m at both ends of the interval
        speed    = horizontal (xy) displacement over the interval · fps, m/s
        skating  = contact and speed > 0.5 m/s and the centred 5-interval mean speed > 0.5 m/s
        ratio    = skating foot-intervals / (2 · P · (T - 1))

    The reference code ORs the two feet and divides by frames; this counts each foot on its
    own. The mean at the clip ends averages the intervals that exist (no zero padding).
    T < 2 gives 0.0.
    """
    joints = check_joints(joints)
    _check_fps(fps)
    if joints.shape[1] < 2:
        return 0.0
    feet = joints[:, :, FEET]  # (P, T, 2, 3)
    low = feet[..., 2] < SKATING_HEIGHT_M  # (P, T, 2)
    contact = low[:, :-1] & low[:, 1:]  # (P, T-1, 2)
    speed = np.linalg.norm(np.diff(feet[..., :2], axis=1), axis=-1) * fps  # (P, T-1, 2) m/s
    mean_speed = centred_mean(speed, SKATING_WINDOW, axis=1)
    skating = contact & (speed > SKATING_SPEED_M_S) & (mean_speed > SKATING_SPEED_M_S)
    return float(skating.mean())


def floor_penetration(joints: np.ndarray) -> float:
    """Mean over persons and frames of max(0, -lowest joint z): how deep the body sinks below z = 0, metres."""
    joints = check_joints(joints)
    lowest = joints[..., 2].min(axis=-1)  # (P, T)
    return float(np.maximum(0.0, -lowest).mean())


def floor_float(joints: np.ndarray, boxes: np.ndarray | None = None) -> float:
    """Fraction of person-frames whose lowest joint is more than 0.15 m above its highest support.

    boxes: (K, 7) furniture rows (see :mod:`.geometry`), or None / empty for a bare floor.
    The support under the lowest joint is the floor (z = 0) or the top of any box whose
    footprint contains the joint's xy and whose bottom is below the joint (a box the joint has
    sunk into still supports it; a shelf above it does not). 0.15 m clears a lying person's
    pelvis (~0.1 m above the surface) and a standing person's feet (~0.03 m).
    """
    joints = check_joints(joints)
    boxes = check_boxes(boxes)
    lowest_index = joints[..., 2].argmin(axis=-1)  # (P, T)
    lowest = np.take_along_axis(joints, lowest_index[..., None, None], axis=2)[:, :, 0]  # (P, T, 3)
    support = np.zeros(lowest.shape[:2])
    if len(boxes):
        under = inside_footprints(lowest[..., :2], boxes) & (boxes[:, 5] <= lowest[..., 2:3])  # (P, T, K)
        support = np.maximum(support, np.where(under, boxes[:, 6], 0.0).max(axis=-1))
    return float((lowest[..., 2] - support > FLOAT_HEIGHT_M).mean())


def seated_share(joints: np.ndarray, boxes: np.ndarray | None, on: str = "chair") -> float | None:
    """Of the person-frames whose pose sits (``motion.sitting.sitting_frames``), the share whose
    pelvis is over a seat: a box whose top is SEAT_TOP_M high, with a footprint under
    SEAT_MAX_AREA_M2 (``on="chair"``: chairs) or from there up (``on="bed"``: beds), and at most
    SEATED_ABOVE_M below the pelvis. None when no frame sits. joints: (P, T, 22, 3) metres;
    boxes: (K, 7) rows (see :mod:`.geometry`)."""
    if on not in ("chair", "bed"):
        raise ValueError(f"seated_share: on must be 'chair' or 'bed', got {on!r}")
    joints = check_joints(joints)
    boxes = check_boxes(boxes)
    sits = sitting_frames(joints)
    if not sits.any():
        return None
    if not len(boxes):
        return 0.0
    pelvis = joints[:, :, 0]
    small = boxes[:, 3] * boxes[:, 4] < SEAT_MAX_AREA_M2
    seat = (boxes[:, 6] >= SEAT_TOP_M[0]) & (boxes[:, 6] <= SEAT_TOP_M[1]) & (small if on == "chair" else ~small)
    height = pelvis[..., 2:3] - boxes[:, 6]
    over = inside_footprints(pelvis[..., :2], boxes) & seat & (height >= 0.0) & (height <= SEATED_ABOVE_M)
    return float((sits & over.any(axis=-1)).sum() / sits.sum())


def person_penetration(joints: np.ndarray, include_forearms: bool = False) -> dict[str, float]:
    """How often and how deeply two persons' bone capsules overlap.

    For every pair of persons and every frame: depth = max over bone pairs of
    (r_a + r_b) - segment distance (radii: :data:`.geometry.BONE_RADII`); the pair-frame
    penetrates when depth > 0.02 m (capsules are crude, touching bodies overlap a little).
    The forearms (elbow -> wrist) are left out unless ``include_forearms``: they are what
    people touch each other with (a hand holding an arm wraps around it), and touching is
    scored by :func:`contact_rate`.
    Returns {"frames_fraction": penetrating pair-frames / pair-frames,
    "mean_depth_m": mean depth of the penetrating pair-frames (0.0 if none)}. P = 1: zeros.
    """
    joints = check_joints(joints)
    if joints.shape[0] < 2:
        return {"frames_fraction": 0.0, "mean_depth_m": 0.0}
    return _fraction_and_depth(penetration_depths(joints, include_forearms))


def penetration_depths(joints: np.ndarray, include_forearms: bool = False,
                       scales: np.ndarray | None = None) -> np.ndarray:
    """(pairs, T) deepest capsule overlap (m) of each pair of persons in each frame (see
    :func:`person_penetration`); pairs in the order (0, 1), (0, 2) ... (P-2, P-1).

    scales: (P,) each person's build relative to SMPL's (their capsule radii times it; an
    avatar retargeted at a leg-length ratio of 1.2 is that much thicker); None: all 1."""
    joints = check_joints(joints)
    P = joints.shape[0]
    scales = np.ones(P) if scales is None else np.asarray(scales, dtype=np.float64)
    start, end = bone_segments(joints)  # (P, T, 21, 3) each
    radius = BONE_RADII
    if not include_forearms:
        keep = ~np.isin(BONE_CHILDREN, FOREARM_CHILDREN)
        start, end, radius = start[:, :, keep], end[:, :, keep], radius[keep]
    depths = []
    for a in range(P):
        for b in range(a + 1, P):
            distance = segment_distance(
                start[a][:, :, None], end[a][:, :, None], start[b][:, None, :], end[b][:, None, :]
            )  # (T, B, B)
            radii = scales[a] * radius[:, None] + scales[b] * radius[None, :]  # (B, B)
            depths.append((radii - distance).max(axis=(1, 2)))  # (T,)
    return np.stack(depths) if depths else np.zeros((0, joints.shape[1]))


def max_person_penetration(joints: np.ndarray) -> float:
    """The deepest overlap (m) of any two persons in any frame; 0.0 for one person."""
    depths = penetration_depths(joints)
    return float(depths.max()) if depths.size else 0.0


def scene_penetration(joints: np.ndarray, boxes: np.ndarray | None, samples_per_bone: int = 4) -> dict[str, float]:
    """How often and how deeply bones pass into furniture boxes.

    Points: ``samples_per_bone`` evenly spaced on each bone, both end joints included. A point
    penetrates when it lies inside a box shrunk by 0.02 m on every side (in the box frame), its
    depth being the distance to the box's nearest face. A person-frame penetrates when any point
    does; its depth is the largest. Bone radii are ignored, so a body resting on a seat (joints
    ~0.1 m above it) does not count. Returns {"frames_fraction": penetrating person-frames /
    person-frames, "mean_depth_m": mean depth of those (0.0 if none)}; no boxes: zeros.
    """
    joints = check_joints(joints)
    boxes = check_boxes(boxes)
    if len(boxes) == 0:
        return {"frames_fraction": 0.0, "mean_depth_m": 0.0}
    points = bone_points(joints, samples_per_bone)  # (P, T, N, 3)
    depth = depth_inside_boxes(points, boxes).max(axis=(-2, -1))  # (P, T) deepest point in any box
    return _fraction_and_depth(depth)


def contact_rate(joints: np.ndarray, max_distance: float = 0.15) -> float:
    """Fraction of frames in which one person's elbow or wrist (18-21) is within ``max_distance``
    metres of any joint of another person. Joints sit ~5 cm inside the skin, so 0.15 m is a hand
    on a shoulder or arm. P = 1 gives 0.0.
    """
    return float(_contact_frames(joints, max_distance).mean()) if np.shape(joints)[0] >= 2 else 0.0


def has_contact(joints: np.ndarray, min_frames: int = 3, max_distance: float = 0.15) -> bool:
    """True when the contact of :func:`contact_rate` lasts at least ``min_frames`` consecutive
    frames (a single-frame graze of noisy joints is not a touch). P = 1 gives False.
    """
    if np.shape(joints)[0] < 2:
        return False
    longest = run = 0
    for touching in _contact_frames(joints, max_distance):
        run = run + 1 if touching else 0
        longest = max(longest, run)
    return longest >= min_frames


def bone_length_std(joints: np.ndarray) -> float:
    """Mean over persons and the 21 bones of the standard deviation over time of the bone length, metres.

    A rigid skeleton scores 0; InterGen adds a bone-length loss because generated joints drift.
    """
    joints = check_joints(joints)
    start, end = bone_segments(joints)
    lengths = np.linalg.norm(end - start, axis=-1)  # (P, T, 21)
    return float(lengths.std(axis=1).mean())


def fk_agreement(features: np.ndarray, rest_joints: np.ndarray) -> float:
    """MPJPE (metres) between the stored positions and FK of the stored rotations.

    features: (P, T, 264) un-normalised (representation.py layout).
    rest_joints: (24, 3) or (22, 3) one skeleton for everyone, or (P, 24, 3) per person,
    template frame, metres. Consistent features (e.g. encoded data) score ~0.
    """
    features = _check_features(features)
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.ndim == 3:
        if rest.shape[0] != features.shape[0]:
            raise ValueError(f"rest_joints: {rest.shape[0]} skeletons for {features.shape[0]} persons")
        rest = rest[:, None]  # (P, 1, J, 3): one skeleton per person, broadcast over frames
    stored = features_to_joints(features)
    recomputed = fk_joints_from_features(features, rest)
    return float(np.linalg.norm(stored - recomputed, axis=-1).mean())


def velocity_agreement(features: np.ndarray, fps: float) -> float:
    """Mean norm, m/s, of (stored velocities - forward differences of the stored positions).

    features: (P, T, 264) un-normalised. The stored velocities are metres per frame with the
    last frame repeating the one before (:func:`..motion.representation.joint_velocities`), so
    the same convention is recomputed here and encoded data scores ~0; times fps gives m/s.
    """
    features = _check_features(features)
    _check_fps(fps)
    P, T = features.shape[:2]
    positions = features[..., POSITIONS].reshape(P, T, NUM_BODY_JOINTS, 3)
    stored = features[..., VELOCITIES].reshape(P, T, NUM_BODY_JOINTS, 3)
    expected = np.stack([joint_velocities(person) for person in positions])
    return float(np.linalg.norm(stored - expected, axis=-1).mean() * fps)


def _contact_frames(joints: np.ndarray, max_distance: float) -> np.ndarray:
    """(P >= 2, T, 22, 3) -> (T,) bool: some person reaches within max_distance of another."""
    joints = check_joints(joints)
    P = joints.shape[0]
    touching = np.zeros(joints.shape[1], dtype=bool)
    for a in range(P):
        for b in range(P):
            if a != b:
                reach = joints[a][:, REACHING, None, :] - joints[b][:, None, :, :]  # (T, 4, 22, 3)
                touching |= np.linalg.norm(reach, axis=-1).min(axis=(1, 2)) <= max_distance
    return touching


def _fraction_and_depth(depth: np.ndarray) -> dict[str, float]:
    penetrating = depth > PENETRATION_TOLERANCE_M
    mean_depth = float(depth[penetrating].mean()) if penetrating.any() else 0.0
    return {"frames_fraction": float(penetrating.mean()), "mean_depth_m": mean_depth}


def _check_features(features: np.ndarray) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 3 or array.shape[-1] != FEATURE_DIM:
        raise ValueError(f"features: expected (P, T, 264) un-normalised, got {array.shape}")
    return array


def _check_fps(fps: float) -> None:
    if not fps > 0:
        raise ValueError(f"fps: must be > 0, got {fps}")
