"""DDPM noise schedule in float64 with the papers' names (thesis sec. 3.2; Ho et al. 2020).

Index convention: a schedule of ``N`` steps is indexed by ``i`` in ``[0, N)``, which is the
paper's step ``t = i + 1`` (the paper counts ``t = 1..T``). So ``alphas_cumprod[i]`` is
ᾱ_{i+1} and ``alphas_cumprod_prev[0]`` is ᾱ_0 = 1 (clean data). This is the index the
denoiser receives as its timestep and the one ``q_sample`` and ``q_posterior`` take.

Tables are (N,) float64 torch tensors on the CPU. ``gather`` picks the values for a batch of
timesteps and casts them to the dtype and device of the tensor they will multiply, so the maths
runs in float64 up to that single cast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

MAX_BETA = 0.999  # Nichol & Dhariwal 2021 sec. 3.2: clip to avoid the singularity at t = T


@dataclass(frozen=True, eq=False)
class DiffusionSchedule:
    """All per-step tables of a discrete diffusion process, each (N,) float64.

    ``timesteps`` (N,) int64 maps an index of this schedule to the denoiser's timestep. It is
    ``arange(N)`` for a full schedule and the kept timesteps for a respaced one, whose model was
    trained on the full schedule (improved-diffusion's ``timestep_map``).
    """

    betas: Tensor  # β_t
    alphas: Tensor  # α_t = 1 − β_t
    alphas_cumprod: Tensor  # ᾱ_t = Π_{s≤t} α_s
    alphas_cumprod_prev: Tensor  # ᾱ_{t−1}, with ᾱ_0 = 1
    sqrt_alphas_cumprod: Tensor  # √ᾱ_t
    sqrt_one_minus_alphas_cumprod: Tensor  # √(1 − ᾱ_t)
    posterior_variance: Tensor  # β̃_t, eq. 3.9
    posterior_log_variance_clipped: Tensor  # log β̃_t, with β̃_1 (= 0) replaced by β̃_2
    posterior_mean_coef1: Tensor  # √ᾱ_{t−1} β_t / (1 − ᾱ_t), multiplies x0 in eq. 3.8
    posterior_mean_coef2: Tensor  # √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), multiplies x_t in eq. 3.8
    timesteps: Tensor  # (N,) int64, the denoiser's timestep for each index

    @property
    def num_steps(self) -> int:
        return int(self.betas.shape[0])

    # ----------------------------------------------------------------------------------------
    # construction

    @classmethod
    def from_betas(cls, betas: Tensor, timesteps: Tensor | None = None) -> DiffusionSchedule:
        """Schedule whose ᾱ is the cumulative product of ``1 - betas`` (thesis eq. 3.7)."""
        betas = torch.as_tensor(betas, dtype=torch.float64).cpu()
        return cls._from_tables(betas, torch.cumprod(1.0 - betas, dim=0), timesteps)

    @classmethod
    def from_alphas_cumprod(
        cls, alphas_cumprod: Tensor, timesteps: Tensor | None = None
    ) -> DiffusionSchedule:
        """Schedule with exactly these ᾱ; β_t = 1 − ᾱ_t / ᾱ_{t−1} (improved-diffusion respacing)."""
        alphas_cumprod = torch.as_tensor(alphas_cumprod, dtype=torch.float64).cpu()
        prev = torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])
        return cls._from_tables(1.0 - alphas_cumprod / prev, alphas_cumprod, timesteps)

    @classmethod
    def _from_tables(
        cls, betas: Tensor, alphas_cumprod: Tensor, timesteps: Tensor | None
    ) -> DiffusionSchedule:
        n = betas.shape[0]
        if betas.ndim != 1 or n < 1:
            raise ValueError(f"betas must be a non-empty 1-D table, got shape {tuple(betas.shape)}")
        if not bool(((betas > 0) & (betas <= 1)).all()):
            raise ValueError("every beta must lie in (0, 1]")
        if timesteps is None:
            timesteps = torch.arange(n, dtype=torch.int64)
        timesteps = torch.as_tensor(timesteps, dtype=torch.int64).cpu()
        if timesteps.shape != (n,):
            raise ValueError(f"timesteps must have shape ({n},), got {tuple(timesteps.shape)}")

        alphas = 1.0 - betas
        prev = torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])
        # Eq. 3.9: β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t; zero at the first step.
        posterior_variance = betas * (1.0 - prev) / (1.0 - alphas_cumprod)
        # log β̃ is −inf at the first step; like improved-diffusion, reuse the second value.
        first = posterior_variance[1:2] if n > 1 else posterior_variance.clamp_min(1e-20)
        log_variance = torch.log(torch.cat([first, posterior_variance[1:]]))
        return cls(
            betas=betas,
            alphas=alphas,
            alphas_cumprod=alphas_cumprod,
            alphas_cumprod_prev=prev,
            sqrt_alphas_cumprod=torch.sqrt(alphas_cumprod),
            sqrt_one_minus_alphas_cumprod=torch.sqrt(1.0 - alphas_cumprod),
            posterior_variance=posterior_variance,
            posterior_log_variance_clipped=log_variance,
            # Eq. 3.8: μ̃_t = coef1 · x0 + coef2 · x_t.
            posterior_mean_coef1=betas * torch.sqrt(prev) / (1.0 - alphas_cumprod),
            posterior_mean_coef2=(1.0 - prev) * torch.sqrt(alphas) / (1.0 - alphas_cumprod),
            timesteps=timesteps,
        )

    def respace(self, indices: Sequence[int] | Tensor) -> DiffusionSchedule:
        """This process restricted to the given indices (Nichol & Dhariwal 2021 sec. 4).

        ᾱ at the kept indices is unchanged and β is recomputed from it, so a model trained on
        this schedule samples the shorter chain; ``timesteps`` keeps the model's timesteps.
        """
        kept = torch.unique(torch.as_tensor(indices, dtype=torch.int64))  # sorted ascending
        if kept.numel() == 0 or kept[0] < 0 or kept[-1] >= self.num_steps:
            raise ValueError(f"indices must be non-empty and lie in [0, {self.num_steps})")
        return DiffusionSchedule.from_alphas_cumprod(
            self.alphas_cumprod[kept], self.timesteps[kept]
        )

    # ----------------------------------------------------------------------------------------
    # per-timestep values

    def gather(self, table: Tensor, t: Tensor | int, like: Tensor) -> Tensor:
        """``table[t]`` reshaped to (B, 1, ..., 1) to broadcast against ``like`` (B, ...).

        ``t``: (B,) or scalar integer indices in [0, N) (float values must be whole numbers).
        Returns ``like``'s dtype and device; the lookup itself is float64 where the device has it.
        """
        t = torch.as_tensor(t, device=like.device)
        if t.is_floating_point():
            t = t.round()
        table_dtype = torch.float32 if like.device.type == "mps" else torch.float64
        values = table.to(device=like.device, dtype=table_dtype)[t.long()].to(like.dtype)
        return values.reshape(values.shape + (1,) * (like.ndim - values.ndim))

    # ----------------------------------------------------------------------------------------
    # the forward process and its posterior

    def q_sample(self, x0: Tensor, t: Tensor | int, noise: Tensor) -> Tensor:
        """x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε (thesis eq. 3.7); x0, noise (B, ...), t (B,)."""
        return (
            self.gather(self.sqrt_alphas_cumprod, t, x0) * x0
            + self.gather(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise
        )

    def q_posterior(
        self, x0: Tensor, x_t: Tensor, t: Tensor | int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Mean, variance and log variance of q(x_{t−1} | x_t, x0) (thesis eq. 3.8–3.9).

        Mean has x_t's shape; variance and log variance are (B, 1, ..., 1).
        """
        mean = (
            self.gather(self.posterior_mean_coef1, t, x_t) * x0
            + self.gather(self.posterior_mean_coef2, t, x_t) * x_t
        )
        variance = self.gather(self.posterior_variance, t, x_t)
        log_variance = self.gather(self.posterior_log_variance_clipped, t, x_t)
        return mean, variance, log_variance

    def predict_eps_from_x0(self, x_t: Tensor, t: Tensor | int, x0: Tensor) -> Tensor:
        """ε = (x_t − √ᾱ_t x0) / √(1 − ᾱ_t), eq. 3.7 solved for the noise."""
        return (x_t - self.gather(self.sqrt_alphas_cumprod, t, x_t) * x0) / self.gather(
            self.sqrt_one_minus_alphas_cumprod, t, x_t
        )

    def predict_x0_from_eps(self, x_t: Tensor, t: Tensor | int, eps: Tensor) -> Tensor:
        """x0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t, eq. 3.7 solved for the data."""
        return (x_t - self.gather(self.sqrt_one_minus_alphas_cumprod, t, x_t) * eps) / self.gather(
            self.sqrt_alphas_cumprod, t, x_t
        )


def cosine_alpha_bar(t_over_T: Tensor, s: float = 0.008) -> Tensor:
    """ᾱ(t) = f(t) / f(0), f(t) = cos²((t/T + s) / (1 + s) · π/2) (thesis eq. 3.15), float64."""
    t_over_T = torch.as_tensor(t_over_T, dtype=torch.float64)

    def f(u: Tensor) -> Tensor:
        return torch.cos((u + s) / (1.0 + s) * (math.pi / 2)) ** 2

    return f(t_over_T) / f(torch.zeros((), dtype=torch.float64))


def cosine_schedule(num_steps: int = 1000, s: float = 0.008) -> DiffusionSchedule:
    """The cosine schedule of Nichol & Dhariwal 2021 (thesis sec. 3.2.1), float64.

    1. ᾱ(t) from eq. 3.15 at the paper's steps t = 0..T.
    2. β_t = min(1 − ᾱ_t / ᾱ_{t−1}, 0.999), the clip only bites at t = T.
    3. ᾱ is rebuilt as Π(1 − β), so the clipped β define the process (ᾱ_T ≈ 2e-9, not 0).
    """
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2, got {num_steps}")
    alpha_bar = cosine_alpha_bar(torch.arange(num_steps + 1, dtype=torch.float64) / num_steps, s)
    betas = torch.clamp(1.0 - alpha_bar[1:] / alpha_bar[:-1], max=MAX_BETA)
    return DiffusionSchedule.from_betas(betas)


def spaced_indices(num_steps: int, steps: int) -> list[int]:
    """``steps`` indices of a ``num_steps`` schedule, evenly spaced, always 0 and num_steps − 1.

    The fractional stride of improved-diffusion's ``space_timesteps`` with one section.
    """
    if not 1 <= steps <= num_steps:
        raise ValueError(f"steps must lie in [1, {num_steps}], got {steps}")
    if steps == 1:
        return [num_steps - 1]
    stride = (num_steps - 1) / (steps - 1)
    return sorted({round(i * stride) for i in range(steps)})
