"""Sampling latency: 2 persons x 10 s, guided, at the shipped model size, sampler against sampler.

The network is ``denoiser.default_config()`` with RANDOM weights saved as a checkpoint in a
temporary folder (a trained checkpoint is a later issue; latency does not depend on the
weights). Every row times the whole ``Generator.generate`` (text from the warm cache, sampling,
decoding, FK) with one batched conditional + unconditional forward per step; notes give the
seconds per sampler step (timed between progress callbacks), the FLOPs of one guided forward
(``torch.utils.flop_counter.FlopCounterMode``) and the threads torch used. CPU always, pinned to
2 threads (the DESIGN.md target machine); CUDA too when torch sees a GPU.

Runs inside ``./run bench`` (``--only generation``) or alone: ``python tools/benchmarks/generation.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

if __name__ == "__main__":  # alone: the repository root on the path, as bench.py arranges
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from addon.core.body.model import load_body_model  # noqa: E402
from addon.core.diffusion.checkpoint import CheckpointArrays, CheckpointMeta, config_dict, save_checkpoint  # noqa: E402
from addon.core.diffusion.denoiser import FEATURE_DIM, InteractionDenoiser, default_config  # noqa: E402
from addon.core.diffusion.guidance import classifier_free_guidance  # noqa: E402
from addon.core.generate import GenerationRequest, Generator  # noqa: E402
from addon.core.generation_settings import DEFAULT_GUIDANCE  # noqa: E402
from addon.core.text.encoders import MINILM_ID  # noqa: E402

FPS = 20.0  # HumanML3D's rate: 10 s = 200 frames
SECONDS = 10.0
ROLES = ("staff", "patient")
PROMPT = "a nurse helps a patient stand up from the bed"
CPU_THREADS = 2
TARGET_S = 1.0  # DESIGN.md: dpmpp_2m, 10 steps, 2 CPU cores
FULL_DDPM_BUDGET_S = 60.0  # run the 1000-step DDPM only when its estimate fits in this


def write_random_checkpoint(folder: Path) -> Path:
    """The default-size network with seeded random weights; MiniLM text; zero/one statistics."""
    config = default_config()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = InteractionDenoiser(config).eval()
    meta = CheckpointMeta(
        network=config_dict(config), text_encoder=MINILM_ID, fps=FPS, max_frames=config.max_frames,
        training={"note": "random weights for the latency benchmark"},
    )
    arrays = CheckpointArrays(
        model=model.state_dict(), stats_mean=np.zeros(FEATURE_DIM), stats_std=np.ones(FEATURE_DIM),
        rest_joints=load_body_model(None).rest_joints(),
    )
    return save_checkpoint(folder / "bench_default", meta, arrays)


def guided_forward_flops(generator: Generator, request: GenerationRequest) -> int:
    """FLOPs of one guided model call (batch 2: conditional + unconditional), on the CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    inputs = generator.prepare(request)
    model = classifier_free_guidance(
        generator.denoiser, inputs.cond.to(generator.device), inputs.uncond.to(generator.device), request.guidance
    )
    x = inputs.x_T.to(generator.device)
    t = torch.full((1,), generator.schedule.num_steps - 1, dtype=torch.int64, device=generator.device)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x, t)
    return int(counter.get_total_flops())


def cpu_steal_s() -> float | None:
    """Seconds of CPU time the hypervisor took from this VM since boot (Linux /proc/stat), else None.

    On a shared 2-vCPU VM a stolen vCPU stalls both OpenMP threads of every op, which shows up
    as single runs 5-10x slower than the minimum; the steal during a row says when that happened.
    """
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def time_requests(generator: Generator, request: GenerationRequest, times: int) -> dict:
    """Wall seconds of ``times`` generate() calls, the median seconds per sampler step, the CPU steal."""
    samples, per_step, steps = [], [], 0
    steal_before = cpu_steal_s()
    synchronize = torch.cuda.synchronize if generator.device.type == "cuda" else (lambda: None)
    for _ in range(times):
        stamps = []

        def on_step(step: int, total: int) -> bool:
            synchronize()
            stamps.append(time.perf_counter())
            return False

        synchronize()
        started = time.perf_counter()
        result = generator.generate(request, on_step)
        synchronize()
        samples.append(time.perf_counter() - started)
        steps = result.steps
        # Step 1 ends at stamps[0]; the steps in between are pure model calls + sampler arithmetic.
        per_step.append((stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1))
    steal_after = cpu_steal_s()
    steal = None if steal_before is None or steal_after is None else round(steal_after - steal_before, 2)
    return {
        "samples_s": samples, "steps": steps, "s_per_step": round(statistics.median(per_step), 5), "cpu_steal_s": steal,
    }


def rows_for_device(generator: Generator, label: str) -> list[dict]:
    """DPM-Solver++ 10, DDIM 50, DDPM 100 (and 1000 when it fits the budget), then DPM++ with a scene."""
    base = dict(prompt=PROMPT, roles=ROLES, seconds=SECONDS, fps=None, seed=0, guidance=DEFAULT_GUIDANCE)
    scene = np.random.default_rng(0).uniform([0, 0, 0], [6, 5, 2.5], size=(50_000, 3))  # a 6 x 5 m room
    generator.generate(GenerationRequest(**base, sampler="dpmpp_2m", steps=2))  # warm-up: text cache, allocator
    plain_flops = guided_forward_flops(generator, GenerationRequest(**base))
    scene_flops = guided_forward_flops(generator, GenerationRequest(**base, scene_points=scene))

    def row(sampler: str, steps: int, times: int, with_scene: bool = False) -> dict:
        request = GenerationRequest(**base, sampler=sampler, steps=steps, scene_points=scene if with_scene else None)
        suffix = " + 50k-point scene (32 tokens)" if with_scene else ""
        return {
            "name": f"generate 2 persons x 10 s, {sampler} {steps} steps, guided, {label}{suffix}",
            **time_requests(generator, request, times),
            "gflops_per_step": round((scene_flops if with_scene else plain_flops) / 1e9, 2),
        }

    default = row("dpmpp_2m", 10, 10)
    if label.startswith("cpu"):
        default["target_s"] = TARGET_S
    ddpm = row("ddpm", 100, 1)
    rows = [default, row("ddim", 50, 2), ddpm]
    estimate = 1000 * ddpm["s_per_step"]
    if estimate < FULL_DDPM_BUDGET_S:
        rows.append(row("ddpm", 1000, 1))
    else:
        ddpm["ddpm_1000_estimate_s"] = round(estimate, 1)
    rows.append(row("dpmpp_2m", 10, 3, with_scene=True))
    return rows


def run(context: dict) -> list[dict]:
    rows = []
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="isynth_bench_generation_") as folder:
        checkpoint = write_random_checkpoint(Path(folder))
        torch.set_num_threads(CPU_THREADS)
        try:
            rows += rows_for_device(Generator(checkpoint, "cpu"), f"cpu {CPU_THREADS} threads")
        finally:
            torch.set_num_threads(threads)
        if torch.cuda.is_available():
            rows += rows_for_device(Generator(checkpoint, "cuda"), f"cuda ({torch.cuda.get_device_name()})")
    rows += bundled_rows()
    return rows


def bundled_rows() -> list[dict]:
    """The bundled checkpoint (10 fps, so 10 s = 100 frames): its default and fast settings."""
    from addon.core.generate import BUNDLED_CHECKPOINT

    if not BUNDLED_CHECKPOINT.is_file():
        return []
    threads = torch.get_num_threads()
    torch.set_num_threads(CPU_THREADS)
    try:
        generator = Generator(BUNDLED_CHECKPOINT, "cpu")
        rows = []
        for sampler, steps in (("ddim", 25), ("dpmpp_2m", 10)):
            request = GenerationRequest(prompt=PROMPT, roles=ROLES, seconds=SECONDS, fps=None, seed=0,
                                        guidance=DEFAULT_GUIDANCE,
                                        sampler=sampler, steps=steps, device="cpu")
            generator.generate(request)  # warm the text cache
            rows.append({"name": f"bundled checkpoint, 2 persons x 10 s at 10 fps, {sampler} {steps} steps, "
                                 f"cpu {CPU_THREADS} threads", **time_requests(generator, request, 5)})
        return rows
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    for row in run({}):
        samples = row.pop("samples_s")
        print(f"{row.pop('name')}: median {statistics.median(samples):.3f} s, min {min(samples):.3f} s, {row}")
