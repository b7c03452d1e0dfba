"""The x0 corrections every sampling run applies, in their order, for Generate Interaction and the evaluation alike.

A guided model (``model(x_t, t) -> x0``, normalised (B, P, T, F)) is wrapped, innermost first:

1. ``spacing.keep_apart``: pelvises at least 0.6 m apart;
2. with a scene, ``onto_support.onto_support``: lying bodies laid on what carries them, those
   lying beside the bed turned, moved and laid onto it when the prompt is about lying in bed;
3. with a scene, ``keep_out.keep_out``: legs and trunks out of the furniture (after the bed
   placement, whose time-averaged move can carry a sitting person's legs into the bed's side;
   a body laid on the bed is above its top and stays);
4. ``body_separation.keep_bodies_apart``: the bone capsules of the decoded bodies apart, last,
   so that what the sampler returns is what it checked (its centimetre pushes are split so that
   they put nobody into furniture).

The separation measures the capsules on one decode per call and moves people by its rounds; a
deep overlap in the last prediction can leave a shallow one behind, so
:func:`separated_result` runs it once more, on a fresh decode of what the sampler returns.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .body_separation import keep_bodies_apart
from .keep_out import escape_map, keep_out
from .onto_support import onto_support, support_map
from .spacing import Model, keep_apart


def corrected(model: Model, mean: np.ndarray, std: np.ndarray, persons_valid: Tensor,
              scenes: Sequence[np.ndarray | None] | None, *, rest_joints: np.ndarray, fps: float,
              frames_valid: Tensor | None = None, in_bed: Sequence[bool] | None = None) -> Model:
    """``model`` with the corrections of the module docstring.

    mean, std: (F,) the checkpoint's statistics; persons_valid: (B, P) bool; scenes: one
    (N, 3) scene point array (metres, floor z = 0) or None per batch row, or None for no scene
    at all; rest_joints: (24, 3) metres, the skeleton the decode uses; fps: the checkpoint's;
    frames_valid: (B, T) bool, the real (unpadded) frames, or None for all; in_bed: per batch
    row, whether its prompt was understood as an action in which someone lies in bed (only
    those rows' bodies are moved onto beds), or None for none.
    """
    model = keep_apart(model, mean, std, persons_valid)
    maps = None
    if scenes is not None and any(points is not None for points in scenes):
        supports = [None if points is None else support_map(points) for points in scenes]
        model = onto_support(model, mean, std, supports, in_bed, fps=fps, rest_joints=rest_joints)
        maps = [None if points is None else escape_map(points) for points in scenes]
        model = keep_out(model, mean, std, maps, rest_joints=rest_joints)
    return keep_bodies_apart(model, mean, std, persons_valid, rest_joints=rest_joints, frames_valid=frames_valid,
                             fps=fps, maps=maps)



def separated_result(x0: Tensor, mean: np.ndarray, std: np.ndarray, persons_valid: Tensor,
                     scenes: Sequence[np.ndarray | None] | None, *, rest_joints: np.ndarray, fps: float,
                     frames_valid: Tensor | None = None, in_bed: Sequence[bool] | None = None) -> Tensor:
    """A sampler's result x0 (B, P, T, F), normalised, with ``body_separation`` run once more
    (arguments as :func:`corrected`; ``in_bed`` is not used)."""
    maps = None if scenes is None else [None if points is None else escape_map(points) for points in scenes]
    separate = keep_bodies_apart(lambda x, t: x, mean, std, persons_valid, rest_joints=rest_joints,
                                 frames_valid=frames_valid, fps=fps, maps=maps)
    return separate(x0, torch.zeros(len(x0), dtype=torch.long, device=x0.device))
