"""Analytic IK: SMPL rotations that reproduce observed joint positions (for datasets that store only joints).

For each joint, in tree order, the rotation relative to its parent that maps the
rest-pose bone(s) to its child(ren) onto the observed ones, both expressed in the
parent's already-fitted world frame:

* one child: the minimal (swing-only) rotation taking the rest bone direction to
  the observed direction. The rotation about the bone itself (twist) is not
  observable from two points, and is set to zero relative to the parent. A bent
  knee's plane would in principle reveal the hip's twist; this fit does not use
  it (positions are still reproduced; the knee then bends about a tilted axis).
* two or more children (pelvis: hips + spine; spine3: neck + collars): the
  least-squares rotation of the rest child directions onto the observed ones
  (Kabsch / orthogonal Procrustes with the determinant fixed to +1), which is
  the full rotation, twist included.
* no child among the 22 body joints (feet, head, wrists): identity.

When the observed bone lengths equal the rest skeleton's, FK of the result
reproduces the positions exactly (to rounding); otherwise each bone points along
the observed direction and the error grows with the length mismatch.

:func:`two_bone_ik` bends a hip-knee-ankle or shoulder-elbow-wrist chain of a posed body so its
end reaches a target (the procedural scripts' planted feet and reaching hands, the decode's
foot hold, ``motion.foot_lock``).
"""

from __future__ import annotations

import numpy as np

from ..motion.motion import NUM_BODY_POSE_JOINTS, Motion, Role
from ..rotations import matrix_to_axis_angle
from ..skeleton import NUM_BODY_JOINTS, PARENTS, children, forward_kinematics

BODY_PARENTS: tuple[int, ...] = PARENTS[:NUM_BODY_JOINTS]
_BODY_CHILDREN = children(BODY_PARENTS)


def fit_local_rotations(joints: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """Local rotations of the 22 body joints from their positions.

    joints: (T, 22, 3) metres, any world frame (the fitted root rotation maps the
        template into that frame).
    rest_joints: (24, 3) or (22, 3) metres, the template's rest joints (Y up).
    Returns (T, 22, 3, 3) float64; [:, 0] is the root's world rotation, [:, j]
    joint j's rotation relative to its parent.
    """
    joints = np.asarray(joints, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    T = len(joints)
    local = np.broadcast_to(np.eye(3), (T, NUM_BODY_JOINTS, 3, 3)).copy()
    world = np.empty_like(local)
    for j, parent in enumerate(BODY_PARENTS):
        parent_world = np.broadcast_to(np.eye(3), (T, 3, 3)) if parent < 0 else world[:, parent]
        kids = _BODY_CHILDREN[j]
        if kids:
            observed = joints[:, kids] - joints[:, j : j + 1]  # (T, k, 3) world
            # Row vectors times G give G^T d: the observed bones in the parent's frame.
            in_parent = observed @ parent_world
            rest_bones = np.broadcast_to(rest[kids] - rest[j], in_parent.shape)
            if len(kids) == 1:
                local[:, j] = minimal_rotation(rest_bones[:, 0], in_parent[:, 0])
            else:
                local[:, j] = best_rotation(_unit(rest_bones), _unit(in_parent))
        world[:, j] = parent_world @ local[:, j]
    return local


def fit_root_rotation(joints: np.ndarray, body_local: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """The root's world rotation given the other joints' local rotations and positions.

    joints: (T, 22, 3) metres, world; body_local: (T, 21, 3, 3) local rotations of
    joints 1..21; rest_joints: (24, 3) or (22, 3) metres, template frame.
    Returns (T, 3, 3): the rotation R minimising sum_j |R a_j - b_j|^2 over joints
    1..21, with a_j the pelvis-relative joints of FK with an identity root and b_j
    the observed pelvis-relative joints (exact for a matching skeleton).
    """
    joints = np.asarray(joints, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    T = len(joints)
    local = np.concatenate([np.broadcast_to(np.eye(3), (T, 1, 3, 3)), np.asarray(body_local, np.float64)], axis=1)
    _, unrotated = forward_kinematics(local, rest, parents=BODY_PARENTS)
    return best_rotation(unrotated[:, 1:] - unrotated[:, :1], joints[:, 1:] - joints[:, :1])


def motion_from_local_rotations(
    local: np.ndarray,
    pelvis: np.ndarray,
    rest_joints: np.ndarray,
    fps: float,
    *,
    betas: np.ndarray | None = None,
    role: Role = "person",
    name: str = "",
) -> Motion:
    """A Motion from (T, 22, 3, 3) rotations (root = world) and (T, 3) pelvis positions in metres.

    SMPL's hand joints 22/23 get the identity; transl = pelvis - J_0 (SMPL rotates about J_0).
    """
    T = len(local)
    body_pose = np.zeros((T, NUM_BODY_POSE_JOINTS, 3))
    body_pose[:, : NUM_BODY_JOINTS - 1] = matrix_to_axis_angle(local[:, 1:NUM_BODY_JOINTS])
    rest = np.asarray(rest_joints, dtype=np.float64)
    return Motion(
        global_orient=matrix_to_axis_angle(local[:, 0]),
        body_pose=body_pose,
        transl=np.asarray(pelvis, dtype=np.float64) - rest[0],
        betas=np.zeros(10) if betas is None else betas,
        fps=fps,
        role=role,
        name=name,
    )


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3), (N, 3) -> (N, 3, 3): the smallest rotation taking direction a to direction b.

    R = I + [v]x + [v]x^2 / (1 + c), v = a x b, c = a . b (unit a, b); for
    opposite directions, a half turn about an axis perpendicular to a.
    """
    a, b = _unit(a), _unit(b)
    v = np.cross(a, b)
    c = (a * b).sum(-1)
    K = _cross_matrix(v)
    opposite = 1.0 + c < 1e-12
    scale = 1.0 / np.where(opposite, 1.0, 1.0 + c)
    R = np.eye(3) + K + (K @ K) * scale[:, None, None]
    if opposite.any():
        # Any axis perpendicular to a: cross a with the basis axis it is least aligned with.
        basis = np.eye(3)[np.argmin(np.abs(a), axis=-1)]
        axis = _unit(np.cross(a, basis))
        half_turn = 2.0 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
        R = np.where(opposite[:, None, None], half_turn, R)
    return R


def two_bone_ik(
    rest_joints: np.ndarray,
    chain: tuple[int, int, int],
    world: np.ndarray,
    joints: np.ndarray,
    local: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    pole: np.ndarray,
    keep_end_rotation: np.ndarray | None = None,
    min_bend: float = 0.02,
) -> None:
    """Bend a three-joint chain (hip-knee-ankle, shoulder-elbow-wrist) so its end reaches ``target``.

    rest_joints (22+, 3): template-frame rest joints (m), for the bone lengths and the end bone.
    world (T, J, 3, 3), joints (T, J, 3): the current FK (J = 22 or 24); local (T, J, 3, 3), [:, j]
    joint j relative to its parent, is updated IN PLACE for the chain's three joints on frames
    with weight > 0. target (T, 3) m; weight (T,) in [0, 1] blends the end from where it is
    towards the target; pole (T, 3): the side the middle joint bends to when the chain is
    straight (its middle joint less than ``min_bend`` m off the root-end line); otherwise it
    keeps the plane it bends in. keep_end_rotation (T, 3, 3): world rotation the end joint keeps
    (default: its current world rotation). Unreachable targets are approached along the line
    from the root joint, the chain kept at 99.95 % of its length.
    """
    a, b, c = chain
    rest = np.asarray(rest_joints, dtype=np.float64)
    frames = np.flatnonzero(weight > 0)
    if len(frames) == 0:
        return
    w = weight[frames, None]
    pa, pb, pc = joints[frames, a], joints[frames, b], joints[frames, c]
    l1 = np.linalg.norm(rest[b] - rest[a])
    l2 = np.linalg.norm(rest[c] - rest[b])
    goal = pc + w * (target[frames] - pc)
    d = goal - pa
    dist = np.clip(np.linalg.norm(d, axis=-1), abs(l1 - l2) + 1e-3, (l1 + l2) * 0.9995)
    direction = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
    hint = pb - pa
    hint = hint - (hint * direction).sum(-1, keepdims=True) * direction
    fallback = pole[frames] - (pole[frames] * direction).sum(-1, keepdims=True) * direction
    bent = np.linalg.norm(hint, axis=-1, keepdims=True) > min_bend
    side = np.where(bent, hint, fallback)
    side = side / np.maximum(np.linalg.norm(side, axis=-1, keepdims=True), 1e-9)
    cos_a = np.clip((l1 ** 2 + dist ** 2 - l2 ** 2) / (2 * l1 * dist), -1.0, 1.0)[:, None]
    middle = pa + l1 * (cos_a * direction + np.sqrt(1 - cos_a ** 2) * side)
    end = pa + dist[:, None] * direction
    parent_a = world[frames, PARENTS[a]]
    ga = minimal_rotation(pb - pa, middle - pa) @ world[frames, a]
    gb = ga @ local[frames, b]
    end_now = middle + (gb @ (rest[c] - rest[b])[:, None])[..., 0]
    gb = minimal_rotation(end_now - middle, end - middle) @ gb
    gc = world[frames, c] if keep_end_rotation is None else keep_end_rotation[frames]
    local[frames, a] = np.swapaxes(parent_a, -1, -2) @ ga
    local[frames, b] = np.swapaxes(ga, -1, -2) @ gb
    local[frames, c] = np.swapaxes(gb, -1, -2) @ gc


def best_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(..., k, 3), (..., k, 3) -> (..., 3, 3): R minimising sum_k |R source_k - target_k|^2.

    Kabsch: H = sum_k target_k source_k^T = U S V^T, R = U diag(1, 1, det(U V^T)) V^T.
    """
    H = np.swapaxes(target, -1, -2) @ source
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(U @ Vt))
    d = np.where(d == 0, 1.0, d)
    U = U.copy()
    U[..., :, 2] *= d[..., None]
    return U @ Vt


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _cross_matrix(v: np.ndarray) -> np.ndarray:
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
