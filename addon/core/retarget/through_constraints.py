"""Keys that hold through a control rig's constraints: the arithmetic of the in-Blender refinement.

The solve (:mod:`.solve`) keys each mapped bone so that the armature's hierarchy alone gives
it the right rotation. A control rig adds constraints and drivers on the way: on a generated
Rigify rig the head copies the torso's rotation instead of the neck's (``head_follow`` 0),
the neck half of it, and the FK spine bones half-copy the chest control, so the keyed neck,
head and arms end up 5-54 degrees from where the solve put them. Blender evaluates the rig
(:mod:`...bridge.retarget_refine`); this module says how to change the keys so that what
Blender shows becomes the solve's pose. With

    R_eval = A · B     (armature space; A: what parents, rest and constraints contribute,
                        B: the bone's keyed basis rotation)

the step B' = B · R_evalᵀ · R_goal is exact when A does not depend on B. It is taken for all
keyed bones at once, parents first, each child's R_eval predicted as turned by its keyed
ancestors' corrections (:func:`corrected_basis`), and repeated with A re-evaluated where
constraints make A depend on B (a bone that copies a fraction of another control). On a
generated Rigify rig the first frame goes from 54 degrees (the head) to below 0.2 within a few
evaluations; the later frames, started from the frame before, need 1.7 on average. A bone
whose evaluated rotation does not follow its keys at all (:func:`unresponsive`: a Copy
Rotation at full influence) is left alone, and its children are not expected to turn with it.

Shapes: T frames, K keyed bones (``Solution.keyed`` order), rotations (…, 3, 3) acting on
column vectors.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .api import RetargetResult, action_channels
from .rotmath import orthonormalize, to_quaternion
from ..rotations import quaternion_continuity, quaternion_to_matrix

TOLERANCE_DEG = 0.2  # a frame is done when every keyed bone is this close to its goal
MAX_PASSES = 8  # evaluations per frame at most (the first frame starts cold; the rest start from the frame before)


def goal_rotations(result: RetargetResult) -> np.ndarray:
    """(T, K, 3, 3) the rotation each keyed bone should show in armature space (what the
    solve's own forward kinematics gives it): R_objᵀ · Δ_world · R_rest_world."""
    solution, rest = result.solution, result.rest
    keyed = solution.keyed
    world = np.einsum("tkij,kjl->tkil", solution.deltas[:, keyed], rest.rotations[keyed])
    return np.einsum("ji,tkjl->tkil", rest.object_rotation, world)


def keyed_basis(result: RetargetResult) -> np.ndarray:
    """(T, K, 3, 3) the keyed basis rotations of the solve (its quaternions as matrices)."""
    return quaternion_to_matrix(result.solution.quaternions)


def keyed_parents(keyed, parents) -> np.ndarray:
    """(K,) for each keyed bone (``keyed``: (K,) bone indices) the position in ``keyed`` of its
    nearest keyed ancestor along ``parents`` ((B,) each bone's parent index, -1 for roots),
    -1 for none. ValueError when an ancestor is keyed after its descendant (the corrections
    go parents first)."""
    keyed = [int(b) for b in keyed]
    position = {bone: k for k, bone in enumerate(keyed)}
    out = np.full(len(keyed), -1, dtype=np.int64)
    for k, bone in enumerate(keyed):
        ancestor = parents[bone]
        while ancestor >= 0 and ancestor not in position:
            ancestor = parents[ancestor]
        out[k] = position.get(ancestor, -1)
    if np.any(out >= np.arange(len(keyed))):
        raise ValueError("keyed bones are not ordered parents first")
    return out


def corrected_basis(basis: np.ndarray, evaluated: np.ndarray, goal: np.ndarray, parents: np.ndarray,
                    moves: np.ndarray | None = None) -> np.ndarray:
    """(K, 3, 3) the next keyed basis of one frame, parents first: B' = B · R̃_evalᵀ · R_goal.

    basis, evaluated, goal: (K, 3, 3) (``evaluated`` may carry pose scale; only its rotation is
    used); parents: (K,) from :func:`keyed_parents`. R̃_eval is the evaluated rotation as it will
    be once the bone's keyed ancestors reach their goals (each turns its descendants by
    R_goal · R_evalᵀ), so a chain is corrected in one evaluation instead of one per bone.
    moves: (K,) bool, False for bones that did not move towards their goal when corrected (a
    constraint holds them): their descendants are not expected to turn with them (None: all move).
    """
    evaluated = rotation_part(evaluated)
    turn = np.swapaxes(evaluated, -1, -2)  # per bone, R_goal · R_evalᵀ once filled in below
    out = np.empty_like(evaluated)
    for k in range(len(basis)):
        predicted = evaluated[k] if parents[k] < 0 else turn[parents[k]] @ evaluated[k]
        out[k] = basis[k] @ predicted.T @ goal[k]
        turn[k] = goal[k] @ evaluated[k].T if moves is None or moves[k] else np.eye(3)
    return orthonormalize(out)


def unresponsive(basis_before: np.ndarray, basis: np.ndarray, evaluated_before: np.ndarray, evaluated: np.ndarray,
                 parents: np.ndarray) -> np.ndarray:
    """(K,) bool: keyed bones whose rotation relative to their keyed parent (as evaluated) hardly
    changed (by less than a tenth) although their keys turned by more than a degree, between two
    evaluations of one frame; a constraint holds them whatever their keys (their children are
    still free to follow their own keys)."""
    def relative(rotations):
        rotations = rotation_part(rotations)
        parent = np.where((parents >= 0)[:, None, None], rotations[np.maximum(parents, 0)], np.eye(3))
        return np.swapaxes(parent, -1, -2) @ rotations
    keyed_turn = angles_deg(basis_before, basis)
    shown_turn = angles_deg(relative(evaluated_before), relative(evaluated))
    return (keyed_turn > 1.0) & (shown_turn < 0.1 * keyed_turn)


def rotation_part(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> the same with each column scaled to length 1 (a bone's pose matrix carries
    its scale in its columns)."""
    m = np.asarray(matrices, dtype=np.float64)
    return m / np.linalg.norm(m, axis=-2, keepdims=True)


def angles_deg(evaluated: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """(...) the angle between each evaluated rotation and its goal, degrees."""
    relative = np.swapaxes(rotation_part(evaluated), -1, -2) @ goal
    cosine = (np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def with_basis(result: RetargetResult, basis: np.ndarray) -> RetargetResult:
    """``result`` keyed with the basis rotations ``basis`` (T, K, 3, 3) instead of the solve's:
    quaternions sign-continuous over time, every channel rebuilt (rotation modes kept). The
    score is the solve's: the refinement makes Blender show the pose the score measured."""
    quaternions = quaternion_continuity(to_quaternion(basis), axis=0)
    solution = replace(result.solution, quaternions=quaternions)
    return replace(result, solution=solution, channels=action_channels(result.plan, result.rig, solution))
