"""A training run, read from TOML into frozen dataclasses; every error names the file and the key.

Layout (``configs/tiny.toml`` is a complete example; docs/training.md explains each key):

    output, seed, device, fps, max_frames, max_persons, mirror,
    body_model_dir, max_scene_points, num_workers, cpu_threads,
    diffusion_steps, init_from                                         top level
    [[data]]        kind, path, weight (+ split | count, frames, persons)  one table per source
    [network]       preset = "default" | "tiny", plus DenoiserConfig fields to override
    [text]          encoder, clip_weights, clip_config, clip_seed
    [optim]         batch_size, steps, learning_rate, warmup_steps, cosine_decay,
                    final_lr_fraction, weight_decay, betas, ema_decay, grad_clip, precision
    [conditioning]  text_dropout, scene_dropout
    [loss]          x0, velocity, bone_length, foot_contact, fk
    [checkpoint]    every, keep_last, log_every

Relative paths are relative to the config file's folder. ``batch_size`` is the GLOBAL batch: with
torchrun each of W processes takes batch_size / W rows of it.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, NoReturn

from ..diffusion.denoiser import DenoiserConfig, default_config, tiny_config
from ..text.encoders import MINILM_ID

SourceKind = Literal["humanml3d", "interhuman", "bundles", "clips_npz", "synthetic", "procedural"]
SOURCE_KINDS: tuple[str, ...] = ("humanml3d", "interhuman", "bundles", "clips_npz", "synthetic", "procedural")
GENERATED_KINDS = ("synthetic", "procedural")  # made in memory, no path
Precision = Literal["fp32", "bf16", "fp16"]
Device = Literal["auto", "cpu", "cuda"]
NETWORK_PRESETS: dict[str, Callable[..., DenoiserConfig]] = {"default": lambda: default_config(), "tiny": tiny_config}
# DenoiserConfig fields the rest of the config decides; [network] may not set them.
_DERIVED_NETWORK_FIELDS = {
    "feature_dim": "the motion representation (264)",
    "text_dim": "the [text] encoder",
    "max_frames": "the top-level max_frames",
    "max_persons": "the top-level max_persons",
}


class ConfigError(ValueError):
    """A training config is unreadable or invalid; the message names the file and the key."""


@dataclass(frozen=True)
class DataSource:
    """One [[data]] table.

    kind: reader to use. path: folder (humanml3d, interhuman, clips_npz, bundles) or one bundle
    .npz (bundles); unused by "synthetic". weight: copies of each of its clips per epoch (0.5 =
    half of them, drawn afresh each epoch; 2 = each twice). split: split file for humanml3d and
    interhuman, and which procedural split ("train", "val", "test") to generate.
    count/frames/persons: size of a "synthetic" toy source (smoke runs and tests); count and
    data_seed: how many procedural care clips, from which seed (core/data/procedural).
    """

    kind: SourceKind
    path: Path | None
    weight: float = 1.0
    split: str = "train"
    count: int = 16
    frames: int = 60
    persons: int = 1
    data_seed: int = 0

    def describe(self) -> dict[str, Any]:
        """JSON provenance for the checkpoint."""
        info: dict[str, Any] = {"kind": self.kind, "weight": self.weight}
        if self.kind == "synthetic":
            info.update(count=self.count, frames=self.frames, persons=self.persons)
        elif self.kind == "procedural":
            from ..data.procedural.dataset import DATA_VERSION

            info.update(count=self.count, split=self.split, data_seed=self.data_seed, data_version=DATA_VERSION)
        else:
            info["path"] = str(self.path)
        if self.kind in ("humanml3d", "interhuman"):
            info["split"] = self.split
        return info


@dataclass(frozen=True)
class TextConfig:
    """[text]. encoder: an encoder id ("minilm:all-MiniLM-L6-v2"), "clip:<open_clip model>" or a
    full "clip:<model>:<sha prefix>" id with ``clip_weights`` (a local file), or "clip-config":
    a randomly initialised open_clip text tower from ``clip_config`` and ``clip_seed`` (tests and
    smoke runs only: no inference path can rebuild it)."""

    encoder: str = MINILM_ID
    clip_weights: Path | None = None
    clip_config: dict | None = None
    clip_seed: int = 0


@dataclass(frozen=True)
class OptimConfig:
    """[optim]. AdamW (decoupled weight decay, on matrices only), linear warm-up over
    ``warmup_steps`` then cosine decay to ``final_lr_fraction`` x ``learning_rate`` at ``steps``
    (constant after warm-up when ``cosine_decay`` is false). ``grad_clip``: max global L2 norm
    (0 = off). ``ema_decay``: weight of the old EMA per step, after a warm-up of
    min(ema_decay, (1 + t) / (10 + t)) at update t. ``precision``: autocast dtype on
    CUDA; CPU runs always train in fp32."""

    batch_size: int = 32
    steps: int = 100_000
    learning_rate: float = 1e-4
    warmup_steps: int = 1000
    cosine_decay: bool = True
    final_lr_fraction: float = 0.0
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    precision: Precision = "fp32"


@dataclass(frozen=True)
class DropoutConfig:
    """[conditioning]: probability that a training row loses its text / its scene (classifier-free guidance)."""

    text_dropout: float = 0.1
    scene_dropout: float = 0.1


@dataclass(frozen=True)
class LossWeights:
    """[loss]: weights of DiffusionLoss's x0 MSE and geometric terms (velocity, bone length, foot contact,
    fk: the joints the predicted rotations place against the target's)."""

    x0: float = 1.0
    velocity: float = 0.0
    bone_length: float = 0.0
    foot_contact: float = 0.0
    fk: float = 0.0


@dataclass(frozen=True)
class CheckpointPolicy:
    """[checkpoint]: write one every ``every`` steps (and at the end), keep the newest ``keep_last``,
    append averaged metrics every ``log_every`` steps."""

    every: int = 1000
    keep_last: int = 3
    log_every: int = 50


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs (see the module docstring for the TOML layout).

    fps: frames per second every clip is resampled to. max_frames: crop length, frames.
    max_persons: persons per clip the network takes. network: its shape; text_dim is replaced
    by the text encoder's dimension when training starts. max_scene_points: scene clouds are
    subsampled to at most this many points when loaded. num_workers: data-loader processes.
    cpu_threads: torch's intra-op threads for this run (0 = torch's default; 1 is fastest for
    tiny networks on a busy CPU). diffusion_steps: N of the cosine schedule.
    source_file: the TOML it came from (for messages and provenance).
    """

    sources: tuple[DataSource, ...]
    output: Path
    network: DenoiserConfig
    text: TextConfig = TextConfig()
    optim: OptimConfig = OptimConfig()
    dropout: DropoutConfig = DropoutConfig()
    loss: LossWeights = LossWeights()
    checkpoint: CheckpointPolicy = CheckpointPolicy()
    seed: int = 0
    device: Device = "auto"
    fps: float = 20.0
    max_frames: int = 196
    max_persons: int = 2
    mirror: bool = True
    body_model_dir: str = ""
    max_scene_points: int = 4096
    num_workers: int = 0
    cpu_threads: int = 0
    diffusion_steps: int = 1000
    init_from: Path | None = None
    source_file: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (paths as strings), for the state file and provenance."""

        def plain(value: Any) -> Any:
            if dataclasses.is_dataclass(value):
                return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return str(value) if isinstance(value, Path) else value

        return plain(self)

    def run_identity(self) -> dict[str, Any]:
        """The fields a resumed run must share with the run it continues (all but the schedule
        length, logging, checkpointing, workers, device and file locations)."""
        data = self.to_json()
        for key in ("output", "source_file", "checkpoint", "num_workers", "cpu_threads", "device"):
            data.pop(key)
        data["optim"].pop("steps")
        return data


# ---------------------------------------------------------------------------------------------
# reading


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a training TOML; ConfigError (a ValueError) names the file and key."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return parse_train_config(raw, path)


def parse_train_config(raw: dict[str, Any], path: Path) -> TrainConfig:
    """A TrainConfig from already-parsed TOML; ``path`` names the file in errors and anchors relative paths."""
    top = _Table(raw, path, "")
    base = path.parent
    max_frames = top.integer("max_frames", TrainConfig.max_frames, low=2)
    max_persons = top.integer("max_persons", TrainConfig.max_persons, low=1, high=4)
    sources = tuple(
        _data_source(_Table(item, path, f"data[{i}]"), base) for i, item in enumerate(top.array_of_tables("data"))
    )
    if not sources:
        raise ConfigError(f"{path}: key 'data': at least one [[data]] table is needed")
    config = TrainConfig(
        sources=sources,
        output=_resolve(base, top.string("output", None)),
        network=_network(top.table("network"), max_frames, max_persons),
        text=_text(top.table("text"), base),
        optim=_optim(top.table("optim")),
        dropout=_dropout(top.table("conditioning")),
        loss=_loss(top.table("loss")),
        checkpoint=_checkpoint(top.table("checkpoint")),
        seed=top.integer("seed", 0, low=0),
        device=top.choice("device", "auto", ("auto", "cpu", "cuda")),
        fps=top.number("fps", TrainConfig.fps, low=1e-6),
        max_frames=max_frames,
        max_persons=max_persons,
        mirror=top.boolean("mirror", True),
        body_model_dir=top.string("body_model_dir", ""),
        max_scene_points=top.integer("max_scene_points", TrainConfig.max_scene_points, low=1),
        num_workers=top.integer("num_workers", 0, low=0),
        cpu_threads=top.integer("cpu_threads", 0, low=0),
        diffusion_steps=top.integer("diffusion_steps", TrainConfig.diffusion_steps, low=2),
        init_from=_resolve(base, init_from) if (init_from := top.string("init_from", "")) else None,
        source_file=path,
    )
    top.finish()
    return config


def _data_source(table: _Table, base: Path) -> DataSource:
    kind = table.choice("kind", None, SOURCE_KINDS)
    path = None if kind in GENERATED_KINDS else _resolve(base, table.string("path", None))
    split = "train"
    if kind in ("humanml3d", "interhuman"):
        split = table.string("split", "train")
    elif kind == "procedural":
        split = table.choice("split", "train", ("train", "val", "test"))
    source = DataSource(
        kind=kind,
        path=path,
        weight=table.number("weight", 1.0, low=0.0),
        split=split,
        count=table.integer("count", 16, low=1) if kind in GENERATED_KINDS else 16,
        data_seed=table.integer("data_seed", 0, low=0) if kind == "procedural" else 0,
        frames=table.integer("frames", 60, low=2) if kind == "synthetic" else 60,
        persons=table.integer("persons", 1, low=1, high=4) if kind == "synthetic" else 1,
    )
    table.finish()
    return source


def _network(table: _Table, max_frames: int, max_persons: int) -> DenoiserConfig:
    preset = table.choice("preset", "default", tuple(NETWORK_PRESETS))
    base = NETWORK_PRESETS[preset]()
    overrides: dict[str, Any] = {}
    for field in dataclasses.fields(DenoiserConfig):
        if field.name in table:
            if field.name in _DERIVED_NETWORK_FIELDS:
                table.fail(field.name, f"is set by {_DERIVED_NETWORK_FIELDS[field.name]}, not by [network]")
            default = getattr(base, field.name)
            if isinstance(default, bool):
                overrides[field.name] = table.boolean(field.name, default)
            elif isinstance(default, int):
                overrides[field.name] = table.integer(field.name, default, low=1)
            else:
                overrides[field.name] = table.number(field.name, default, low=0.0, high=1.0)
    table.finish()
    try:
        return dataclasses.replace(base, max_frames=max_frames, max_persons=max_persons, **overrides)
    except ValueError as error:
        table.fail(None, str(error))


def _text(table: _Table, base: Path) -> TextConfig:
    encoder = table.string("encoder", MINILM_ID)
    weights = table.string("clip_weights", "")
    clip_config = table.raw_table("clip_config")
    text = TextConfig(
        encoder=encoder,
        clip_weights=_resolve(base, weights) if weights else None,
        clip_config=clip_config,
        clip_seed=table.integer("clip_seed", 0, low=0),
    )
    if encoder == "clip-config" and clip_config is None:
        table.fail("clip_config", 'is required when encoder = "clip-config"')
    if encoder.startswith("clip:") and text.clip_weights is None:
        table.fail("clip_weights", f"is required for encoder {encoder!r} (a local open_clip weights file)")
    if encoder != MINILM_ID and not encoder.startswith("clip:") and encoder != "clip-config":
        table.fail("encoder", f'expected {MINILM_ID!r}, "clip:<model>[:<sha>]" or "clip-config", got {encoder!r}')
    table.finish()
    return text


def _optim(table: _Table) -> OptimConfig:
    d = OptimConfig()
    betas = table.number_pair("betas", d.betas, low=0.0, high=1.0 - 1e-12)
    optim = OptimConfig(
        batch_size=table.integer("batch_size", d.batch_size, low=1),
        steps=table.integer("steps", d.steps, low=1),
        learning_rate=table.number("learning_rate", d.learning_rate, low=1e-12),
        warmup_steps=table.integer("warmup_steps", d.warmup_steps, low=0),
        cosine_decay=table.boolean("cosine_decay", d.cosine_decay),
        final_lr_fraction=table.number("final_lr_fraction", d.final_lr_fraction, low=0.0, high=1.0),
        weight_decay=table.number("weight_decay", d.weight_decay, low=0.0),
        betas=betas,
        ema_decay=table.number("ema_decay", d.ema_decay, low=0.0, high=1.0),
        grad_clip=table.number("grad_clip", d.grad_clip, low=0.0),
        precision=table.choice("precision", d.precision, ("fp32", "bf16", "fp16")),
    )
    table.finish()
    return optim


def _dropout(table: _Table) -> DropoutConfig:
    dropout = DropoutConfig(
        text_dropout=table.number("text_dropout", DropoutConfig.text_dropout, low=0.0, high=1.0),
        scene_dropout=table.number("scene_dropout", DropoutConfig.scene_dropout, low=0.0, high=1.0),
    )
    table.finish()
    return dropout


def _loss(table: _Table) -> LossWeights:
    weights = LossWeights(**{f.name: table.number(f.name, f.default, low=0.0) for f in dataclasses.fields(LossWeights)})
    table.finish()
    return weights


def _checkpoint(table: _Table) -> CheckpointPolicy:
    d = CheckpointPolicy()
    policy = CheckpointPolicy(
        every=table.integer("every", d.every, low=1),
        keep_last=table.integer("keep_last", d.keep_last, low=1),
        log_every=table.integer("log_every", d.log_every, low=1),
    )
    table.finish()
    return policy


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


class _Table:
    """One TOML table being read: typed getters that remember which keys were used.

    ``finish`` raises for every key nobody asked for, so a typo never passes silently.
    """

    def __init__(self, raw: Any, file: Path, prefix: str) -> None:
        self.file, self.prefix = file, prefix
        if not isinstance(raw, dict):
            raise ConfigError(f"{file}: key '{prefix}': expected a table, got {type(raw).__name__}")
        self.raw = raw
        self.used: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def name(self, key: str | None) -> str:
        if key is None:
            return self.prefix or "(top level)"
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str | None, message: str) -> NoReturn:
        raise ConfigError(f"{self.file}: key '{self.name(key)}': {message}")

    def _get(self, key: str, default: Any) -> Any:
        self.used.add(key)
        if key not in self.raw:
            if default is None:
                self.fail(key, "is required")
            return default
        return self.raw[key]

    def integer(self, key: str, default: int | None, low: int | None = None, high: int | None = None) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer, got {value!r}")
        self._check_range(key, value, low, high)
        return value

    def number(self, key: str, default: float | None, low: float | None = None, high: float | None = None) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(key, f"expected a finite number, got {value!r}")
        self._check_range(key, value, low, high)
        return float(value)

    def number_pair(self, key: str, default: tuple[float, float], low: float, high: float) -> tuple[float, float]:
        value = self._get(key, list(default))
        ok = isinstance(value, list) and len(value) == 2
        ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if not ok:
            self.fail(key, f"expected two numbers, got {value!r}")
        for v in value:
            self._check_range(key, v, low, high)
        return (float(value[0]), float(value[1]))

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {value!r}")
        return value

    def string(self, key: str, default: str | None) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {value!r}")
        return value

    def choice(self, key: str, default: str | None, options: tuple[str, ...]) -> str:
        value = self.string(key, default)
        if value not in options:
            self.fail(key, f"expected one of {list(options)}, got {value!r}")
        return value

    def table(self, key: str) -> _Table:
        return _Table(self._get(key, {}), self.file, self.name(key))

    def raw_table(self, key: str) -> dict | None:
        value = self._get(key, False)
        if value is False:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {value!r}")
        return value

    def array_of_tables(self, key: str) -> list[Any]:
        value = self._get(key, [])
        if not isinstance(value, list):
            self.fail(key, "expected [[data]] tables")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            self.fail(unknown[0], f"unknown key (known here: {sorted(self.used)})")

    def _check_range(self, key: str, value: float, low: float | None, high: float | None) -> None:
        if low is not None and value < low:
            self.fail(key, f"must be >= {low}, got {value!r}")
        if high is not None and value > high:
            self.fail(key, f"must be <= {high}, got {value!r}")
