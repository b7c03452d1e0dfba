"""Training losses of the x0-predicting motion model (thesis sec. 2.2; MDM, Tevet et al. 2023).

Predicting x0 rather than the noise is what lets geometric terms on the decoded joints join the
simple x0 MSE (MDM sec. 3, which the thesis follows).

Shapes: features ``(..., T, F)``; joint positions ``(..., T, J, 3)`` in metres, Z up (the floor is
z = 0); ``mask`` ``(..., T)`` with True / 1 for real frames and False / 0 for padding. The leading
``...`` is whatever batching the caller uses, e.g. (B,) or (B, persons). Every loss averages over
valid elements only, so padded frames never contribute whatever their values.

The geometric terms work on joint positions the caller decodes from features (``to_positions``),
so this file does not depend on the motion representation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

UP_AXIS = 2  # Z up (DESIGN.md conventions)
SMPL_FOOT_JOINTS = (7, 8, 10, 11)  # left/right ankle, left/right foot


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over the elements where ``mask`` (a prefix of its shape) is set."""
    weights = mask.to(values.dtype).reshape(mask.shape + (1,) * (values.ndim - mask.ndim))
    weights = weights.expand_as(values)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def _pair_mask(mask: Tensor) -> Tensor:
    """(..., T − 1): frames t and t + 1 both valid, so their difference is a real velocity."""
    mask = mask.bool()
    return mask[..., 1:] & mask[..., :-1]


def _velocity(pos: Tensor) -> Tensor:
    """(..., T − 1, J, 3) finite differences, metres per frame."""
    return pos[..., 1:, :, :] - pos[..., :-1, :, :]


def x0_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Masked mean squared error of the x0 prediction; pred, target (..., T, F), mask (..., T)."""
    return _masked_mean((pred - target) ** 2, mask)


def velocity_consistency(pred_pos: Tensor, target_pos: Tensor, mask: Tensor) -> Tensor:
    """MSE of joint velocities, (m/frame)²; positions (..., T, J, 3), mask (..., T).

    Only pairs of consecutive valid frames count.
    """
    error = ((_velocity(pred_pos) - _velocity(target_pos)) ** 2).sum(dim=-1)  # (..., T−1, J)
    return _masked_mean(error, _pair_mask(mask))


def bone_lengths(pos: Tensor, parents: Sequence[int]) -> Tensor:
    """(..., T, J') lengths in metres of the bones j → parents[j] for every j with a parent."""
    child = [j for j, p in enumerate(parents) if p >= 0]
    parent = [parents[j] for j in child]
    return torch.linalg.vector_norm(pos[..., child, :] - pos[..., parent, :], dim=-1)


def bone_length_loss(
    pred_pos: Tensor, parents: Sequence[int], mask: Tensor, target_pos: Tensor | None = None
) -> Tensor:
    """Bone-length error in m²; positions (..., T, J, 3), ``parents[j]`` = −1 for the root.

    With ``target_pos``: MSE between predicted and target bone lengths. Without: the variance of
    each predicted bone's length over the valid frames of its sequence (lengths constant in time).
    """
    lengths = bone_lengths(pred_pos, parents)  # (..., T, J')
    if target_pos is not None:
        return _masked_mean((lengths - bone_lengths(target_pos, parents)) ** 2, mask)
    weights = mask.to(lengths.dtype).unsqueeze(-1)  # (..., T, 1)
    frames = weights.sum(dim=-2, keepdim=True).clamp_min(1.0)
    mean = (lengths * weights).sum(dim=-2, keepdim=True) / frames  # per sequence and bone
    return _masked_mean((lengths - mean) ** 2, mask)


def foot_contact_mask(
    target_pos: Tensor,
    foot_indices: Sequence[int],
    height_threshold: float,
    velocity_threshold: float,
    up_axis: int = UP_AXIS,
) -> Tensor:
    """(..., T − 1, F) bool: the target foot is on the ground and still between t and t + 1.

    Contact = height above the floor (z = 0) < ``height_threshold`` (m) at frame t and speed
    < ``velocity_threshold`` (m/frame) from t to t + 1.
    """
    feet = target_pos[..., list(foot_indices), :]  # (..., T, F, 3)
    low = feet[..., :-1, :, up_axis] < height_threshold
    still = torch.linalg.vector_norm(_velocity(feet), dim=-1) < velocity_threshold
    return low & still


def foot_contact_loss(
    pred_pos: Tensor,
    target_pos: Tensor,
    foot_indices: Sequence[int],
    mask: Tensor,
    height_threshold: float,
    velocity_threshold: float,
    up_axis: int = UP_AXIS,
) -> Tensor:
    """Foot sliding in (m/frame)²: predicted foot velocity where the target foot is in contact.

    Averaged over all valid frame pairs and feet (MDM's foot-contact term), so a foot in the air
    in the target costs nothing however it moves in the prediction.
    """
    contact = foot_contact_mask(
        target_pos, foot_indices, height_threshold, velocity_threshold, up_axis
    )
    pred_feet = pred_pos[..., list(foot_indices), :]
    pred_speed2 = (_velocity(pred_feet) ** 2).sum(dim=-1)  # (..., T − 1, F)
    return _masked_mean(pred_speed2 * contact.to(pred_speed2.dtype), _pair_mask(mask))


def fk_consistency_loss(fk_pos: Tensor, target_pos: Tensor, mask: Tensor) -> Tensor:
    """Squared distance in m² between the joints forward kinematics of the predicted rotations
    places, ``fk_pos`` (..., T, J, 3), and the target joints, both relative to their pelvis
    (joint 0); mask (..., T).

    The x0 MSE weighs a 6D number of the root like one of a wrist, though a root turned by a few
    degrees moves the head by centimetres: this term scores rotations by the joints they place,
    so a model learns rotations that agree with its positions (what a rig driven by them shows).
    Pelvis-relative, it scores the rotations only: the pelvis track is the x0 term's, and at
    high noise levels its error (metres) would otherwise reach every joint and drown the rest.
    """
    relative = (fk_pos - fk_pos[..., :1, :]) - (target_pos - target_pos[..., :1, :])
    error = (relative**2).sum(dim=-1)  # (..., T, J)
    return _masked_mean(error, mask)


@dataclass(frozen=True)
class LossTerms:
    """The weighted total and each unweighted term, all scalar tensors."""

    total: Tensor
    x0: Tensor
    velocity: Tensor
    bone_length: Tensor
    foot_contact: Tensor
    fk: Tensor


@dataclass(frozen=True)
class DiffusionLoss:
    """Weighted sum of the x0 MSE and the geometric terms on decoded joints (MDM sec. 3).

    Weights are plain numbers so the config can be stored with a checkpoint; the geometric terms
    are off (weight 0) unless asked for.
    """

    parents: tuple[int, ...]
    x0_weight: float = 1.0
    velocity_weight: float = 0.0
    bone_length_weight: float = 0.0
    foot_contact_weight: float = 0.0
    fk_weight: float = 0.0
    foot_indices: tuple[int, ...] = SMPL_FOOT_JOINTS
    height_threshold: float = 0.12  # metres above the floor
    velocity_threshold: float = 0.01  # metres per frame (0.3 m/s at 30 fps)

    def __call__(
        self,
        pred: Tensor,
        target: Tensor,
        mask: Tensor,
        to_positions: Callable[[Tensor], Tensor] | None = None,
        to_fk_positions: Callable[[Tensor], Tensor] | None = None,
    ) -> LossTerms:
        """pred, target (..., T, F) features; ``to_positions`` maps them to their stored joint
        positions (..., T, J, 3) metres, ``to_fk_positions`` to the joints forward kinematics of
        their rotations places.

        ``to_positions`` may be None when every geometric weight is zero, ``to_fk_positions``
        when ``fk_weight`` is.
        """
        zero = pred.new_zeros(())
        x0 = x0_loss(pred, target, mask)
        velocity = bone = foot = fk = zero
        geometric = bool(self.velocity_weight or self.bone_length_weight or self.foot_contact_weight)
        if (geometric or self.fk_weight) and to_positions is None:
            raise ValueError("geometric loss weights are set but no to_positions was given")
        target_pos = to_positions(target) if geometric or self.fk_weight else None
        if geometric:
            pred_pos = to_positions(pred)
            velocity = velocity_consistency(pred_pos, target_pos, mask)
            bone = bone_length_loss(pred_pos, self.parents, mask, target_pos)
            foot = foot_contact_loss(
                pred_pos,
                target_pos,
                self.foot_indices,
                mask,
                self.height_threshold,
                self.velocity_threshold,
            )
        if self.fk_weight:
            if to_fk_positions is None:
                raise ValueError("fk_weight is set but no to_fk_positions was given")
            fk = fk_consistency_loss(to_fk_positions(pred), target_pos, mask)
        total = (
            self.x0_weight * x0
            + self.velocity_weight * velocity
            + self.bone_length_weight * bone
            + self.foot_contact_weight * foot
            + self.fk_weight * fk
        )
        return LossTerms(total=total, x0=x0, velocity=velocity, bone_length=bone, foot_contact=foot, fk=fk)
