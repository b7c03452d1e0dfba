"""The training loop: x0-prediction diffusion training of the interaction denoiser (thesis 5.5-5.6).

One step (numbers map to the comments in ``Trainer.step``):

    1. batch of B rows (this process: B / W of them), text rows from the cached encoder
    2. per row: t ~ U{0..N-1}, ε ~ N(0, I), text / scene dropped with their probabilities
       (classifier-free guidance, Ho & Salimans 2021); x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε (eq. 3.7)
    3. x̂0 = D(x_t, t, c) under autocast (CUDA, bf16/fp16) or in fp32
    4. DiffusionLoss on normalised features, geometric terms on the joints of the
       de-normalised features (MDM sec. 3); each process weighs its share of the global mean
    5. AdamW step with the learning rate of this step (linear warm-up, cosine decay) after
       clipping the global gradient norm; EMA of the weights

Checkpoints every ``checkpoint.every`` steps (state.py for the files), metrics every
``checkpoint.log_every`` (metrics.py). Network dropout is the one user of torch's global RNG,
which is reseeded from (seed, step, rank) before every forward. ``train(config)`` resumes from the newest checkpoint of
``config.output`` by default, and the resumed run is bit-for-bit the uninterrupted one on CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ..body.model import load_body_model
from ..diffusion.checkpoint import (
    CheckpointArrays,
    CheckpointMeta,
    config_dict,
    load_checkpoint_files,
    save_checkpoint,
)
from ..diffusion.denoiser import FEATURE_DIM, DenoiserConfig, InteractionDenoiser
from ..diffusion.losses import DiffusionLoss, LossTerms
from ..diffusion.schedule import cosine_schedule
from ..motion.representation import BODY_PARENTS, NormalizationStats, features_to_joints, fk_joints_from_features
from ..text.encoders import CachedTextEncoder
from .anchors import training_anchors
from .config import OptimConfig, TrainConfig
from .dataset import MotionDataset, SceneSpec, TrainBatch, build_text_encoder, collate, encode_texts, warm_text_cache
from .distributed import DistContext, init_distributed, loss_shares, shutdown, wrap_model
from .features import FeatureClip, feature_stats
from .metrics import MetricsLog, MetricWindow
from .order import EpochOrder, GlobalBatchSampler
from .randomness import draw_row, stream_seed
from .sources import load_sources
from .state import (
    TrainingState,
    capture_rng_states,
    checkpoint_stem,
    latest_checkpoint,
    load_training_state,
    prune_checkpoints,
    remove_run_files,
    restore_rng_states,
    save_training_state,
)

log = logging.getLogger("isynth.train")


@dataclass(frozen=True)
class TrainProgress:
    """What the progress callback sees after each step (rank 0 only).

    step: completed steps; total_steps: the config's steps. loss: the last logged mean loss
    (None before the first log line). lr: the step's learning rate. elapsed_s: wall time of this
    run; eta_s: remaining time at this run's pace; samples_per_s: global rows per second.
    """

    step: int
    total_steps: int
    loss: float | None
    lr: float
    elapsed_s: float
    eta_s: float
    samples_per_s: float


ProgressCallback = Callable[[TrainProgress], "bool | None"]  # True: checkpoint now and stop


def learning_rate(step: int, optim: OptimConfig) -> float:
    """The learning rate of 0-based step ``step``: (step + 1) / warmup x lr during warm-up, then
    lr x (f + (1 − f) (1 + cos(π p)) / 2) with p = progress through the remaining steps and
    f = ``final_lr_fraction`` (SGDR's cosine without restarts, Loshchilov & Hutter 2017)."""
    if step < optim.warmup_steps:
        return optim.learning_rate * (step + 1) / optim.warmup_steps
    if not optim.cosine_decay:
        return optim.learning_rate
    progress = min(1.0, (step - optim.warmup_steps) / max(1, optim.steps - optim.warmup_steps))
    f = optim.final_lr_fraction
    return optim.learning_rate * (f + (1.0 - f) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def train(config: TrainConfig, *, resume: bool = True, progress: ProgressCallback | None = None) -> Path:
    """Train until ``config.optim.steps``; returns the last checkpoint's ``.safetensors``.

    resume: continue from the newest complete checkpoint in ``config.output`` (its run settings
    must match, ValueError otherwise); False deletes that folder's checkpoints and metrics log
    first. Under torchrun this runs in every process (distributed.py). ``progress`` returning
    True writes a checkpoint at that step and stops early.
    """
    threads = torch.get_num_threads()
    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    context = init_distributed(config.device)
    try:
        trainer = Trainer(config, context, resume=resume)
        return trainer.run(progress)
    finally:
        shutdown(context)
        torch.set_num_threads(threads)


class Trainer:
    """The state of one training process: data, model, EMA, optimizer, and their step counter."""

    def __init__(self, config: TrainConfig, context: DistContext, *, resume: bool = True) -> None:
        self.config, self.context, self.device = config, context, context.device
        self.output = Path(config.output)
        if context.is_main:
            if not resume:
                remove_run_files(self.output)
            self.output.mkdir(parents=True, exist_ok=True)
        context.barrier()
        found = latest_checkpoint(self.output) if resume else None

        # Body, text encoder, data (statistics from the checkpoint when resuming).
        self.body = load_body_model(config.body_model_dir or None)
        self.rest_joints = np.asarray(self.body.rest_joints(), dtype=np.float64)
        self.text = CachedTextEncoder(build_text_encoder(config.text, self.device), max_entries=1 << 30)
        self.network_config: DenoiserConfig = dataclasses.replace(config.network, text_dim=self.text.dim)
        initial = self._initial_checkpoint() if found is None and config.init_from else None
        clips = self._load_clips()
        checkpoint = load_checkpoint_files(found[1]) if found else None
        # Provenance of a fine-tuned run: the checkpoint it started from and how that was trained.
        self.init_summary = None
        if checkpoint is not None:
            self.init_summary = checkpoint[0].training.get("init_from")
        elif initial is not None:
            self.init_summary = {"path": Path(config.init_from).name,
                                 "training": {k: v for k, v in initial[0].training.items() if k != "init_from"}}
        if checkpoint is not None or initial is not None:
            arrays = (checkpoint or initial)[1]
            self.stats = NormalizationStats(arrays.stats_mean, arrays.stats_std)
        else:
            self.stats = feature_stats(clips, include_mirrored=config.mirror)
        net = self.network_config
        self.dataset = MotionDataset(
            clips, self.stats, max_frames=config.max_frames, id_table=config.max_persons, mirror=config.mirror,
            scene=SceneSpec(net.use_scene, net.scene_groups, net.scene_group_size), seed=config.seed,
        )
        warm_text_cache(self.text, self.dataset.captions())
        # The prompt anchors every checkpoint ships (train/anchors.py); their texts are cached now.
        self.anchors = training_anchors(self.dataset.clips, self.text.encode, config.mirror, seed=config.seed,
                                        encode_tokens=getattr(self.text, "encode_tokens", None))

        # Model (the same initial weights in every process), EMA, optimizer, loss.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stream_seed(config.seed, "init"))
            self.model = InteractionDenoiser(self.network_config).to(self.device).train()
        if initial is not None:  # fine-tuning: the given weights (its EMA when it has one)
            self.model.load_state_dict(initial[1].ema or initial[1].model)
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        for p in self._params:  # unused parameters still step (weight decay), the same in every process
            p.grad = torch.zeros_like(p)
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.optimizer = _adamw(self.model, config.optim)
        self.autocast, self.scaler = _precision(config.optim.precision, self.device)
        self.schedule = cosine_schedule(config.diffusion_steps)
        self.loss_fn = DiffusionLoss(
            parents=BODY_PARENTS, x0_weight=config.loss.x0, velocity_weight=config.loss.velocity,
            bone_length_weight=config.loss.bone_length, foot_contact_weight=config.loss.foot_contact,
            fk_weight=config.loss.fk,
        )
        self._mean = torch.as_tensor(self.stats.mean, device=self.device)
        self._std = torch.as_tensor(self.stats.std, device=self.device)
        self._rest = torch.as_tensor(self.rest_joints, dtype=torch.float32, device=self.device)
        self.window = MetricWindow(self.device)
        self.metrics = MetricsLog(self.output / "metrics.jsonl")
        self.step_index, self.elapsed_before = 0, 0.0
        self.last_lr = learning_rate(0, config.optim)
        if found is not None:
            self._resume(found[1], checkpoint)
        if context.is_main:
            self.metrics.truncate_after(self.step_index)
        self.ddp_model = wrap_model(self.model, context)
        self.batches = self._batches()

    def _initial_checkpoint(self) -> tuple[CheckpointMeta, CheckpointArrays]:
        """The ``init_from`` checkpoint, checked against this run's network and text encoder."""
        path = Path(self.config.init_from)
        meta, arrays = load_checkpoint_files(path)
        where = f"{self.config.source_file or 'config'}: key 'init_from' ({path})"
        if meta.network != config_dict(self.network_config):
            raise ValueError(f"{where}: its network differs from the config's [network]")
        if meta.text_encoder != self.text.encoder_id:
            raise ValueError(f"{where}: its text encoder is {meta.text_encoder!r}, the config gives "
                             f"{self.text.encoder_id!r}")
        log.info("starting from the weights of %s", path)
        return meta, arrays

    def _load_clips(self) -> list[FeatureClip]:
        """Every source's FeatureClips, concatenated in config order; sizes in ``self.source_sizes``."""
        loaded = load_sources(self.config, self.rest_joints)
        self.source_sizes = [len(source.clips) for source in loaded]
        return [clip for source in loaded for clip in source.clips]

    # -----------------------------------------------------------------------------------------
    # one step

    def step(self) -> Tensor:
        """One optimizer step (module docstring); returns this process's share of the weighted loss."""
        config, step = self.config, self.step_index
        # 1. The batch and its text rows.
        batch: TrainBatch = next(self.batches).to(self.device)
        cond = batch.conditioning(encode_texts(self.text, batch.texts).to(self.device))
        # 2. Per-row timestep, noise and condition dropout; the forward process.
        t, noise, drop_text, drop_scene = self._row_draws(batch)
        cond = cond.drop_text(drop_text).drop_scene(drop_scene)
        x_t = self.schedule.q_sample(batch.x0, t, noise)
        lr = learning_rate(step, config.optim)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        # Network dropout is the only user of the global RNG: reseeded per step and process.
        torch.manual_seed(stream_seed(config.seed, "dropout", step, self.context.rank))
        # 3. x̂0.
        with self.autocast:
            pred = self.ddp_model(x_t, t, cond)
        # 4. Losses, as this process's share of the global means.
        mask = cond.pose_mask
        terms = self.loss_fn(pred.float(), batch.x0, mask, self._positions, self._fk_positions)
        loss, shares = self._shared_loss(terms, mask)
        # 5. Backward, clip, AdamW, EMA.
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        clip = config.optim.grad_clip if config.optim.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self._params, clip)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=False)
        self._update_ema()
        self.window.add({
            "loss": loss / self.context.world_size, "x0": terms.x0 * shares[0], "velocity": terms.velocity * shares[1],
            "bone_length": terms.bone_length * shares[0], "foot_contact": terms.foot_contact * shares[1],
            "fk": terms.fk * shares[0], "grad_norm": grad_norm / self.context.world_size,
        })
        self.step_index += 1
        self.last_lr = lr
        return loss

    def _row_draws(self, batch: TrainBatch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """t (B,) int64, noise (B, P, T, F) zero where padded, drop_text (B,), drop_scene (B,) bool."""
        c = self.config
        noise = torch.zeros(batch.x0.shape)
        t, drop_text, drop_scene = [], [], []
        for row, position in enumerate(batch.positions.tolist()):
            persons, frames = int(batch.persons[row]), int(batch.lengths[row])
            draws = draw_row(c.seed, position, (persons, frames, FEATURE_DIM), self.schedule.num_steps,
                             c.dropout.text_dropout, c.dropout.scene_dropout)
            noise[row, :persons, :frames] = draws.noise
            t.append(draws.t)
            drop_text.append(draws.drop_text)
            drop_scene.append(draws.drop_scene)
        device = self.device
        return (torch.tensor(t, dtype=torch.int64, device=device), noise.to(device),
                torch.tensor(drop_text, device=device), torch.tensor(drop_scene, device=device))

    def _positions(self, features: Tensor) -> Tensor:
        """Normalised features (..., F) -> joint positions (..., 22, 3) metres, Z up."""
        return features_to_joints(features * self._std + self._mean)

    def _fk_positions(self, features: Tensor) -> Tensor:
        """Normalised features (..., F) -> (..., 22, 3) metres: the joints forward kinematics of their
        rotations places on the rest skeleton, pelvis at the stored pelvis."""
        return fk_joints_from_features(features * self._std + self._mean, self._rest)

    def _shared_loss(self, terms: LossTerms, mask: Tensor) -> tuple[Tensor, Tensor]:
        """(loss to backpropagate, shares (2,) of pose-averaged and frame-pair-averaged terms).

        One process: the total as DiffusionLoss computed it, shares 1. W processes: each term
        weighed by this process's share of its global element count, times W (DDP averages).
        """
        if not self.context.distributed:
            return terms.total, torch.ones(2, device=self.device)
        counts = torch.stack([mask.sum(), (mask[..., 1:] & mask[..., :-1]).sum()])
        shares = loss_shares(counts, self.context).to(terms.total.dtype)
        w = self.config.loss
        total = (w.x0 * terms.x0 + w.bone_length * terms.bone_length + w.fk * terms.fk) * shares[0]
        total = total + (w.velocity * terms.velocity + w.foot_contact * terms.foot_contact) * shares[1]
        return total * self.context.world_size, shares

    @torch.no_grad()
    def _update_ema(self) -> None:
        """EMA with the usual warm-up, decay_t = min(ema_decay, (1 + t) / (10 + t)) for the t-th
        update (t = 0, 1, ...): early on the average follows the model instead of keeping the
        random initial weights for thousands of steps (0.999^2500 of them would still be 8 %)."""
        t = self.step_index
        decay = min(self.config.optim.ema_decay, (1.0 + t) / (10.0 + t))
        for name, value in self.model.state_dict().items():
            if value.is_floating_point():
                self.ema[name].lerp_(value, 1.0 - decay)
            else:
                self.ema[name].copy_(value)

    def _batches(self):
        sampler = GlobalBatchSampler(
            EpochOrder(self.source_sizes, [s.weight for s in self.config.sources], self.config.seed),
            self.config.optim.batch_size, num_replicas=self.context.world_size, rank=self.context.rank,
            start_step=self.step_index,
        )
        workers = self.config.num_workers
        loader = DataLoader(
            self.dataset, batch_size=sampler.local_batch_size, sampler=sampler, collate_fn=collate,
            num_workers=workers, persistent_workers=workers > 0, pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(stream_seed(self.config.seed, "order", 0)),
        )
        return iter(loader)

    # -----------------------------------------------------------------------------------------
    # the run

    def run(self, progress: ProgressCallback | None = None) -> Path:
        """Step until the config's steps (or a stop from ``progress``); returns the last checkpoint."""
        c, total = self.config, self.config.optim.steps
        last = latest_checkpoint(self.output)
        started, first_step = time.perf_counter(), self.step_index
        window_started, last_loss = started, None
        self.last_lr = learning_rate(self.step_index, c.optim)
        while self.step_index < total:
            self.step()
            done = self.step_index
            now = time.perf_counter()
            if done % c.checkpoint.log_every == 0 or done == total:
                last_loss = self._log(now - window_started, self.elapsed_before + now - started)
                window_started = time.perf_counter()
            stop = False
            if progress is not None and self.context.is_main:
                elapsed = now - started
                rate = (done - first_step) / elapsed if elapsed > 0 else 0.0
                stop = progress(TrainProgress(
                    step=done, total_steps=total, loss=last_loss, lr=self.last_lr, elapsed_s=elapsed,
                    eta_s=(total - done) / rate if rate > 0 else math.inf,
                    samples_per_s=rate * c.optim.batch_size,
                )) is True
            stop = self.context.any(stop)
            if done % c.checkpoint.every == 0 or done == total or stop:
                last = (done, self.save(self.elapsed_before + time.perf_counter() - started))
            if stop:
                break
        self.context.barrier()
        if last is None:  # nothing to do: the newest checkpoint already reached the steps
            raise RuntimeError(f"{self.output}: no checkpoint was written")
        return last[1].with_name(last[1].name + ".safetensors")

    def _log(self, window_s: float, total_s: float) -> float:
        """Write one metrics line (rank 0) from the window summed over processes; returns its loss."""
        reduced = self.context.sum_(self.window.sums.clone())
        means = self.window.means(reduced)
        steps = self.window.count
        self.window.reset()
        if self.context.is_main:
            self.metrics.append({
                "step": self.step_index, **means, "lr": self.last_lr, "seconds": round(total_s, 4),
                "step_s": round(window_s / steps, 6),
                "samples_per_s": round(steps * self.config.optim.batch_size / window_s, 2),
            })
        return means["loss"]

    # -----------------------------------------------------------------------------------------
    # checkpoints

    def save(self, elapsed_s: float) -> Path:
        """Write the checkpoint and training state of the current step (rank 0); returns the stem."""
        stem = checkpoint_stem(self.output, self.step_index)
        # The window's sums move to rank 0, which saves them (the others keep zeros).
        self.context.sum_(self.window.sums)
        if not self.context.is_main:
            self.window.sums.zero_()
            return stem
        anchors = self.anchors
        meta = self._meta()
        if anchors is not None:
            meta.anchor_texts, meta.anchor_groups = anchors.texts, anchors.groups
        save_checkpoint(stem, meta, CheckpointArrays(
            model=self.model.state_dict(), ema=self.ema, stats_mean=self.stats.mean, stats_std=self.stats.std,
            rest_joints=self.rest_joints,
            anchor_embeddings=None if anchors is None else anchors.embeddings,
            anchor_role_counts=None if anchors is None else anchors.role_counts,
            anchor_tokens=None if anchors is None else anchors.tokens,
        ))
        save_training_state(stem, TrainingState(
            step=self.step_index, optimizer=self.optimizer.state_dict(),
            scaler=self.scaler.state_dict() if self.scaler else None, metric_sums=self.window.to_json(),
            elapsed_s=elapsed_s, run=self.config.run_identity(), rng=capture_rng_states(),
        ))
        prune_checkpoints(self.output, self.config.checkpoint.keep_last)
        return stem

    def _meta(self) -> CheckpointMeta:
        c = self.config
        return CheckpointMeta(
            network=config_dict(self.network_config),
            text_encoder=self.text.encoder_id,
            fps=c.fps,
            max_frames=c.max_frames,
            feature_dim=FEATURE_DIM,
            diffusion={"schedule": "cosine", "s": 0.008, "num_steps": c.diffusion_steps, "prediction": "x0"},
            body={"kind": self.body.kind, "source": self.body.source},
            training={
                "data": [source.describe() for source in c.sources],
                "clips": self.source_sizes,
                "steps": self.step_index,
                "total_steps": c.optim.steps,
                "batch_size": c.optim.batch_size,
                "world_size": self.context.world_size,
                "seed": c.seed,
                "config": str(c.source_file) if c.source_file else None,
                "init_from": self.init_summary,
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        )

    def _resume(self, stem: Path, checkpoint: tuple[CheckpointMeta, CheckpointArrays]) -> None:
        meta, arrays = checkpoint
        where = f"{stem}.json"
        if meta.network != config_dict(self.network_config):
            raise ValueError(f"{where}: 'network' differs from the config's network; use another output folder")
        if meta.text_encoder != self.text.encoder_id:
            raise ValueError(
                f"{where}: 'text_encoder' is {meta.text_encoder!r}, the config gives {self.text.encoder_id!r}"
            )
        state = load_training_state(stem)
        identity = self.config.run_identity()
        if state.run != identity:
            keys = sorted(_differing_keys(state.run, identity))
            raise ValueError(f"{stem}.state.json: the run settings {keys} differ from the config; "
                             "resume with the same settings or start over (--no-resume)")
        self.model.load_state_dict(arrays.model)
        self.ema = {k: v.to(self.device).clone() for k, v in (arrays.ema or arrays.model).items()}
        self.optimizer.load_state_dict(state.optimizer)
        if self.scaler and state.scaler:
            self.scaler.load_state_dict(state.scaler)
        self.window.load_json(state.metric_sums if self.context.is_main else {})
        restore_rng_states(state.rng)
        self.step_index, self.elapsed_before = state.step, state.elapsed_s
        log.info("resumed from %s at step %d", stem, state.step)


def _adamw(model: nn.Module, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms or 1-D embeddings vectors)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=optim.learning_rate, betas=optim.betas,
    )


def _precision(precision: str, device: torch.device):
    """(autocast context, GradScaler or None): mixed precision on CUDA only, fp32 elsewhere."""
    if device.type != "cuda" or precision == "fp32":
        if precision != "fp32":
            log.warning("precision %r needs CUDA; training in fp32 on %s", precision, device)
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    return torch.autocast(device_type="cuda", dtype=dtype), scaler


def _differing_keys(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in set(a) | set(b):
        name = f"{prefix}{key}"
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            keys += _differing_keys(a[key], b[key], name + ".")
        elif a.get(key) != b.get(key):
            keys.append(name)
    return keys

