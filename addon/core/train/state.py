"""The files of a run: checkpoints, their training-state files, finding the newest, pruning.

    <output>/checkpoints/step_<step:08d>.safetensors     weights, EMA, stats, rest joints ┐ diffusion/
    <output>/checkpoints/step_<step:08d>.json            CheckpointMeta                  ┘ checkpoint.py
    <output>/checkpoints/step_<step:08d>.state.safetensors   optimizer tensors, RNG states
    <output>/checkpoints/step_<step:08d>.state.json          step, optimizer hyper-parameters,
                                                              metric sums, RNG scalars, config

No pickle anywhere: ``torch.save`` is not used; tensors go to safetensors and everything else
to JSON (Python floats print exactly, so JSON round-trips them bit for bit). The state JSON is
written last, so a checkpoint with all four files is complete; resuming takes the newest one.

RNG states (torch CPU and CUDA, numpy's and Python's global generators) are saved and restored
for code outside this package that may use them; the training itself reseeds what it uses from
(seed, step) every step (randomness.py), so its exactness does not depend on them.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..files import atomic_write

STATE_FORMAT = "isynth-train-state"
STATE_VERSION = 1
_NAME = re.compile(r"^step_(\d{8})\.state\.json$")
_SUFFIXES = (".safetensors", ".json", ".state.safetensors", ".state.json")


class StateError(ValueError):
    """A training-state file is missing, corrupt or from another run; the message names the file."""


@dataclass
class TrainingState:
    """What resuming needs besides the checkpoint's weights.

    step: completed optimizer steps. optimizer: ``Optimizer.state_dict()``. scaler: the fp16
    GradScaler's ``state_dict()`` (None otherwise). metric_sums: running sums of the metrics
    since the last log line (and "count"). elapsed_s: training wall time of all earlier runs.
    run: ``TrainConfig.run_identity()`` of the run. rng: global RNG states (module docstring).
    """

    step: int
    optimizer: dict
    scaler: dict | None = None
    metric_sums: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    run: dict = field(default_factory=dict)
    rng: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# names


def checkpoint_dir(output: Path) -> Path:
    return Path(output) / "checkpoints"


def checkpoint_stem(output: Path, step: int) -> Path:
    """<output>/checkpoints/step_<step:08d> (add .safetensors, .json, .state.safetensors, .state.json)."""
    return checkpoint_dir(output) / f"step_{step:08d}"


def state_paths(stem: Path) -> tuple[Path, Path]:
    """(tensors .state.safetensors, scalars .state.json) of a checkpoint stem."""
    return stem.with_name(stem.name + ".state.safetensors"), stem.with_name(stem.name + ".state.json")


def complete_checkpoints(output: Path) -> list[tuple[int, Path]]:
    """[(step, stem)] of checkpoints with all four files, oldest first."""
    folder = checkpoint_dir(output)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            stem = folder / f"step_{match.group(1)}"
            if all(stem.with_name(stem.name + suffix).is_file() for suffix in _SUFFIXES):
                found.append((int(match.group(1)), stem))
    return sorted(found)


def latest_checkpoint(output: Path) -> tuple[int, Path] | None:
    """The newest complete checkpoint, or None."""
    found = complete_checkpoints(output)
    return found[-1] if found else None


def prune_checkpoints(output: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete checkpoints (and leftovers older than them)."""
    found = complete_checkpoints(output)
    if len(found) <= keep:
        return []
    oldest_kept = found[-keep][0]
    removed = []
    for path in checkpoint_dir(output).glob("step_*"):
        match = re.match(r"^step_(\d{8})\.", path.name)
        if match and int(match.group(1)) < oldest_kept:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def remove_run_files(output: Path) -> None:
    """Delete this run's checkpoints (step_* files) and metrics log: a fresh start in the same folder."""
    for path in checkpoint_dir(output).glob("step_*"):
        if re.match(r"^step_\d{8}\.", path.name):
            path.unlink()
    (Path(output) / "metrics.jsonl").unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# writing and reading


def save_training_state(stem: Path, state: TrainingState) -> Path:
    """Write ``<stem>.state.safetensors`` then ``<stem>.state.json`` (atomically); returns the JSON."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    optimizer_json = {"state": {}, "param_groups": _plain(state.optimizer["param_groups"])}
    for index, values in state.optimizer["state"].items():
        scalars = {}
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.state.{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                scalars[name] = _plain(value)
        optimizer_json["state"][str(index)] = scalars
    rng_json = {}
    for name, value in state.rng.items():
        if isinstance(value, torch.Tensor):
            tensors[f"rng.{name}"] = value.detach().to("cpu").contiguous()
        else:
            rng_json[name] = _plain(value)
    document = {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "step": state.step,
        "optimizer": optimizer_json,
        "scaler": _plain(state.scaler),
        "metric_sums": state.metric_sums,
        "elapsed_s": state.elapsed_s,
        "run": state.run,
        "rng": rng_json,
    }
    tensor_path, json_path = state_paths(stem)
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(tensor_path, lambda p: save_file(tensors, p))
    atomic_write(json_path, lambda p: Path(p).write_text(json.dumps(document, indent=1) + "\n"))
    return json_path


def load_training_state(stem: Path) -> TrainingState:
    """Read what :func:`save_training_state` wrote, with safetensors and json only."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensor_path, json_path = state_paths(stem)
    try:
        document = json.loads(json_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise StateError(f"{json_path}: not a readable training-state JSON ({error})") from None
    if document.get("format") != STATE_FORMAT or document.get("version") != STATE_VERSION:
        raise StateError(f"{json_path}: 'format'/'version' are not {STATE_FORMAT!r} {STATE_VERSION}")
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise StateError(f"{tensor_path}: not a readable safetensors file ({error})") from None
    try:
        optimizer_state: dict[int, dict[str, Any]] = {}
        for index, scalars in document["optimizer"]["state"].items():
            optimizer_state[int(index)] = dict(scalars)
        for key, value in tensors.items():
            parts = key.split(".")
            if parts[0] == "optimizer":
                optimizer_state.setdefault(int(parts[2]), {})[".".join(parts[3:])] = value
        groups = [dict(group, betas=tuple(group["betas"])) if "betas" in group else dict(group)
                  for group in document["optimizer"]["param_groups"]]
        rng = dict(document["rng"])
        rng.update({key[len("rng."):]: value for key, value in tensors.items() if key.startswith("rng.")})
        return TrainingState(
            step=int(document["step"]),
            optimizer={"state": optimizer_state, "param_groups": groups},
            scaler=document.get("scaler"),
            metric_sums={k: float(v) for k, v in document["metric_sums"].items()},
            elapsed_s=float(document["elapsed_s"]),
            run=dict(document["run"]),
            rng=rng,
        )
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise StateError(f"{json_path}: missing or malformed field {error}") from None


# ---------------------------------------------------------------------------------------------
# global RNG states


def capture_rng_states() -> dict[str, Any]:
    """Global RNG states as tensors (-> safetensors) and JSON values."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {
        "torch_cpu": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy": {
            "kind": kind, "position": int(position), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)
        },
        "python": _plain(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for device, state in enumerate(torch.cuda.get_rng_state_all()):
            states[f"torch_cuda_{device}"] = state
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_states` (CUDA states only where those devices exist)."""
    if "torch_cpu" in states:
        torch.set_rng_state(states["torch_cpu"].to(torch.uint8))
    if "numpy_keys" in states and "numpy" in states:
        n = states["numpy"]
        keys = states["numpy_keys"].numpy().astype(np.uint32)
        np.random.set_state((n["kind"], keys, n["position"], n["has_gauss"], n["cached_gaussian"]))
    if "python" in states:
        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))
    if torch.cuda.is_available():
        for device in range(torch.cuda.device_count()):
            if f"torch_cuda_{device}" in states:
                torch.cuda.set_rng_state(states[f"torch_cuda_{device}"].to(torch.uint8), device)


def _plain(value: Any) -> Any:
    """Tuples -> lists, recursively; refuses anything JSON cannot hold exactly."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"training state: cannot store {type(value).__name__} as JSON")


