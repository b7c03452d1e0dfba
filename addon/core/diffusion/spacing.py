"""Personal space during sampling: people are kept from standing inside each other.

A small model trained on a CPU learns each person's motion well before it learns where the
others are, and then tends to put two people on the same spot. ``keep_apart`` wraps the
guided model (``model(x_t, t) -> x0``) and corrects every x0 prediction before the sampler
uses it, in the spirit of the inference-time spatial guidance of OmniControl/InterControl,
but in closed form: wherever two persons' pelvises are closer than ``min_distance`` in the
floor plane, both persons' joint positions move apart along the line between them, half the
shortfall each, the push averaged over SMOOTHING_FRAMES frames so that it changes slowly (a
shift that jumps from frame to frame would make planted feet slide). Rotations are untouched
(a pure shift), and the later denoising steps blend the correction into a coherent motion. Padded persons (``persons_valid`` False) are ignored.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..motion.representation import POSITIONS

MIN_PELVIS_DISTANCE_M = 0.6  # two torsos (capsule radius ~0.15 m), bent legs and an arm between them
SMOOTHING_FRAMES = 21  # the push is averaged over this many frames: it moves people, never their planted feet

Model = Callable[[Tensor, Tensor], Tensor]
# (x0 normalised (B, P, T, F), its positions (B, P, T, 66) metres) -> (B, P, T, 2) floor-plane shifts (m).
Push = Callable[[Tensor, Tensor], Tensor]


def shift_guidance(model: Model, mean: np.ndarray, std: np.ndarray, push: Push, min_persons: int = 1) -> Model:
    """``model`` whose every x0 prediction moves each person-frame by ``push(x0, positions)`` in the
    floor plane (``shifted``); x0 with fewer than ``min_persons`` persons passes unchanged. The
    guidance wrappers here and in ``keep_out`` / ``body_separation`` are this with their own push.
    mean, std: (F,) the checkpoint's normalisation statistics (features = x * std + mean, metres)."""
    pos_mean = torch.as_tensor(np.asarray(mean)[POSITIONS], dtype=torch.float32)
    pos_std = torch.as_tensor(np.asarray(std)[POSITIONS], dtype=torch.float32)

    def guided(x_t: Tensor, t: Tensor) -> Tensor:
        x0 = model(x_t, t)
        if x0.shape[1] < min_persons:
            return x0
        mean_, std_ = pos_mean.to(x0), pos_std.to(x0)
        positions = x0[..., POSITIONS] * std_ + mean_  # (B, P, T, 66) metres
        return shifted(x0, positions, push(x0, positions), mean_, std_)

    return guided


def keep_apart(model: Model, mean: np.ndarray, std: np.ndarray, persons_valid: Tensor,
               min_distance: float = MIN_PELVIS_DISTANCE_M) -> Model:
    """``model`` whose x0 (B, P, T, F), normalised, keeps valid persons' pelvises >= min_distance apart.

    mean, std: (F,) the checkpoint's normalisation statistics (features = x * std + mean, metres);
    persons_valid: (B, P) bool.
    """
    valid = persons_valid.to(torch.bool)

    def push(x0: Tensor, positions: Tensor) -> Tensor:
        return smooth_over_time(separation(positions[..., 0:2], valid.to(x0.device), min_distance))

    return shift_guidance(model, mean, std, push, min_persons=2)


def shifted(x0: Tensor, positions: Tensor, push: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """x0 (B, P, T, F), normalised, with every joint position of each person-frame moved by
    ``push`` (B, P, T, 2) metres in the floor plane. positions: (B, P, T, 66) metres, x0's
    de-normalised positions; mean, std: their (66,) statistics."""
    shift = torch.zeros_like(positions)
    shift[..., 0::3] = push[..., 0:1]
    shift[..., 1::3] = push[..., 1:2]
    out = x0.clone()
    out[..., POSITIONS] = (positions + shift - mean) / std
    return out


def separation(pelvis_xy: Tensor, valid: Tensor, min_distance: float) -> Tensor:
    """(B, P, T, 2) pelvis positions (m), (B, P) valid -> (B, P, T, 2) shifts (m) that resolve
    every pair closer than ``min_distance``: each moves (min_distance - d) / 2 away from the other
    (persons on the very same spot part along x, the lower index to -x)."""
    B, P = pelvis_xy.shape[:2]
    diff = pelvis_xy[:, :, None] - pelvis_xy[:, None]  # (B, P, P, T, 2): i minus j
    dist = diff.norm(dim=-1)  # (B, P, P, T)
    index = torch.arange(P, device=pelvis_xy.device)
    fallback = torch.zeros(P, P, 2, dtype=pelvis_xy.dtype, device=pelvis_xy.device)
    fallback[..., 0] = torch.sign((index[:, None] - index[None]).to(pelvis_xy.dtype))
    direction = torch.where(dist[..., None] > 1e-4, diff / dist.clamp_min(1e-4)[..., None],
                            fallback[None, :, :, None, :])
    pair = valid[:, :, None] & valid[:, None, :] & (index[:, None] != index[None])[None]  # (B, P, P)
    shortfall = (min_distance - dist).clamp_min(0.0) * pair[..., None]
    return (0.5 * shortfall[..., None] * direction).sum(dim=2)


def smooth_over_time(push: Tensor, frames: int = SMOOTHING_FRAMES) -> Tensor:
    """(B, P, T, 2) -> the same, each series averaged over a centred window of ``frames``
    (edges average what exists)."""
    B, P, T, C = push.shape
    if T < 2:
        return push
    series = push.permute(0, 1, 3, 2).reshape(B * P * C, 1, T)
    kernel = torch.ones(1, 1, frames, dtype=push.dtype, device=push.device)
    total = torch.nn.functional.conv1d(series, kernel, padding=frames // 2)
    count = torch.nn.functional.conv1d(torch.ones_like(series), kernel, padding=frames // 2)
    return (total / count).reshape(B, P, C, T).permute(0, 1, 3, 2)
