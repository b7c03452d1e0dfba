"""Legs that reach the floor where the model's own positions stand the feet on it.

A denoiser predicts every joint twice, as a world position and through the rotations
(``motion.decode``). The decode keys the rotations, but the bundled model's rotations now and
then fold an upright body's legs, thighs raised or shins bent back, while its positions keep the
feet on the floor under a pelvis at standing height: the rig then sits or kneels in mid-air,
or flings its legs up while it bends over a bed. On the evaluation's 128 held-out test scenes
213 of the 502 hovering person-frames were of this kind (a predicted foot joint within FLOOR_M
of the floor, the lowest joint a rig shows more than 0.15 m above what is under it). With this
step in the decode (and so in the sampling's corrections, which judge the decoded joints) the
evaluation's Float went from 0.039 to 0.031 (real data 0.021) and foot skating from 0.0186 to
0.0181 (reports/eval.md).

A frame hovers when it does not lie (``motion.level.lying_weight``), the prediction has a foot
joint within FLOOR_M of the floor and neither posed ankle is within REACH_FROM_M of standing
height (ANKLE_ABOVE_M); the weight grows to 1 at REACH_FULL_M and is eased over SMOOTH_FRAMES
frames either side. There each leg whose ankle is up turns at hip and knee (two-bone IK, the knee
kept in its bend plane) to put the ankle at standing height under its hip (the hips' path
averaged over TARGET_SMOOTH_FRAMES either side, so that a shaking pelvis does not drag the feet);
the foot keeps its rotation relative to the shin, so a foot at a right angle to a folded shin
stands flat under a straightened one. A foot already down stays, so a step (one foot down, one
swinging) is left alone; nothing but the legs moves. The horizontal place comes from the hip,
not from the predicted ankles, which do not keep left and right apart reliably (``motion.decode``)
and jump from frame to frame.
"""

from __future__ import annotations

import numpy as np

from ..skeleton import NUM_BODY_JOINTS, forward_kinematics
from .foot_lock import LEGS, MIN_BEND_M
from .joint_ik import BODY_PARENTS, two_bone_ik
from .level import LYING, lying_weight
from ..time_series import centred_mean, eased_peaks, smoothstep

FLOOR_M = 0.10  # a predicted foot joint below this stands on the floor (a standing foot joint: about 0.03 m)
ANKLE_ABOVE_M = 0.08  # a reached ankle this high (a standing ankle: about 0.08 m)
REACH_FROM_M = 0.08  # posed ankle this far above its target: the legs start to reach
REACH_FULL_M = 0.18  # ... and reach all the way from here
SMOOTH_FRAMES = 2  # the reach's weight is eased over this many frames either side
TARGET_SMOOTH_FRAMES = 4  # the hips' path under which ankles are put is averaged over this many frames either side


def reach_floor(rotations: np.ndarray, world: np.ndarray, joints: np.ndarray, predicted: np.ndarray,
                rest_joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's pose (local rotations (T, 22, 3, 3) with joint 0 the root's world rotation,
    world rotations (T, 22, 3, 3), joints (T, 22, 3) m, as forward kinematics gives them on the
    pelvis the decode keeps), predicted joint positions (T, 22, 3) m and the rest skeleton
    (22+, 3) m -> the same three with the legs reaching for the floor where the prediction
    stands the feet on it (module docstring). float64; the inputs are not modified."""
    local = np.array(rotations, dtype=np.float64)
    world = np.asarray(world, dtype=np.float64)
    joints = np.asarray(joints, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS]
    targets, weights = reach_targets(joints, predicted)
    if not weights.any():
        return local, world, joints
    # A straight leg bends forwards: the thigh's template +z (the body faces +z there).
    for (hip, knee, ankle, _), target, weight in zip(LEGS, targets, weights):
        shin_to_foot = local[:, ankle].copy()
        forward = world[:, hip] @ np.array([0.0, 0.0, 1.0])
        two_bone_ik(rest, (hip, knee, ankle), world, joints, local, target, weight, forward, min_bend=MIN_BEND_M)
        local[:, ankle] = shin_to_foot  # the foot follows the shin
    world, joints = forward_kinematics(local, rest, joints[:, 0] - rest[0], parents=BODY_PARENTS)
    return local, world, joints


def reach_targets(joints: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posed joints (T, 22, 3) and predicted positions (T, 22, 3), metres -> per leg (LEGS
    order) the ankle targets (2, T, 3) m and their weights (2, T) in [0, 1] (module docstring)."""
    hips, ankles = joints[:, [leg[0] for leg in LEGS]], joints[:, [leg[2] for leg in LEGS]]  # (T, 2, 3)
    stands = predicted[:, [leg[3] for leg in LEGS], 2].min(axis=-1) < FLOOR_M  # (T,)
    upright = lying_weight(joints) < LYING
    above = ankles[..., 2] - ANKLE_ABOVE_M  # (T, 2)
    hovering = smoothstep(above.min(axis=-1), REACH_FROM_M, REACH_FULL_M) * (stands & upright)  # neither foot down
    weight = eased_peaks(hovering, SMOOTH_FRAMES)[:, None] * smoothstep(above, 0.0, REACH_FROM_M)  # a foot down stays
    target = centred_mean(hips, 2 * TARGET_SMOOTH_FRAMES + 1)  # straight down from the hip, its shake averaged out
    target[..., 2] = ANKLE_ABOVE_M
    return np.moveaxis(target, 1, 0), weight.T
