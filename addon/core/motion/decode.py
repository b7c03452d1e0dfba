"""The decode: what a rig is keyed with, made from the features a denoiser generated.

The representation (thesis eq. 5.7) stores every joint twice: as a world position and through
the 6D rotations. A trained denoiser predicts both and they disagree (the bundled model by
about 23 cm per joint, reports/eval.md, Pos-FK). The rotations are what to believe: they are
local, so a pose is a few well-scaled numbers per joint, while a world position carries the
person's place in the room, metres of spread next to which a hip's 9 cm offset is noise. The
bundled model's predicted positions show it: their hip line and shoulder line are uncorrelated
(mean cosine -0.1, against about 0.9 in any body), and the evaluator, trained on real clips,
recognises the script of 0.09 of clips rebuilt from those positions against 0.70 of the same
clips rebuilt from the rotations (reports/eval.md, the rows "as the rigs show it"). So:

1. rotations: the predicted root and local rotations, the root of a lying body turned about
   the pelvis until its trunk lies level (``motion.level``: the bundled model lays people down
   pitched about 30 degrees head-down, feet in the air);
2. pelvis: the predicted pelvis path (the one position a world frame needs; it is large and
   smooth, what positions predict well);
3. legs: where the rotations fold an upright body's legs in mid-air while the predicted
   positions stand a foot on the floor, the legs reach down to it (``motion.leg_reach``), and
   the pelvis is raised where the body would sink below the floor (z = 0) by the depth, the
   lift smoothed over a few frames so that no vertical jolt appears (``grounding_lift``);
4. feet: planted feet held still by turning hips and knees (``motion.foot_lock``), when the
   frame rate is known (a pose-only caller such as the body separation during sampling leaves
   it out: it moves feet by centimetres along the floor, not the body);
5. hands: when the interaction implies touch, the reaching persons' wrists put on the other
   person where they come within reach, by turning shoulders and elbows
   (``motion.hand_contact``; :func:`decoded_people`, it needs everyone).

Forward kinematics of the result on the rest skeleton is what the evaluation's physical metrics
score and what :func:`decode_generated` hands to rigs as SMPL parameters.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .foot_lock import lock_feet
from .hand_contact import place_hands
from .leg_reach import reach_floor
from .level import level_lying
from .joint_ik import BODY_PARENTS, motion_from_local_rotations
from ..skeleton import NUM_BODY_JOINTS, forward_kinematics
from .motion import Motion, Role
from .representation import features_to_joints, features_to_rotations
from ..time_series import eased_peaks

LIFT_WINDOW = 2  # frames either side over which a grounding lift is spread


def grounding_lift(lowest_z: np.ndarray) -> np.ndarray:
    """(T,) lowest joint height per frame (m) -> (T,) lift >= the depth below z = 0 (m).

    The depth is dilated and then averaged over LIFT_WINDOW frames either side (a lift eases in
    and out instead of popping), and never less than the depth itself.
    """
    return eased_peaks(np.maximum(0.0, -np.asarray(lowest_z, dtype=np.float64)), LIFT_WINDOW)


def decoded_pose(features: np.ndarray, rest_joints: np.ndarray, fps: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's generated features (T, 264) -> (rotations (T, 22, 3, 3), pelvis (T, 3) m,
    joints (T, 22, 3) m): the predicted rotations, lying bodies levelled, legs folded in mid-air
    reaching the floor the prediction stands on, on the grounded pelvis path, with planted feet
    held still when ``fps`` is given (module docstring), and their forward kinematics."""
    x = np.asarray(features, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    rotations = features_to_rotations(x)
    predicted = features_to_joints(x)
    pelvis = predicted[:, 0].copy()
    world, joints = forward_kinematics(rotations, rest, pelvis - rest[0], parents=BODY_PARENTS)
    rotations, world, joints = level_lying(rotations, world, joints)
    rotations, world, joints = reach_floor(rotations, world, joints, predicted, rest)
    lift = grounding_lift(joints[..., 2].min(axis=-1))
    pelvis[:, 2] += lift
    joints[..., 2] += lift[:, None]
    if fps is not None:
        rotations = lock_feet(rotations, pelvis, rest, fps, posed=(world, joints))
        _, joints = forward_kinematics(rotations, rest, pelvis - rest[0], parents=BODY_PARENTS)
    return rotations, pelvis, joints


def decoded_people(features: np.ndarray, rest_joints: np.ndarray, fps: float | None = None,
                   reaching: Sequence[bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Everyone's generated features (P, T, 264) -> (rotations (P, T, 22, 3, 3), pelvis (P, T, 3) m,
    joints (P, T, 22, 3) m): :func:`decoded_pose` of each person, then, when ``reaching`` (P flags,
    ``hand_contact.reaching_persons``) is given, those persons' hands put on the others."""
    decoded = [decoded_pose(person, rest_joints, fps) for person in np.asarray(features, dtype=np.float64)]
    rotations, pelvis, joints = (np.stack(part) for part in zip(*decoded))
    if reaching is not None and any(reaching) and len(decoded) > 1:
        rotations, joints = place_hands(rotations, pelvis, rest_joints, reaching)
    return rotations, pelvis, joints


def decode_generated(features: np.ndarray, rest_joints: np.ndarray, fps: float, roles: Sequence[Role],
                     reaching: Sequence[bool] | None = None) -> list[Motion]:
    """Motions from everyone's generated features (P, T, 264) and their roles: :func:`decoded_people`
    as SMPL, named "<role> <number>"."""
    rotations, pelvis, _ = decoded_people(features, rest_joints, fps, reaching)
    return [motion_from_local_rotations(r, p, rest_joints, fps, role=role, name=f"{role} {k + 1}")
            for k, (r, p, role) in enumerate(zip(rotations, pelvis, roles))]


def generated_joints(features: np.ndarray, rest_joints: np.ndarray, fps: float | None = None,
                     reaching: Sequence[bool] | None = None) -> np.ndarray:
    """(P, T, 264) generated features -> (P, T, 22, 3) metres: the joints rigs will show (with
    planted feet held when ``fps`` is given and hands placed when ``reaching`` is, as
    :func:`decode_generated` does)."""
    return decoded_people(features, rest_joints, fps, reaching)[2]
