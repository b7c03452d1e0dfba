"""Diffusion schedule, guidance, samplers and losses, checked against closed forms by value."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from addon.core.diffusion.guidance import (
    classifier_free_guidance,
    default_batch_conditions,
    unguided,
)
from addon.core.diffusion.losses import (
    DiffusionLoss,
    bone_length_loss,
    foot_contact_loss,
    velocity_consistency,
    x0_loss,
)
from addon.core.diffusion.samplers import (
    SAMPLERS,
    SamplingCancelled,
    dpmpp_timesteps,
    sample,
    sample_ddim,
    sample_ddpm,
    sample_dpmpp_2m,
)
from addon.core.diffusion.schedule import DiffusionSchedule, cosine_schedule, spaced_indices

SCHEDULE = cosine_schedule(1000)


@pytest.fixture(autouse=True)
def one_intra_op_thread():
    # A thousand small ops per sample: a second OpenMP thread gains nothing, and on a loaded
    # 2-core machine its spin-waiting made the DDPM test 10x slower (3 s -> 34 s).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def closed_form_alpha_bar(t: int, T: int = 1000, s: float = 0.008) -> float:
    """Thesis eq. 3.15, written out again with math.cos so the test does not reuse the code."""

    def f(u: float) -> float:
        return math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2

    return f(t) / f(0)


# -------------------------------------------------------------------------------------------
# schedule


def test_cosine_schedule_is_float64_monotone_and_matches_eq_3_15():
    sch = SCHEDULE
    for name in (
        "betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
        "sqrt_one_minus_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
        "posterior_mean_coef1", "posterior_mean_coef2",
    ):  # fmt: skip
        table = getattr(sch, name)
        assert table.dtype == torch.float64 and table.shape == (1000,), name
    abar = sch.alphas_cumprod
    assert bool((abar[1:] < abar[:-1]).all())
    assert abar[0] > 0.9999 and abar[-1] < 1e-8
    assert float(sch.betas.max()) == pytest.approx(0.999) and bool((sch.betas <= 0.999).all())
    # Index i is the paper's step t = i + 1; only the last beta is clipped.
    for t in (1, 2, 10, 250, 500, 750, 990, 999):
        assert float(abar[t - 1]) == pytest.approx(closed_form_alpha_bar(t), rel=1e-10, abs=1e-15)
    assert float(sch.alphas_cumprod_prev[0]) == 1.0
    assert torch.equal(sch.alphas_cumprod_prev[1:], abar[:-1])
    assert torch.allclose(sch.sqrt_alphas_cumprod**2, abar, rtol=1e-14)
    assert torch.equal(sch.timesteps, torch.arange(1000))


def test_q_sample_and_eps_round_trip():
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(6, 4, 3, generator=g), torch.randn(6, 4, 3, generator=g)
    t = torch.tensor([0, 1, 100, 500, 998, 999])
    x_t = SCHEDULE.q_sample(x0, t, eps)
    a = SCHEDULE.alphas_cumprod[t][:, None, None]  # float64, so the reference is exact
    assert x_t.dtype == torch.float32
    expected = a.sqrt() * x0.double() + (1 - a).sqrt() * eps.double()
    assert torch.allclose(x_t.double(), expected, atol=1e-6)
    x0_64, eps_64 = x0.double(), eps.double()
    x_t64 = SCHEDULE.q_sample(x0_64, t, eps_64)
    assert torch.allclose(SCHEDULE.predict_eps_from_x0(x_t64, t, x0_64), eps_64, atol=1e-9)
    assert torch.allclose(SCHEDULE.predict_x0_from_eps(x_t64[:4], t[:4], eps_64[:4]), x0_64[:4])


def test_q_posterior_is_eq_3_8_and_3_9_at_random_steps():
    g = torch.Generator().manual_seed(2)
    t = torch.randint(1, 1000, (64,), generator=g)
    x0 = torch.randn(64, 5, generator=g, dtype=torch.float64)
    eps = torch.randn(64, 5, generator=g, dtype=torch.float64)
    x_t = SCHEDULE.q_sample(x0, t, eps)
    mean, var, log_var = SCHEDULE.q_posterior(x0, x_t, t)

    beta = SCHEDULE.betas[t][:, None]
    alpha = 1 - beta
    abar = SCHEDULE.alphas_cumprod[t][:, None]
    abar_prev = SCHEDULE.alphas_cumprod[t - 1][:, None]
    # Eq. 3.8, both forms: in x0 and x_t, and in x_t and the noise that made it.
    coef_x0 = abar_prev.sqrt() * beta / (1 - abar)
    coef_xt = alpha.sqrt() * (1 - abar_prev) / (1 - abar)
    mean_x0 = coef_x0 * x0 + coef_xt * x_t
    mean_eps = (x_t - beta / (1 - abar).sqrt() * eps) / alpha.sqrt()
    assert torch.allclose(mean, mean_x0, rtol=1e-12, atol=1e-12)
    assert torch.allclose(mean, mean_eps, rtol=1e-9, atol=1e-9)
    # Eq. 3.9.
    assert torch.allclose(var, (1 - abar_prev) / (1 - abar) * beta, rtol=1e-12)
    assert torch.allclose(log_var, var.log(), rtol=1e-12)
    # At the first step the posterior is the point x0 (ᾱ_0 = 1).
    m0, v0, _ = SCHEDULE.q_posterior(x0[:1], x_t[:1], torch.tensor([0]))
    assert float(v0) == 0.0 and torch.allclose(m0, x0[:1], atol=1e-12)


def test_q_posterior_is_the_gaussian_conditional_of_the_forward_process():
    # Given x0: x_{t-1} = √ᾱ_{t-1} x0 + √(1-ᾱ_{t-1}) e1 and x_t = √α_t x_{t-1} + √β_t e2 are
    # jointly Gaussian; condition x_{t-1} on x_t with the textbook formula.
    t = torch.tensor([1, 37, 400, 871, 999])
    x0 = torch.linspace(-1.5, 2.0, 5, dtype=torch.float64)[:, None]
    x_t = torch.linspace(0.7, -0.9, 5, dtype=torch.float64)[:, None]
    mean, var, _ = SCHEDULE.q_posterior(x0, x_t, t)
    abar_prev = SCHEDULE.alphas_cumprod[t - 1][:, None]
    alpha = SCHEDULE.alphas[t][:, None]
    c11 = 1 - abar_prev
    c12 = alpha.sqrt() * (1 - abar_prev)
    c22 = alpha * (1 - abar_prev) + (1 - alpha)
    m1, m2 = abar_prev.sqrt() * x0, (alpha * abar_prev).sqrt() * x0
    assert torch.allclose(mean, m1 + c12 / c22 * (x_t - m2), rtol=1e-10, atol=1e-12)
    assert torch.allclose(var, c11 - c12**2 / c22, rtol=1e-8, atol=1e-15)


@pytest.mark.parametrize("t", [5, 300, 900])
def test_posterior_samples_reproduce_the_marginal_for_a_gaussian_prior(t):
    # x0 ~ N(mu, s²), x_t ~ q(x_t | x0), x_{t-1} ~ q(x_{t-1} | x_t, x0) must give
    # x_{t-1} ~ N(√ᾱ_{t-1} mu, ᾱ_{t-1} s² + 1 - ᾱ_{t-1}) (Monte Carlo, 400k draws).
    g = torch.Generator().manual_seed(t)
    mu, s, n = 0.8, 0.6, 400_000
    x0 = mu + s * torch.randn(n, 1, generator=g, dtype=torch.float64)
    tt = torch.full((n,), t)
    x_t = SCHEDULE.q_sample(x0, tt, torch.randn(n, 1, generator=g, dtype=torch.float64))
    mean, var, _ = SCHEDULE.q_posterior(x0, x_t, tt)
    x_prev = mean + var.sqrt() * torch.randn(n, 1, generator=g, dtype=torch.float64)
    abar_prev = float(SCHEDULE.alphas_cumprod[t - 1])
    expected_var = abar_prev * s**2 + 1 - abar_prev
    assert float(x_prev.mean()) == pytest.approx(math.sqrt(abar_prev) * mu, abs=0.005)
    assert float(x_prev.var()) == pytest.approx(expected_var, rel=0.01)


def test_respacing_keeps_alpha_bar_and_recomputes_beta():
    kept = spaced_indices(1000, 100)
    assert len(kept) == 100 and kept[0] == 0 and kept[-1] == 999
    sub = SCHEDULE.respace(kept)
    assert isinstance(sub, DiffusionSchedule) and sub.num_steps == 100
    assert torch.equal(sub.timesteps, torch.tensor(kept))
    assert torch.allclose(sub.alphas_cumprod, SCHEDULE.alphas_cumprod[kept], rtol=1e-14)
    prev = torch.cat([torch.ones(1, dtype=torch.float64), SCHEDULE.alphas_cumprod[kept][:-1]])
    assert torch.allclose(sub.betas, 1 - SCHEDULE.alphas_cumprod[kept] / prev, rtol=1e-12)
    assert spaced_indices(1000, 1000) == list(range(1000))


# -------------------------------------------------------------------------------------------
# the exact denoiser of Gaussian data

MU = torch.tensor([-2.0, -0.5, 0.3, 1.0, 3.0], dtype=torch.float64)
SIGMA = torch.tensor([0.3, 0.5, 1.0, 1.5, 2.0], dtype=torch.float64)


def _posterior_mean_tables() -> tuple[torch.Tensor, torch.Tensor]:
    a = SCHEDULE.alphas_cumprod[:, None]  # (N, 1) float64
    gain = SIGMA**2 * a.sqrt() / (a * SIGMA**2 + 1 - a)  # (N, D)
    return gain.float(), (MU - gain * a.sqrt() * MU).float()


GAIN, OFFSET = _posterior_mean_tables()


def gaussian_posterior_mean(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """E[x0 | x_t] = μ + σ² √ᾱ_t / (ᾱ_t σ² + 1 − ᾱ_t) · (x_t − √ᾱ_t μ) for x0 ~ N(μ, σ²).

    Tabulated per timestep in float64, applied in float32 (B, D).
    """
    return OFFSET[t] + GAIN[t] * x_t


def standard_noise(n: int, seed: int) -> torch.Tensor:
    # Standardised per dimension, so the statistics measure the sampler and not the draw.
    z = torch.randn(n, MU.numel(), generator=torch.Generator().manual_seed(seed))
    return (z - z.mean(0)) / z.std(0)


def sample_statistics(name: str, steps: int, **options) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(11)
    x = standard_noise(20_000, seed=10)
    out = sample(
        name, gaussian_posterior_mean, x, steps, generator=generator, schedule=SCHEDULE, **options
    ).double()
    return (out.mean(0) - MU) / SIGMA, out.std(0) / SIGMA  # mean error in σ, std ratio


# (sampler, steps, options, max |mean error| in σ, allowed std ratio range). Measured values are
# in the report; DDPM with β̃ ("fixed small") and first-order DDIM under-disperse at few steps,
# DPM-Solver++(2M) overshoots by ~4 % at 10 steps and ~1.5 % at 20.
GAUSSIAN_CASES = [
    ("ddpm", 1000, {}, 0.03, (0.975, 1.02)),
    ("ddpm", 100, {}, 0.03, (0.93, 1.01)),
    ("ddim", 50, {}, 0.005, (0.94, 1.0)),
    ("ddim", 50, {"eta": 1.0}, 0.03, (0.88, 1.0)),
    ("dpmpp_2m", 10, {}, 0.005, (1.0, 1.05)),
    ("dpmpp_2m", 20, {}, 0.005, (1.0, 1.02)),
]


@pytest.mark.parametrize("name,steps,options,mean_tol,std_range", GAUSSIAN_CASES)
def test_samplers_reproduce_gaussian_data(name, steps, options, mean_tol, std_range):
    mean_error, std_ratio = sample_statistics(name, steps, **options)
    assert float(mean_error.abs().max()) < mean_tol, mean_error
    assert bool((std_ratio > std_range[0]).all() and (std_ratio < std_range[1]).all()), std_ratio


def test_ddim_converges_at_first_order_and_dpmpp_at_second():
    # Deterministic samplers are affine maps here, so their error is discretisation alone.
    ddim_50 = (sample_statistics("ddim", 50)[1] - 1).abs().max()
    ddim_250 = (sample_statistics("ddim", 250)[1] - 1).abs().max()
    assert float(ddim_250) < 0.015 and float(ddim_250) < float(ddim_50) / 3.5
    dpm_10 = (sample_statistics("dpmpp_2m", 10)[1] - 1).abs().max()
    dpm_50 = (sample_statistics("dpmpp_2m", 50)[1] - 1).abs().max()
    assert float(dpm_50) < 0.005 and float(dpm_50) < float(dpm_10) / 8


def test_dpmpp_timesteps_run_from_noise_to_zero_in_logsnr():
    ts = dpmpp_timesteps(SCHEDULE, 10)
    assert len(ts) == 10 and ts[0] == 999 and ts[-1] == 0
    assert ts == sorted(ts, reverse=True)
    abar = [closed_form_alpha_bar(t + 1) for t in ts[1:]]
    lam = [0.5 * math.log(a / (1 - a)) for a in abar]
    steps = [b - a for a, b in zip(lam, lam[1:])]
    assert max(steps) - min(steps) < 0.15 * (sum(steps) / len(steps))  # uniform up to rounding
    assert dpmpp_timesteps(SCHEDULE, 1) == [999]


# -------------------------------------------------------------------------------------------
# determinism, cancellation, conventions


def toy_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # Nonlinear in x and t, so trajectories of different noise really differ.
    return torch.tanh(1.5 * x) * (1 - t.to(x.dtype)[:, None] / 2000)


@pytest.mark.parametrize("name,options", [("ddpm", {}), ("ddim", {"eta": 0.5})])
def test_same_seed_gives_bit_identical_samples(name, options):
    def run(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(8, 3, generator=g)
        return sample(name, toy_model, x, 25, generator=g, schedule=SCHEDULE, **options)

    first, again, other = run(123), run(123), run(124)
    assert torch.equal(first, again)
    assert float((first - other).abs().max()) > 0.1


def test_stochastic_samplers_refuse_the_global_rng():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="Generator"):
        sample_ddpm(toy_model, x, 5, generator=None, schedule=SCHEDULE)
    # The deterministic ones need none, and repeat exactly.
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(4))
    for sampler in (sample_ddim, sample_dpmpp_2m):
        first = sampler(toy_model, x, 5, generator=None, schedule=SCHEDULE)
        assert torch.equal(first, sampler(toy_model, x, 5, generator=None, schedule=SCHEDULE))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_callback_reports_every_step_and_cancels_at_the_requested_one(name):
    calls: list[int] = []
    seen: list[tuple[int, int, int]] = []

    def model(x, t):
        calls.append(int(t[0]))
        return toy_model(x, t)

    def callback(i, total, t, x, x0_hat):
        seen.append((i, total, t))
        assert x.shape == x0_hat.shape == (4, 3)
        return i == 3

    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(SamplingCancelled) as cancelled:
        sample(
            name, model, x, 12, generator=torch.Generator(), callback=callback, schedule=SCHEDULE
        )
    assert cancelled.value.step_index == 3 and cancelled.value.total == 12
    assert len(calls) == 4 and [s[0] for s in seen] == [0, 1, 2, 3]
    assert [s[2] for s in seen] == calls and calls[0] == 999
    assert calls == sorted(calls, reverse=True)

    # Run to the end: every step reported, the last at the clean end of the schedule.
    seen.clear()
    def record(*args):
        seen.append(args[:3])

    sample(name, toy_model, x, 12, generator=torch.Generator(), callback=record, schedule=SCHEDULE)
    assert [s[0] for s in seen] == list(range(12)) and seen[-1][2] == 0


def test_cond_keyword_is_passed_through_and_unknown_sampler_is_refused():
    got = []

    def denoiser(x, t, cond):
        got.append(cond)
        return x * cond

    x = torch.ones(2, 3)
    bound = sample_ddim(unguided(denoiser, 0.5), x, 4, generator=None, schedule=SCHEDULE)
    passed = sample_ddim(denoiser, x, 4, cond=0.5, generator=None, schedule=SCHEDULE)
    assert torch.equal(bound, passed) and got == [0.5] * 8
    with pytest.raises(ValueError, match="unknown sampler"):
        sample("euler", toy_model, x, 4, generator=None, schedule=SCHEDULE)


# -------------------------------------------------------------------------------------------
# classifier-free guidance


class CountingDenoiser:
    """A real denoiser-shaped function that records the batch size of every forward."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, x, t, cond):
        self.batches.append(x.shape[0])
        assert cond["scene"] is None and cond["gain"].shape[0] == x.shape[0]
        return torch.sin(x) * cond["gain"][:, None] + cond["bias"] + 1e-3 * t.to(x.dtype)[:, None]


def conditions(batch: int, dim: int):
    g = torch.Generator().manual_seed(5)
    cond = {
        "gain": 1 + torch.rand(batch, generator=g),
        "bias": torch.randn(batch, dim, generator=g),
        "scene": None,
    }
    uncond = {"gain": torch.full((batch,), 0.5), "bias": torch.zeros(batch, dim), "scene": None}
    return cond, uncond


def test_guidance_scale_one_is_exactly_the_conditional_model():
    den = CountingDenoiser()
    cond, uncond = conditions(3, 4)
    x, t = torch.randn(3, 4, generator=torch.Generator().manual_seed(1)), torch.tensor([5, 5, 5])
    guided = classifier_free_guidance(den, cond, uncond, 1.0)
    assert torch.equal(guided(x, t), den(x, t, cond))
    assert den.batches == [3, 3]  # no unconditional half was run
    only_uncond = classifier_free_guidance(den, cond, uncond, 0.0)
    assert torch.equal(only_uncond(x, t), den(x, t, uncond))


def test_guidance_is_eq_3_21_in_one_batched_forward():
    den = CountingDenoiser()
    cond, uncond = conditions(3, 4)
    x, t = torch.randn(3, 4, generator=torch.Generator().manual_seed(1)), torch.tensor([7, 7, 7])
    guided = classifier_free_guidance(den, cond, uncond, 3.5)
    out = guided(x, t)
    assert den.batches == [6]
    c, u = den(x, t, cond), den(x, t, uncond)
    assert torch.allclose(out, u + 3.5 * (c - u), atol=1e-6)
    assert not torch.allclose(out, c, atol=1e-3)


@pytest.mark.parametrize("name,steps", [("ddpm", 12), ("ddim", 7), ("dpmpp_2m", 10)])
def test_guided_sampling_runs_one_forward_per_step(name, steps):
    den = CountingDenoiser()
    cond, uncond = conditions(2, 3)
    guided = classifier_free_guidance(den, cond, uncond, 2.5)
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    sample(name, guided, x, steps, generator=torch.Generator().manual_seed(1), schedule=SCHEDULE)
    assert den.batches == [4] * steps


@dataclass(frozen=True)
class TextCondition:
    embedding: torch.Tensor

    def cat(self, other: TextCondition) -> TextCondition:
        return TextCondition(torch.cat([self.embedding, other.embedding]))


def test_condition_batching_protocol():
    a, b = TextCondition(torch.ones(2, 3)), TextCondition(torch.zeros(2, 3))
    both = default_batch_conditions(a, b).embedding
    assert torch.equal(both, torch.cat([torch.ones(2, 3), torch.zeros(2, 3)]))
    nested = default_batch_conditions(
        {"text": torch.ones(1, 2), "scene": None}, {"text": torch.zeros(1, 2), "scene": None}
    )
    assert nested["scene"] is None and nested["text"].tolist() == [[1.0, 1.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match="different keys"):
        default_batch_conditions({"text": torch.ones(1)}, {"txt": torch.ones(1)})
    with pytest.raises(TypeError, match="batch_conditions"):
        default_batch_conditions(["a"], ["b"])

    # A user-supplied batching function for a condition type with no cat().
    def den(x, t, cond):
        return x + torch.tensor(cond, dtype=x.dtype)[:, None]

    guided = classifier_free_guidance(den, [1.0], [0.0], 2.0, batch_conditions=lambda c, u: c + u)
    assert torch.allclose(guided(torch.zeros(1, 2), torch.tensor([3])), torch.full((1, 2), 2.0))


# -------------------------------------------------------------------------------------------
# losses

PARENTS = (-1, 0, 1, 0)  # root, two-bone chain, and a "foot" child of the root


def test_x0_loss_averages_over_valid_frames_only():
    g = torch.Generator().manual_seed(3)
    pred, target = torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    loss = x0_loss(pred, target, mask)
    valid = (pred - target)[mask]  # (8, 4)
    assert float(loss) == pytest.approx(float((valid**2).mean()), rel=1e-6)
    junk = pred.clone()
    junk[0, 3:] = 1e3
    assert float(x0_loss(junk, target, mask)) == pytest.approx(float(loss), rel=1e-6)
    assert float(x0_loss(target, target, mask)) == 0.0
    # Multi-person batches: (B, P, T, F) features with a (B, P, T) mask.
    per_person = x0_loss(pred[None], target[None], mask[None])
    assert float(per_person) == pytest.approx(float(loss), rel=1e-6)


def walking_skeleton(frames: int = 6) -> torch.Tensor:
    """(1, T, 4, 3) metres: a rigid skeleton translating 0.1 m per frame along x."""
    rest = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.5], [0.0, 0.0, 0.1], [0.1, 0.0, 0.02]])
    shift = torch.zeros(frames, 1, 3)
    shift[:, 0, 0] = 0.1 * torch.arange(frames)
    return (rest + shift)[None]


def test_velocity_and_bone_terms():
    target = walking_skeleton()
    mask = torch.tensor([[True] * 4 + [False] * 2])
    offset = target + torch.tensor([0.3, -0.2, 0.0])  # same motion, shifted: same velocities
    assert float(velocity_consistency(offset, target, mask)) == pytest.approx(0.0, abs=1e-12)
    assert float(bone_length_loss(target, PARENTS, mask)) == pytest.approx(0.0, abs=1e-12)
    assert float(bone_length_loss(offset, PARENTS, mask, target)) == pytest.approx(0.0, abs=1e-12)

    stretched = target.clone()
    stretched[0, 1, 2, 2] -= 0.2  # shin 0.2 m longer in valid frame 1
    stretch_loss = bone_length_loss(stretched, PARENTS, mask, target)
    assert float(stretch_loss) == pytest.approx(0.2**2 / (4 * 3), rel=1e-5)  # 4 frames x 3 bones
    assert float(bone_length_loss(stretched, PARENTS, mask)) > 1e-3
    # The same edit in a padded frame costs nothing, in any term.
    padded = target.clone()
    padded[0, 5] += 7.0
    padded[0, 4, 2, 2] -= 0.3
    assert float(bone_length_loss(padded, PARENTS, mask)) == pytest.approx(0.0, abs=1e-12)
    assert float(velocity_consistency(padded, target, mask)) == pytest.approx(0.0, abs=1e-12)
    # Padding anywhere, not only at the end: a velocity needs both of its frames.
    leading = torch.tensor([[False] + [True] * 5])
    junk_first = target.clone()
    junk_first[0, 0] -= 3.0
    assert float(velocity_consistency(junk_first, target, leading)) == pytest.approx(0.0, abs=1e-12)
    # A joint 0.1 m off in one valid frame changes two velocities by 0.1 m each.
    jolt = target.clone()
    jolt[0, 2, 1, 0] += 0.1
    jolt_loss = velocity_consistency(jolt, target, mask)
    assert float(jolt_loss) == pytest.approx(2 * 0.1**2 / (3 * 4), rel=1e-5)  # 3 pairs x 4 joints


def test_foot_contact_penalises_sliding_only_when_the_target_foot_is_planted():
    frames, foot = 6, (3,)
    planted = walking_skeleton(frames)
    planted[0, :, 3] = torch.tensor([0.1, 0.0, 0.02])  # target foot still on the floor
    sliding = planted.clone()
    sliding[0, :, 3, 0] = 0.1 + 0.05 * torch.arange(frames)  # prediction slides 5 cm per frame
    mask = torch.ones(1, frames, dtype=torch.bool)

    def loss(pred, target, m=mask):
        value = foot_contact_loss(
            pred, target, foot, m, height_threshold=0.05, velocity_threshold=0.01
        )
        return float(value)

    assert loss(sliding, planted) == pytest.approx(0.05**2, rel=1e-5)
    assert loss(planted, planted) == 0.0
    lifted = planted.clone()
    lifted[0, :, 3, 2] = 0.4  # target foot in the air: sliding is free
    assert loss(sliding, lifted) == 0.0
    # Target foot moving along the floor is not a contact either.
    assert loss(sliding, sliding) == 0.0
    # Contact frames that are padding do not count: 2 of 5 valid pairs remain, all sliding.
    short = torch.tensor([[True, True, True, False, False, False]])
    assert loss(sliding, planted, short) == pytest.approx(0.05**2, rel=1e-5)


def test_diffusion_loss_combines_the_weighted_terms():
    target = walking_skeleton()
    pred = target.clone()
    pred[0, 2:, 1, 0] += 0.05
    mask = torch.tensor([[True] * 5 + [False]])

    def to_positions(features):
        return features.reshape(*features.shape[:-1], 4, 3)

    flat_pred, flat_target = pred.reshape(1, 6, 12), target.reshape(1, 6, 12)
    weights = DiffusionLoss(
        PARENTS,
        x0_weight=1.0,
        velocity_weight=2.0,
        bone_length_weight=3.0,
        foot_contact_weight=4.0,
        foot_indices=(3,),
    )
    terms = weights(flat_pred, flat_target, mask, to_positions)
    expected = terms.x0 + 2 * terms.velocity + 3 * terms.bone_length + 4 * terms.foot_contact
    assert float(terms.total) == pytest.approx(float(expected), rel=1e-6)
    assert float(terms.x0) > 0 and float(terms.velocity) > 0 and float(terms.bone_length) > 0
    assert float(weights(flat_target, flat_target, mask, to_positions).total) == 0.0
    x0_only = DiffusionLoss(PARENTS)(flat_pred, flat_target, mask)
    assert float(x0_only.total) == pytest.approx(float(terms.x0))
    with pytest.raises(ValueError, match="to_positions"):
        weights(flat_pred, flat_target, mask)
