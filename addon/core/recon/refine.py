"""Optional refinement of one smoothed track against the annotated 2D keypoints (torch).

Off by default: reconstruction calls it only when asked. It fits a track's SMPL poses to
the annotated COCO keypoints in the spirit of SMPLify (Bogo et al. 2016, "Keep it SMPL";
seminar notes ``seeds/003``):

    E = E_J + lambda_theta E_theta + lambda_transl E_transl + lambda_acc E_acc,
    E_J      = sum_{t,k} w_tk rho(||Pi_K(J_tk(theta, transl)) - x_tk||) / sum w     (SMPLify's E_J)
    E_theta  = mean_{t,j} ||theta_tj - theta_bar_tj||^2                             (Gaussian pose prior)
    E_transl = mean_t ||transl_t - transl_bar_t||^2
    E_acc    = mean_{t,j} ||D2 (J_tj - J_bar_tj)||^2                                 (temporal term)

with Pi_K the pinhole projection, w the annotation confidences, rho a robust penalty
(Geman-McClure, as SMPLify, or Huber) on pixel residuals, theta_bar / transl_bar / J_bar
the smoothed input. SMPLify's pose prior is a GMM learnt from mocap; here the smoothed
track itself is the prior's mean (a Gaussian centred on it), which needs no data file.
The temporal term penalises the second difference D2 of the *correction* J - J_bar rather
than of J: the input is already smoothed by eq. 5.1, so the refinement should not add
jitter, but neither should it smooth again; a perfect input is then a fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..rotations import axis_angle_to_matrix
from ..skeleton import NUM_JOINTS, forward_kinematics
from .keypoints import COCO_BODY_ONLY, NUM_COCO, SMPL_FOR_COCO

if TYPE_CHECKING:
    import torch

RobustPenalty = Literal["geman_mcclure", "huber"]
OptimizerName = Literal["adam", "lbfgs"]

# Joints closer to the camera plane than this (metres) are projected as if at this depth.
_MIN_DEPTH = 1e-3


@dataclass(frozen=True)
class RefineReport:
    """What the refinement did.

    initial_error_px, final_error_px: confidence-weighted mean pixel distance between the
        projected SMPL joints and the annotated keypoints that count.
    initial_loss, final_loss: E at the start and at the end (pixels^2).
    iterations: optimiser steps taken.
    """

    initial_error_px: float
    final_error_px: float
    initial_loss: float
    final_loss: float
    iterations: int


def posed_joints_torch(
    global_orient: "torch.Tensor", body_pose: "torch.Tensor", transl: "torch.Tensor", rest_joints: "torch.Tensor"
) -> "torch.Tensor":
    """Differentiable SMPL joints: FK(axis_angle_to_matrix([orient, pose]), rest) + transl.

    global_orient: (T, 3), body_pose: (T, 23, 3) radians; transl: (T, 3) metres;
    rest_joints: (24, 3) metres (template frame). Returns (T, 24, 3) metres, in the frame
    global_orient maps into (the camera frame for HMR2.0). Pose correctives move vertices,
    not SMPL's joints beyond what the regressor sees, and are left out as in the body model.
    """
    import torch

    rotations = axis_angle_to_matrix(torch.cat([global_orient[:, None], body_pose], dim=1))
    _, joints = forward_kinematics(rotations, rest_joints, transl)
    return joints


def robust_penalty(residual: "torch.Tensor", kind: RobustPenalty, scale_px: float) -> "torch.Tensor":
    """rho of pixel residual norms r (any shape), in pixels^2, ~ r^2 for r << scale_px.

    Geman-McClure: scale^2 r^2 / (scale^2 + r^2) (SMPLify uses scale = 100 px), bounded by
    scale^2, so a wrong keypoint cannot pull a body far. Huber: r^2 below the scale,
    2 scale r - scale^2 above (linear growth).
    """
    import torch

    if kind == "geman_mcclure":
        return scale_px**2 * residual**2 / (scale_px**2 + residual**2)
    if kind == "huber":
        return torch.where(residual <= scale_px, residual**2, 2 * scale_px * residual - scale_px**2)
    raise ValueError(f"robust must be 'geman_mcclure' or 'huber', got {kind!r}")


def refine_track(
    global_orient: np.ndarray,
    body_pose: np.ndarray,
    transl: np.ndarray,
    rest_joints: np.ndarray,
    keypoints2d: np.ndarray,
    K: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    iterations: int = 5,
    optimizer: OptimizerName = "lbfgs",
    learning_rate: float = 0.01,
    robust: RobustPenalty = "geman_mcclure",
    robust_scale_px: float = 100.0,
    pose_weight: float = 10.0,
    transl_weight: float = 100.0,
    temporal_weight: float = 1.0e3,
    min_confidence: float = 0.0,
    body_only: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, RefineReport]:
    """Fit one track's poses to its annotated keypoints (see the module docstring).

    global_orient: (T, 3), body_pose: (T, 23, 3) axis-angle radians, transl: (T, 3) metres:
        the smoothed track in the OpenCV camera frame (HMR2.0's ``cam_t`` as ``transl``).
    rest_joints: (24, 3) metres, the person's rest joints (BodyModel.rest_joints(betas)).
    keypoints2d: (T, 17, 3) annotated COCO keypoints, pixels + confidence (0: none).
    K: (3, 3) intrinsics, pixels.
    valid: (T,) bool, frames whose keypoints count (None: all).
    iterations: Adam steps, or L-BFGS outer steps (each up to 20 evaluations, strong Wolfe).
    learning_rate: Adam's step (radians / metres); L-BFGS uses 1 with its line search.
    robust, robust_scale_px: the penalty rho on pixel residuals (:func:`robust_penalty`).
    pose_weight (px^2/rad^2), transl_weight (px^2/m^2), temporal_weight (px^2/m^2):
        lambda_theta, lambda_transl, lambda_acc.
    min_confidence: keypoints with confidence <= this do not count; body_only: only the
        12 body keypoints (the face points have no SMPL joint).
    Returns (global_orient (T, 3), body_pose (T, 23, 3), transl (T, 3), report), float64.
    """
    import torch

    orient0 = np.asarray(global_orient, dtype=np.float64)
    T = orient0.shape[0]
    pose0 = np.asarray(body_pose, dtype=np.float64)
    transl0 = np.asarray(transl, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    keypoints = np.asarray(keypoints2d, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    for name, array, shape in (
        ("global_orient", orient0, (T, 3)), ("body_pose", pose0, (T, 23, 3)), ("transl", transl0, (T, 3)),
        ("rest_joints", rest, (NUM_JOINTS, 3)), ("keypoints2d", keypoints, (T, NUM_COCO, 3)), ("K", K, (3, 3)),
    ):
        if array.shape != shape:
            raise ValueError(f"{name} must be {shape}, got {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{name} must be finite")
    valid = np.ones(T, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if valid.shape != (T,):
        raise ValueError(f"valid must be ({T},), got {valid.shape}")
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    if robust not in ("geman_mcclure", "huber"):
        raise ValueError(f"robust must be 'geman_mcclure' or 'huber', got {robust!r}")

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array))

    # 1. Fixed data: rest joints, intrinsics, keypoints and their weights w_tk.
    rest_t, K_t = tensor(rest), tensor(K)
    target = tensor(keypoints[..., :2])
    counts = (keypoints[..., 2] > min_confidence) & valid[:, None]
    if body_only:
        counts &= COCO_BODY_ONLY
    weight = tensor(np.where(counts, keypoints[..., 2], 0.0))
    weight_sum = max(float(weight.sum()), 1e-12)
    coco = list(SMPL_FOR_COCO)
    orient_bar, pose_bar, transl_bar = tensor(orient0), tensor(pose0), tensor(transl0)
    with torch.no_grad():
        joints_bar = posed_joints_torch(orient_bar, pose_bar, transl_bar, rest_t)

    # 2. The unknowns: corrections to the smoothed track (zero = the input).
    d_rot = torch.zeros((T, NUM_JOINTS, 3), dtype=torch.float64, requires_grad=True)
    d_transl = torch.zeros((T, 3), dtype=torch.float64, requires_grad=True)

    def pixel_residuals() -> tuple[torch.Tensor, torch.Tensor]:
        joints = posed_joints_torch(orient_bar + d_rot[:, 0], pose_bar + d_rot[:, 1:], transl_bar + d_transl, rest_t)
        camera = joints[:, coco] @ K_t.T  # (T, 17, 3) homogeneous pixels
        pixels = camera[..., :2] / camera[..., 2:3].clamp_min(_MIN_DEPTH)
        return torch.linalg.norm(pixels - target, dim=-1), joints

    def energy() -> torch.Tensor:
        residual, joints = pixel_residuals()
        # 3. E_J: confidence-weighted robust reprojection (SMPLify's data term).
        data = (weight * robust_penalty(residual, robust, robust_scale_px)).sum() / weight_sum
        # 4. Gaussian priors towards the smoothed rotations and translation.
        prior = pose_weight * (d_rot**2).sum(-1).mean() + transl_weight * (d_transl**2).sum(-1).mean()
        # 5. Temporal term: the correction's joint accelerations.
        correction = joints - joints_bar
        temporal = correction[2:] - 2 * correction[1:-1] + correction[:-2]
        smooth = temporal_weight * (temporal**2).sum(-1).mean() if T >= 3 else torch.zeros((), dtype=torch.float64)
        return data + prior + smooth

    def mean_error() -> float:
        with torch.no_grad():
            residual, _ = pixel_residuals()
            return float((weight * residual).sum() / weight_sum)

    initial_error = mean_error()
    with torch.no_grad():
        initial_loss = float(energy())

    # 6. Optimise the corrections for a fixed number of steps.
    parameters = [d_rot, d_transl]
    if optimizer == "adam":
        adam = torch.optim.Adam(parameters, lr=learning_rate)
        for _ in range(iterations):
            adam.zero_grad()
            loss = energy()
            loss.backward()
            adam.step()
    else:
        lbfgs = torch.optim.LBFGS(
            parameters, lr=1.0, max_iter=20, history_size=20, line_search_fn="strong_wolfe",
            tolerance_grad=1e-10, tolerance_change=1e-14,
        )

        def closure() -> torch.Tensor:
            lbfgs.zero_grad()
            loss = energy()
            loss.backward()
            return loss

        for _ in range(iterations):
            lbfgs.step(closure)

    with torch.no_grad():
        final_loss = float(energy())
        orient = (orient_bar + d_rot[:, 0]).numpy().copy()
        pose = (pose_bar + d_rot[:, 1:]).numpy().copy()
        shift = (transl_bar + d_transl).numpy().copy()
    report = RefineReport(
        initial_error_px=initial_error, final_error_px=mean_error(),
        initial_loss=initial_loss, final_loss=final_loss, iterations=iterations,
    )
    return orient, pose, shift, report
