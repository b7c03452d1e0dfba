"""Plausibility checks a procedural clip must pass before it joins the data set.

Joints are (P, T, 22+, 3) world metres. Each check returns a reason string when it fails,
or None. They are cheap screens on joints and points along bones; the evaluator's capsule
metrics (core/eval) measure the finished data set independently.
"""

from __future__ import annotations

import numpy as np

from ...eval.physical import max_person_penetration as person_penetration_depth
from ...skeleton import PARENTS
from .rooms import CareRoom

BONES = [(j, PARENTS[j]) for j in range(1, 22)]
HAND_JOINTS = (18, 19, 20, 21)  # elbows and wrists may touch the other person
INSIDE_TOLERANCE_M = 0.02  # the evaluator's scene-penetration tolerance


def bone_points(joints: np.ndarray, per_bone: int = 3) -> np.ndarray:
    """(..., 22+, 3) -> (..., 22 * per_bone ... , 3) the joints and points along every bone."""
    child = joints[..., [c for c, _ in BONES], :]
    parent = joints[..., [p for _, p in BONES], :]
    t = (np.arange(1, per_bone + 1) / (per_bone + 1))[:, None, None]
    along = parent[..., None, :, :] + t * (child - parent)[..., None, :, :]
    along = along.reshape(*joints.shape[:-2], -1, 3)
    return np.concatenate([joints[..., :22, :], along], axis=-2)


def inside_furniture(room: CareRoom, joints: np.ndarray) -> str | None:
    points = bone_points(joints)
    for box in room.boxes:
        local = np.abs(box.local_xy(points)) - (box.sx / 2 - INSIDE_TOLERANCE_M, box.sy / 2 - INSIDE_TOLERANCE_M)
        z = points[..., 2]
        inside = (local < 0).all(-1) & (z > box.z0 + INSIDE_TOLERANCE_M) & (z < box.z1 - INSIDE_TOLERANCE_M)
        if inside.any():
            return f"a body is inside the {box.label}"
    return None


def outside_room(room: CareRoom, joints: np.ndarray, margin: float = 0.05) -> str | None:
    p = joints[..., :22, :]
    if (p[..., 0] < margin).any() or (p[..., 0] > room.width - margin).any() or \
            (p[..., 1] < margin).any() or (p[..., 1] > room.depth - margin).any():
        return "a body leaves the room"
    return None


def below_floor(joints: np.ndarray, tolerance: float = 0.01) -> str | None:
    if joints[..., :22, 2].min() < -tolerance:
        return f"a joint is {-joints[..., :22, 2].min():.3f} m below the floor"
    return None


def people_overlap(joints: np.ndarray, tolerance: float = 0.025) -> str | None:
    """Two people's bone capsules overlapping by more than ``tolerance`` m (the evaluator's
    person-penetration measure, forearms left out)."""
    if len(joints) < 2:
        return None
    depth = person_penetration_depth(joints[:, :, :22])
    if depth > tolerance:
        return f"the two people overlap by {depth:.3f} m"
    return None


def hand_point_mask(per_bone: int = 3) -> np.ndarray:
    """(22 + 21 per_bone,) bool: the points of :func:`bone_points` on the elbows, wrists and arm bones."""
    joint_part = np.array([j in HAND_JOINTS for j in range(22)])
    bone_part = np.repeat([[c in HAND_JOINTS for c, _ in BONES]], per_bone, axis=0).reshape(-1)
    return np.concatenate([joint_part, bone_part])


def foot_point_mask(per_bone: int = 3) -> np.ndarray:
    """(22 + 21 per_bone,) bool: the points of :func:`bone_points` on the ankles, feet and shins."""
    feet = (7, 8, 10, 11)
    joint_part = np.array([j in feet for j in range(22)])
    bone_part = np.repeat([[c in feet for c, _ in BONES]], per_bone, axis=0).reshape(-1)
    return np.concatenate([joint_part, bone_part])


UPRIGHT = ("stand", "walk", "hurry", "turn", "talk", "hand_over", "support_walk", "bend_over")


def floating(joints: np.ndarray, labels: np.ndarray | None, max_height: float = 0.06) -> str | None:
    """Someone standing or walking (by label, (P, T)) with neither foot joint within
    ``max_height`` m of the floor."""
    if labels is None:
        return None
    from ...labels import ACTION_INDEX

    upright = np.isin(labels, [ACTION_INDEX[a] for a in UPRIGHT])
    lowest_foot = joints[:, :, [10, 11], 2].min(-1)
    bad = upright & (lowest_foot > max_height)
    if bad.any():
        return f"a standing person's feet are {lowest_foot[bad].max():.2f} m off the floor"
    return None


def problems(room: CareRoom, joints: np.ndarray, labels: np.ndarray | None = None) -> list[str]:
    """Every failed check of a clip's joints (P, T, 22+, 3) with their action labels (P, T)."""
    found = [inside_furniture(room, joints), outside_room(room, joints), below_floor(joints), people_overlap(joints),
             floating(joints, labels)]
    return [f for f in found if f]
