"""Key poses (standing, sitting, lying, kneeling ...) as template-frame local rotations, with variety.

Axis conventions in the template frame (Y up, the body faces +z, its left is +x):
hip flexion (thigh forward) is about -x, knee flexion about +x, spine flexion (forward) about
+x, the left arm lowers to the side about -z and the right about +z, an arm raises forwards about
-x after lowering, the left elbow flexes about -y and the right about +y.
Every pose comes with a :class:`Support`: what carries it and so how high its pelvis is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...rotations import axis_angle_to_matrix, matrix_to_axis_angle
from .kinematics import FOOT_JOINT_Z, Body, J, pose_fk, pose_matrix

D = math.pi / 180.0


@dataclass(frozen=True)
class Support:
    """What carries a pose: ``joints`` rest ``clearance`` m above ``surface`` (m) at their lowest."""

    joints: tuple[int, ...]
    surface: float = 0.0
    clearance: float = FOOT_JOINT_Z


FEET = Support((J["left_foot"], J["right_foot"]))
LYING_JOINTS = tuple(range(22))


def seat(height: float) -> Support:
    return Support((J["left_hip"], J["right_hip"]), height, 0.09)


def lying(surface: float) -> Support:
    return Support(LYING_JOINTS, surface, 0.07)


KNEES = Support((J["left_knee"], J["right_knee"]), 0.0, 0.06)
FLOOR_SIT = Support((J["left_hip"], J["right_hip"]), 0.0, 0.09)


@dataclass(frozen=True)
class Pose:
    """local: (24, 3, 3) template-frame rotations, slot 0 the root tilt; support: what carries it."""

    local: np.ndarray
    support: Support

    def pelvis_z(self, body: Body) -> float:
        """Pelvis height (m) that puts the support joints ``clearance`` above the surface."""
        _, joints = pose_fk(body, np.zeros(1), self.local[None], np.zeros((1, 3)))
        low = joints[0, list(self.support.joints), 2].min()
        return float(self.support.surface + self.support.clearance - low)


def _arm(side: str, down: float, forward: float = 0.0, elbow: float = 0.0, out: float = 0.0) -> dict:
    """Shoulder and elbow rotations: ``down`` degrees lowered from the T-pose, then ``forward``
    degrees raised forwards (negative: backwards); ``elbow`` degrees of flexion."""
    sign = 1.0 if side == "left" else -1.0
    lower = axis_angle_to_matrix(np.array([0.0, 0.0, -sign * (down - out) * D]))
    raise_ = axis_angle_to_matrix(np.array([-forward * D, 0.0, 0.0]))
    return {f"{side}_shoulder": tuple(matrix_to_axis_angle(raise_ @ lower)),
            f"{side}_elbow": (0.0, -sign * elbow * D, 0.0)}


def _legs(hip: float, knee: float, ankle: float = 0.0, right_hip: float | None = None,
          right_knee: float | None = None, spread: float = 0.0) -> dict:
    rh = hip if right_hip is None else right_hip
    rk = knee if right_knee is None else right_knee
    return {"left_hip": (-hip * D, 0.0, -spread * D), "right_hip": (-rh * D, 0.0, spread * D),
            "left_knee": (knee * D, 0.0, 0.0), "right_knee": (rk * D, 0.0, 0.0),
            "left_ankle": (ankle * D, 0.0, 0.0), "right_ankle": (ankle * D, 0.0, 0.0)}


def _spine(forward: float, twist: float = 0.0, side: float = 0.0) -> dict:
    per = forward / 3.0 * D
    return {"spine1": (per, twist / 3 * D, side / 3 * D), "spine2": (per, twist / 3 * D, side / 3 * D),
            "spine3": (per, twist / 3 * D, side / 3 * D)}


def _build(spec: dict, support: Support, rng: np.random.Generator | None, jitter_deg: float = 3.0) -> Pose:
    local = pose_matrix(spec)
    if rng is not None and jitter_deg > 0:
        noise = rng.normal(0.0, jitter_deg * D, (24, 3))
        noise[0] = 0.0
        noise[[J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]]] = 0.0
        local = local @ axis_angle_to_matrix(noise)
    return Pose(local, support)


def _u(rng: np.random.Generator | None, low: float, high: float) -> float:
    return (low + high) / 2 if rng is None else float(rng.uniform(low, high))


def stand(rng=None, hunch: float = 0.0) -> Pose:
    spec = {**_arm("left", _u(rng, 70, 80), _u(rng, -5, 10), _u(rng, 5, 20)),
            **_arm("right", _u(rng, 70, 80), _u(rng, -5, 10), _u(rng, 5, 20)),
            **_spine(hunch + _u(rng, 0, 4)), "neck": (hunch / 2 * D, 0, 0)}
    return _build(spec, FEET, rng)


def gesture(rng=None) -> Pose:
    """Standing, one or both forearms raised as when talking."""
    spec = {**_arm("left", _u(rng, 55, 80), _u(rng, 10, 45), _u(rng, 40, 90)),
            **_arm("right", _u(rng, 55, 80), _u(rng, 10, 45), _u(rng, 40, 90)), **_spine(_u(rng, 0, 6))}
    return _build(spec, FEET, rng)


def reach_forward(rng=None, both: bool = False) -> Pose:
    spec = {**_arm("right", _u(rng, 75, 85), _u(rng, 45, 70), _u(rng, 10, 30)),
            **_arm("left", 75, 70 if both else 5, 15), **_spine(_u(rng, 5, 15))}
    return _build(spec, FEET, rng)


def sit(height: float, rng=None) -> Pose:
    spec = {"tilt": (-_u(rng, 0, 8) * D, 0, 0), **_legs(_u(rng, 85, 95), _u(rng, 80, 100), spread=_u(rng, 3, 10)),
            **_arm("left", 75, _u(rng, 25, 40), _u(rng, 40, 60)), **_arm("right", 75, _u(rng, 25, 40), _u(rng, 40, 60)),
            **_spine(_u(rng, 0, 10))}
    return _build(spec, seat(height), rng)


def lie_back(surface: float, rng=None) -> Pose:
    spec = {"tilt": (-90 * D, 0, 0), **_legs(_u(rng, 0, 10), _u(rng, 0, 10), spread=_u(rng, 2, 8)),
            **_arm("left", _u(rng, 75, 85), 0, _u(rng, 0, 20)), **_arm("right", _u(rng, 75, 85), 0, _u(rng, 0, 20)),
            "neck": (_u(rng, 5, 15) * D, 0, 0)}
    return _build(spec, lying(surface), rng)


def lie_side(surface: float, left_down: bool, rng=None) -> Pose:
    roll = 90.0 if left_down else -90.0
    tilt = matrix_to_axis_angle(axis_angle_to_matrix(np.array([-90 * D, 0, 0]))
                                @ axis_angle_to_matrix(np.array([0, roll * D, 0])))
    spec = {"tilt": tuple(tilt), **_legs(_u(rng, 30, 50), _u(rng, 40, 70)),
            **_arm("left", 80, _u(rng, 40, 70), _u(rng, 30, 60)), **_arm("right", 80, _u(rng, 40, 70), _u(rng, 30, 60)),
            **_spine(_u(rng, 5, 15))}
    return _build(spec, lying(surface), rng)


def lie_prone(rng=None) -> Pose:
    spec = {"tilt": (90 * D, 0, 0), **_legs(_u(rng, 0, 10), _u(rng, 0, 20)),
            **_arm("left", _u(rng, 40, 80), _u(rng, 0, 60), _u(rng, 20, 60)),
            **_arm("right", _u(rng, 40, 80), _u(rng, 0, 60), _u(rng, 20, 60)), "neck": (-_u(rng, 10, 25) * D, 0, 0)}
    return _build(spec, lying(0.0), rng)


def sit_floor(rng=None) -> Pose:
    spec = {"tilt": (-_u(rng, 10, 25) * D, 0, 0), **_legs(_u(rng, 70, 90), _u(rng, 20, 60)),
            **_arm("left", 70, -_u(rng, 20, 40), 5), **_arm("right", 70, -_u(rng, 20, 40), 5),
            **_spine(_u(rng, 5, 20))}
    return _build(spec, FLOOR_SIT, rng)


def sit_up_in_bed(surface: float, rng=None) -> Pose:
    spec = {"tilt": (-_u(rng, 5, 20) * D, 0, 0), **_legs(_u(rng, 80, 90), _u(rng, 0, 15)),
            **_arm("left", 75, _u(rng, 10, 30), 20), **_arm("right", 75, _u(rng, 10, 30), 20), **_spine(_u(rng, 5, 20))}
    return _build(spec, seat(surface), rng)


def hands_knees(rng=None) -> Pose:
    spec = {"tilt": (_u(rng, 70, 85) * D, 0, 0), **_legs(_u(rng, 75, 90), _u(rng, 85, 100), ankle=40),
            **_arm("left", 90, _u(rng, 80, 95), 0), **_arm("right", 90, _u(rng, 80, 95), 0), "neck": (-30 * D, 0, 0)}
    return _build(spec, KNEES, rng)


def kneel(rng=None) -> Pose:
    spec = {**_legs(_u(rng, 0, 15), _u(rng, 85, 100), ankle=40), **_spine(_u(rng, 5, 25)),
            **_arm("left", 75, _u(rng, 20, 50), _u(rng, 10, 40)), **_arm("right", 75, _u(rng, 20, 50), _u(rng, 10, 40))}
    return _build(spec, KNEES, rng)


def half_kneel(rng=None) -> Pose:
    """Right knee on the floor, left foot planted forwards."""
    spec = {**_legs(_u(rng, 80, 95), _u(rng, 85, 100), right_hip=_u(rng, 0, 15), right_knee=_u(rng, 85, 100)),
            **_spine(_u(rng, 15, 35)), **_arm("left", 75, _u(rng, 30, 60), _u(rng, 10, 30)),
            **_arm("right", 75, _u(rng, 30, 60), _u(rng, 10, 30))}
    return _build(spec, Support((J["right_knee"],), 0.0, 0.06), rng)


def crouch(rng=None) -> Pose:
    spec = {**_legs(_u(rng, 105, 125), _u(rng, 115, 135), ankle=-_u(rng, 20, 30), spread=_u(rng, 5, 15)),
            **_spine(_u(rng, 20, 35)), **_arm("left", 75, _u(rng, 30, 60), _u(rng, 10, 30)),
            **_arm("right", 75, _u(rng, 30, 60), _u(rng, 10, 30))}
    return _build(spec, FEET, rng)


def bend_over(rng=None, amount: float = 1.0) -> Pose:
    """Bent forwards at the hips and spine; ``amount`` scales the bend (0.5: leaning over)."""
    spec = {**_legs(amount * _u(rng, 20, 35), _u(rng, 5, 15)), **_spine(amount * _u(rng, 45, 70)),
            **_arm("left", 80, _u(rng, 50, 80), _u(rng, 10, 30)), **_arm("right", 80, _u(rng, 50, 80), _u(rng, 10, 30))}
    return _build(spec, FEET, rng)


def push_up_attempt(rng=None) -> Pose:
    """Half way from lying on the front to hands and knees: chest up on straight arms."""
    spec = {"tilt": (_u(rng, 60, 75) * D, 0, 0), **_legs(_u(rng, 10, 30), _u(rng, 20, 50)),
            **_arm("left", 90, _u(rng, 60, 80), 0), **_arm("right", 90, _u(rng, 60, 80), 0), "neck": (-25 * D, 0, 0)}
    return _build(spec, Support((J["left_knee"], J["right_knee"], J["pelvis"]), 0.0, 0.07), rng)
