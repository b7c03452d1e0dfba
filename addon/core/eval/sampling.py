"""Batched sampling for the evaluation: many requests through one warm Generator, B rows a pass.

Sampling is the add-on's: guided, with persons kept apart (``diffusion.spacing``), out of
the furniture (``diffusion.keep_out``) and, last, out of each other's bodies as the decode
shows them (``diffusion.body_separation``; padded frames push no one). The add-on
samples one request at a time (:meth:`..generate.Generator.generate`); scoring a
test set that way would cost minutes more on a CPU. Here rows of different persons, lengths
and scenes share a batch through the conditioning's padding masks; every row's person ids,
scene groups and noise come from one generator seeded per batch, so results depend on the
seed, the batch size and the order of the requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..diffusion.conditioning import build_conditioning, scene_tokens
from ..diffusion.guidance import classifier_free_guidance
from ..diffusion.corrections import Corrections
from ..diffusion.samplers import sample
from ..generate import Generator
from ..generation_settings import DEFAULT_GUIDANCE


@dataclass(frozen=True, eq=False)
class SampleRequest:
    """prompt; roles (1..max persons); frames at the generator's fps; scene_points (N, 3) m or None."""

    prompt: str
    roles: tuple[str, ...]
    frames: int
    scene_points: np.ndarray | None = None


def sample_features(
    generator: Generator,
    requests: Sequence[SampleRequest],
    *,
    sampler: str,
    steps: int,
    guidance: float = DEFAULT_GUIDANCE,
    seed: int = 0,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    anchor: bool = True,
) -> list[np.ndarray]:
    """One (P, T, 264) float32 un-normalised feature array per request, in order; prompts anchored
    to the checkpoint's training captions as Generate Interaction does (``anchor``)."""
    config = generator.denoiser.config
    out: list[np.ndarray] = []
    for start in range(0, len(requests), batch_size):
        chunk = requests[start : start + batch_size]
        rng = torch.Generator().manual_seed(int(seed) * 100_003 + start)
        encoded = generator.encode_prompts([r.prompt for r in chunk], [r.roles for r in chunk], anchor)
        text = encoded.embeddings
        scenes = None
        if config.use_scene and any(r.scene_points is not None for r in chunk):
            scenes = [None if r.scene_points is None else
                      scene_tokens(torch.as_tensor(r.scene_points, dtype=torch.float32), config.scene_groups, rng,
                                   config.scene_group_size) for r in chunk]
        frames = max(r.frames for r in chunk)
        cond = build_conditioning([r.roles for r in chunk], [r.frames for r in chunk], frames, config.max_persons,
                                  rng, text=text, scenes=scenes)
        uncond = cond.unconditional(drop_scene=False)
        persons = max(len(r.roles) for r in chunk)
        x_T = torch.randn((len(chunk), persons, frames, config.feature_dim), generator=rng, dtype=torch.float32)
        model = classifier_free_guidance(generator.denoiser, cond.to(generator.device), uncond.to(generator.device),
                                         guidance)
        valid = torch.tensor([[p < len(r.roles) for p in range(persons)] for r in chunk], dtype=torch.bool)
        corrections = Corrections.for_scenes(
            generator.stats.mean, generator.stats.std, valid.to(generator.device),
            None if scenes is None else [r.scene_points for r in chunk], rest_joints=generator.rest_joints,
            fps=generator.fps, frames_valid=cond.frame_mask, in_bed=encoded.in_bed, seated=encoded.seated,
            bed_sitters=encoded.bed_sitters, walkers=encoded.walkers, roles=[r.roles for r in chunk])
        model = corrections.wrap(model)
        with torch.inference_mode():
            x0 = sample(sampler, model, x_T.to(generator.device), int(steps), generator=rng,
                        schedule=generator.schedule)
            x0 = corrections.finish(x0)
        x0 = x0.to("cpu", torch.float32).numpy()
        for row, request in enumerate(chunk):
            normalized = x0[row, : len(request.roles), : request.frames].astype(np.float64)
            out.append(generator.stats.denormalize(normalized).astype(np.float32))
        if progress is not None:
            progress(min(start + batch_size, len(requests)), len(requests))
    return out
