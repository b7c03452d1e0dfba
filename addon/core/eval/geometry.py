"""Joint-only body and scene geometry for the physical metrics: bone capsules, segment distances, boxes.

A body is approximated by 21 capsules, one per bone (joint j, parent(j)) for SMPL joints
1..21, with the radii of :data:`BONE_RADII` (metres, rough adult values: joints sit inside
the body, so a capsule around the bone stands in for the flesh around it).

Furniture boxes are rows ``[cx, cy, yaw, sx, sy, z_bottom, z_top]`` (metres, radians): a box
centred at (cx, cy) in the floor plane, turned by ``yaw`` about +z, ``sx`` long along its
local x and ``sy`` along its local y, from ``z_bottom`` up to ``z_top``. World frame: Z up,
floor z = 0.
"""

from __future__ import annotations

import numpy as np

from ..skeleton import JOINT_INDEX, NUM_BODY_JOINTS, PARENTS

BOX_COLUMNS = ("cx", "cy", "yaw", "sx", "sy", "z_bottom", "z_top")

# Capsule radius of the bone ending at each joint (the child), metres.
_RADIUS_BY_CHILD: dict[str, float] = {
    "left_hip": 0.10, "right_hip": 0.10,  # pelvis -> hip
    "spine1": 0.10, "spine2": 0.10, "spine3": 0.10,  # torso
    "left_knee": 0.07, "right_knee": 0.07,  # thigh
    "left_ankle": 0.05, "right_ankle": 0.05,  # shin
    "left_foot": 0.04, "right_foot": 0.04,  # foot
    "neck": 0.08, "head": 0.08,  # spine3 -> neck, neck -> head
    "left_collar": 0.05, "right_collar": 0.05,  # spine3 -> collar
    "left_shoulder": 0.05, "right_shoulder": 0.05,  # collar -> shoulder
    "left_elbow": 0.045, "right_elbow": 0.045,  # upper arm
    "left_wrist": 0.045, "right_wrist": 0.045,  # forearm
}
BONE_CHILDREN: np.ndarray = np.arange(1, NUM_BODY_JOINTS)  # (21,) joints 1..21
BONE_PARENTS: np.ndarray = np.array([PARENTS[j] for j in BONE_CHILDREN])  # (21,)
BONE_RADII: np.ndarray = np.array(
    [_RADIUS_BY_CHILD[name] for name, j in JOINT_INDEX.items() if 1 <= j < NUM_BODY_JOINTS]
)  # (21,) metres, in the order of BONE_CHILDREN
assert len(BONE_RADII) == len(BONE_CHILDREN)

_EPS = 1e-12


def check_joints(joints: np.ndarray, name: str = "joints") -> np.ndarray:
    """(P, T, 22, 3) metres -> the same as float64; ValueError naming ``name`` otherwise."""
    array = np.asarray(joints, dtype=np.float64)
    if array.ndim != 4 or array.shape[2:] != (NUM_BODY_JOINTS, 3):
        raise ValueError(f"{name}: expected (P, T, {NUM_BODY_JOINTS}, 3) metres, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: non-finite values")
    return array


def check_boxes(boxes: np.ndarray | None) -> np.ndarray:
    """(K, 7) rows as in the module docstring (None or empty: (0, 7)) -> float64."""
    if boxes is None:
        return np.zeros((0, 7))
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 7))
    if array.ndim != 2 or array.shape[1] != 7:
        raise ValueError(f"boxes: expected (K, 7) rows {list(BOX_COLUMNS)}, got {array.shape}")
    return array


def bone_segments(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 22, 3) -> (start, end), each (..., 21, 3): parent joint and child joint of every bone."""
    return joints[..., BONE_PARENTS, :], joints[..., BONE_CHILDREN, :]


def bone_points(joints: np.ndarray, samples_per_bone: int) -> np.ndarray:
    """(..., 22, 3) -> (..., 21 · samples_per_bone, 3): evenly spaced points on every bone, ends included."""
    if samples_per_bone < 2:
        raise ValueError(f"samples_per_bone: need >= 2 (both end joints), got {samples_per_bone}")
    start, end = bone_segments(joints)
    fractions = np.linspace(0.0, 1.0, samples_per_bone)[:, None]  # (S, 1)
    points = start[..., :, None, :] + fractions * (end - start)[..., :, None, :]  # (..., 21, S, 3)
    return points.reshape(*points.shape[:-3], -1, 3)


def segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Shortest distance between segments [p1, q1] and [p2, q2]; inputs (..., 3) broadcast, result (...).

    Closest points p1 + s·d1 and p2 + t·d2 with s, t in [0, 1] (Ericson 2005, *Real-Time
    Collision Detection* §5.1.9): minimise |r + s·d1 - t·d2|², r = p1 - p2, first for
    the infinite lines, then clamp s, recompute t for that s, clamp t and recompute s.
    Parallel segments (a·e - b² = 0) start from s = 0; a zero-length segment is a point
    and its parameter stays 0.
    """
    p1, q1, p2, q2 = (np.asarray(v, dtype=np.float64) for v in (p1, q1, p2, q2))
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = np.sum(d1 * d1, axis=-1)  # |d1|²
    e = np.sum(d2 * d2, axis=-1)  # |d2|²
    b = np.sum(d1 * d2, axis=-1)
    c = np.sum(d1 * r, axis=-1)
    f = np.sum(d2 * r, axis=-1)
    point1, point2 = a <= _EPS, e <= _EPS
    safe_a, safe_e = np.where(point1, 1.0, a), np.where(point2, 1.0, e)
    # 1. Closest points of the infinite lines; s = 0 for parallel lines.
    denom = a * e - b * b
    parallel = denom <= _EPS * np.maximum(a * e, _EPS)
    s = np.where(parallel, 0.0, np.clip((b * f - c * e) / np.where(parallel, 1.0, denom), 0.0, 1.0))
    # 2. The point on segment 2 nearest to p1 + s·d1, clamped; when clamped, s moves again.
    t = (b * s + f) / safe_e
    s = np.where(t < 0.0, np.clip(-c / safe_a, 0.0, 1.0), np.where(t > 1.0, np.clip((b - c) / safe_a, 0.0, 1.0), s))
    t = np.clip(t, 0.0, 1.0)
    # 3. Degenerate segments: a point's parameter is 0, the other is the projection onto it.
    s = np.where(point1, 0.0, s)
    t = np.where(point1 & ~point2, np.clip(f / safe_e, 0.0, 1.0), t)
    s = np.where(point2 & ~point1, np.clip(-c / safe_a, 0.0, 1.0), s)
    t = np.where(point2, 0.0, t)
    gap = r + s[..., None] * d1 - t[..., None] * d2
    return np.sqrt(np.sum(gap * gap, axis=-1))


def points_in_box_frame(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """points (..., 3) world, boxes (K, 7) -> (..., K, 3) in each box's frame (origin at the box centre at z = 0)."""
    cos, sin = np.cos(boxes[:, 2]), np.sin(boxes[:, 2])  # (K,)
    dx = points[..., None, 0] - boxes[:, 0]  # (..., K)
    dy = points[..., None, 1] - boxes[:, 1]
    # Rotate by -yaw: world offset -> box-local coordinates.
    local_x = cos * dx + sin * dy
    local_y = -sin * dx + cos * dy
    local_z = np.broadcast_to(points[..., None, 2], local_x.shape)
    return np.stack([local_x, local_y, local_z], axis=-1)


def depth_inside_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """points (..., 3), boxes (K, 7) -> (..., K) distance from each point to each box's surface, metres.

    Positive inside the box (the distance to the nearest face), <= 0 outside (then only the
    sign is meaningful: it is minus the distance to the nearest face's plane, not to the box).
    """
    local = points_in_box_frame(points, boxes)
    to_x = boxes[:, 3] / 2 - np.abs(local[..., 0])
    to_y = boxes[:, 4] / 2 - np.abs(local[..., 1])
    to_bottom = local[..., 2] - boxes[:, 5]
    to_top = boxes[:, 6] - local[..., 2]
    return np.minimum(np.minimum(to_x, to_y), np.minimum(to_bottom, to_top))


def inside_footprints(xy: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """xy (..., 2) floor-plane points, boxes (K, 7) -> (..., K) bool: inside the box's rectangle (edges included)."""
    points = np.concatenate([xy, np.zeros_like(xy[..., :1])], axis=-1)
    local = points_in_box_frame(points, boxes)
    return (np.abs(local[..., 0]) <= boxes[:, 3] / 2) & (np.abs(local[..., 1]) <= boxes[:, 4] / 2)
