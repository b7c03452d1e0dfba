"""Classifier-free guidance with one batched forward per step (Ho & Salimans 2021; thesis eq. 3.21).

The denoiser contract: ``denoiser(x_t, t, cond) -> x0_hat`` with ``x_t`` (B, ...), ``t`` (B,)
int64 (or whole float64) timesteps and ``cond`` an opaque conditioning object for the batch.
The functions here bind the condition and return the ``model(x_t, t) -> x0_hat`` the samplers
take.

Batching protocol: guidance runs the conditional and the unconditional pass as ONE forward of
batch 2B (the first B rows conditional, the last B unconditional), so the two conditions must be
concatenated along their batch dimension. ``default_batch_conditions`` does that for

* ``torch.Tensor``: ``torch.cat([cond, uncond])`` along dim 0;
* a ``Mapping`` (e.g. a dict of tensors): key by key, recursively; a key that is ``None`` in both
  stays ``None`` (e.g. no scene points), a key present in only one is an error;
* ``None`` with ``None``;
* any object with a method ``cat(other) -> same type`` (see ``Concatenable``), which a condition
  dataclass implements to stack its own fields.

Anything else needs a ``batch_conditions(cond, uncond)`` callable passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

Denoiser = Callable[[Tensor, Tensor, Any], Tensor]  # (x_t (B, ...), t (B,), cond) -> x0 (B, ...)
BoundModel = Callable[[Tensor, Tensor], Tensor]  # (x_t, t) -> x0, condition already bound
BatchConditions = Callable[[Any, Any], Any]  # (cond, uncond) -> condition for batch 2B


@runtime_checkable
class Concatenable(Protocol):
    """A condition that knows how to stack itself: ``a.cat(b)`` holds a's rows, then b's."""

    def cat(self, other: Any) -> Any: ...


def default_batch_conditions(cond: Any, uncond: Any) -> Any:
    """Concatenate ``cond`` then ``uncond`` along the batch dimension (protocol in module doc)."""
    if cond is None and uncond is None:
        return None
    if isinstance(cond, Tensor) and isinstance(uncond, Tensor):
        return torch.cat([cond, uncond], dim=0)
    if isinstance(cond, Mapping) and isinstance(uncond, Mapping):
        if set(cond) != set(uncond):
            raise ValueError(
                f"cond and uncond have different keys: {sorted(set(cond) ^ set(uncond))}"
            )
        return {key: default_batch_conditions(cond[key], uncond[key]) for key in cond}
    if isinstance(cond, Concatenable) and type(cond) is type(uncond):
        return cond.cat(uncond)
    raise TypeError(
        f"cannot batch conditions of types {type(cond).__name__} and {type(uncond).__name__}: "
        "give them a cat(other) method or pass batch_conditions=(cond, uncond) -> batched"
    )


@dataclass(frozen=True)
class GuidedModel:
    """x̂0 = x̂0(x_t, ∅) + scale · (x̂0(x_t, y) − x̂0(x_t, ∅)), eq. 3.21 applied to x0-prediction.

    ``batched`` is cond and uncond concatenated once, up front, not once per step.
    """

    denoiser: Denoiser
    cond: Any
    uncond: Any
    batched: Any
    scale: float

    def __call__(self, x_t: Tensor, t: Tensor) -> Tensor:
        # scale 1 and 0 are one of the two branches exactly; skip the other half of the batch.
        if self.scale == 1.0:
            return self.denoiser(x_t, t, self.cond)
        if self.scale == 0.0:
            return self.denoiser(x_t, t, self.uncond)
        batch = x_t.shape[0]
        out = self.denoiser(torch.cat([x_t, x_t]), torch.cat([t, t]), self.batched)
        x0_cond, x0_uncond = out[:batch], out[batch:]
        return x0_uncond + self.scale * (x0_cond - x0_uncond)


def classifier_free_guidance(
    denoiser: Denoiser,
    cond: Any,
    uncond: Any,
    scale: float,
    *,
    batch_conditions: BatchConditions | None = None,
) -> GuidedModel:
    """Bind ``cond``/``uncond`` to ``denoiser``; the result is ``model(x_t, t) -> x0``.

    ``scale`` = 1 is the conditional model (only the conditional pass runs), 0 the unconditional
    one, > 1 extrapolates away from the unconditional prediction.
    """
    scale = float(scale)
    batched = None
    if scale not in (0.0, 1.0):
        batched = (batch_conditions or default_batch_conditions)(cond, uncond)
    return GuidedModel(denoiser=denoiser, cond=cond, uncond=uncond, batched=batched, scale=scale)


def unguided(denoiser: Denoiser, cond: Any) -> BoundModel:
    """``model(x_t, t) = denoiser(x_t, t, cond)``: the condition bound, no guidance."""

    def model(x_t: Tensor, t: Tensor) -> Tensor:
        return denoiser(x_t, t, cond)

    return model
