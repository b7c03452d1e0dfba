"""Per SMPL joint, the direction its target bone is calibrated and scored along.

Directions are geometric, never a bone's tail, which depends on the importer (an FBX hand's
tail may point forward, a BVH root's tail is put anywhere):

1. towards the head of the bone of the next mapped SMPL joint below (the segment end),
   skipping mapped joints at the same place (a BVH import's zero-length Hips shares its head
   with LowerBack: the direction is then Hips -> Spine, used to calibrate but neither swung
   onto every frame nor scored, since it is the lower back's);
2. else towards the mean of the far ends of the bone's children (a hand's fingers, Rigify's
   palm bones, never its mechanism bones);
3. else none: the bone keeps its parent's calibration and is not scored (a hand without
   fingers; head and toes, which have no SMPL child).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..skeleton import NUM_JOINTS
from .rig import WorldRest
from .rotmath import unit
from .smpl_world import main_child

DEGENERATE_M = 0.005  # world metres: a link shorter than this has no direction


def joint_directions(
    bone_of_joint: np.ndarray,
    rest: WorldRest,
    kids: list[list[int]],
    mechanism: np.ndarray,
    below: Callable[[int, int], bool],
    smpl_rest_joints: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(segment_end, reference_child, target_axis, smpl_axis, multi_segment, measured) per SMPL
    joint, as described on :class:`.plan.RetargetPlan` (module docstring for the rules).

    bone_of_joint: (24,) bone per joint (-1 unmapped); rest: world rest; kids: each bone's
    children; mechanism: (B,) bool, bones never used as a direction; below(lower, upper):
    is ``upper`` an ancestor of ``lower``; smpl_rest_joints: (24, 3) world metres."""
    segment_end = np.full(NUM_JOINTS, -1, dtype=np.int64)
    reference_child = np.full(NUM_JOINTS, -1, dtype=np.int64)
    multi = np.zeros(NUM_JOINTS, dtype=bool)
    measured = np.zeros(NUM_JOINTS, dtype=bool)
    target_axis = np.zeros((NUM_JOINTS, 3))
    smpl_axis = np.zeros((NUM_JOINTS, 3))
    for j in np.flatnonzero(bone_of_joint >= 0):
        b = bone_of_joint[j]
        end, skipped = _segment_end(j, bone_of_joint, rest, below)
        if end >= 0:
            segment_end[j] = reference_child[j] = end
            target_axis[j] = unit(rest.heads[bone_of_joint[end]] - rest.heads[b])
            # Past a zero-length link the chord is the next bone's: calibrate by it, but
            # neither swing the bone onto it every frame nor score the bone by it.
            multi[j] = not skipped and end != main_child(j)
            measured[j] = not skipped
        elif main_child(j) >= 0:
            direction = _children_direction(b, rest, kids, mechanism)
            if direction is not None:
                target_axis[j] = direction
                reference_child[j] = main_child(j)
                measured[j] = True
        if reference_child[j] >= 0:
            smpl_axis[j] = unit(smpl_rest_joints[reference_child[j]] - smpl_rest_joints[j])
    return segment_end, reference_child, target_axis, smpl_axis, multi, measured


def _segment_end(j: int, bone_of_joint: np.ndarray, rest: WorldRest, below: Callable[[int, int], bool]) -> tuple[int, bool]:
    """(the next mapped SMPL joint along j's chain whose bone is below j's bone and at least
    :data:`DEGENERATE_M` from its head, or -1; whether a mapped joint at the head was skipped)."""
    b = bone_of_joint[j]
    skipped = False
    k = main_child(j)
    while k >= 0:
        c = bone_of_joint[k]
        if c >= 0:
            if not below(c, b):
                return -1, skipped
            if np.linalg.norm(rest.heads[c] - rest.heads[b]) >= DEGENERATE_M:
                return int(k), skipped
            skipped = True
        k = main_child(k)
    return -1, skipped


def _children_direction(b: int, rest: WorldRest, kids: list[list[int]], mechanism: np.ndarray) -> np.ndarray | None:
    """Unit world direction from bone b's head to the mean of its children's far ends (each
    child's head or tail, whichever is farther from b's head: a finger's head at the knuckle,
    a palm or metacarpal bone's tail), or None without children away from b's head."""
    head = rest.heads[b]
    ends = []
    for c in kids[b]:
        if mechanism[c]:
            continue
        far = max((rest.heads[c], rest.tails[c]), key=lambda point: float(np.linalg.norm(point - head)))
        if np.linalg.norm(far - head) >= DEGENERATE_M:
            ends.append(far)
    if not ends:
        return None
    direction = np.mean(ends, axis=0) - head
    return unit(direction) if np.linalg.norm(direction) >= DEGENERATE_M else None
