"""Evaluator files: one ``.safetensors`` holding the weights and, as string metadata, the rest.

Loading never unpickles. Every model in the thesis must be scored with the same file, so it
records everything needed to rebuild the network and to know what it was trained on:

    tensors   "model.<name>": the state dict, including the normalisation buffers
              "model.feature_mean" / "model.feature_std" (F,) of the training features
    metadata  "format"        "isynth-evaluator"
              "version"       "1"
              "config"        JSON of EvaluatorConfig
              "labels"        JSON {"actions": [...], "scripts": [...], "roles": [...]}
              "text_encoder"  id of the frozen sentence encoder the text inputs come from
              "training"      JSON training summary (train_evaluator's), may be {}
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..text.encoders import MINILM_ID
from .evaluator import EvaluatorConfig, EvaluatorLabels, MotionTextEvaluator

FORMAT = "isynth-evaluator"
VERSION = "1"
_NORMALIZATION = ("model.feature_mean", "model.feature_std")


class EvaluatorFileError(ValueError):
    """An evaluator file is missing, corrupt or from another version; the message names the file and field."""


@dataclasses.dataclass(frozen=True)
class EvaluatorFile:
    """What :func:`load_evaluator` read besides the network."""

    path: Path
    text_encoder: str
    training: dict


def save_evaluator(
    path: str | os.PathLike, model: MotionTextEvaluator, training: dict | None = None, text_encoder: str = MINILM_ID
) -> Path:
    """Write ``model`` (its config, labels and normalisation included) atomically to ``path``; returns the path."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    labels = dataclasses.asdict(model.labels)
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(dataclasses.asdict(model.config)),
        "labels": json.dumps({k: list(v) for k, v in labels.items()}),
        "text_encoder": text_encoder,
        "training": json.dumps(_jsonable(training or {})),
    }
    atomic_write(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))
    return path


def load_evaluator(path: str | os.PathLike) -> tuple[MotionTextEvaluator, EvaluatorFile]:
    """Rebuild the evaluator saved at ``path`` (eval mode, CPU); errors raise EvaluatorFileError."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise EvaluatorFileError(f"{path}: evaluator file not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise EvaluatorFileError(f"{path}: not a readable safetensors file ({error})") from None
    if metadata.get("format") != FORMAT:
        raise EvaluatorFileError(f"{path}: metadata 'format' is {metadata.get('format')!r}, expected {FORMAT!r}")
    if metadata.get("version") != VERSION:
        raise EvaluatorFileError(f"{path}: metadata 'version' {metadata.get('version')!r} is not supported (reads {VERSION})")
    try:
        config = EvaluatorConfig.from_dict(_json_field(path, metadata, "config"))
    except (TypeError, ValueError) as error:
        if isinstance(error, EvaluatorFileError):
            raise
        raise EvaluatorFileError(f"{path}: metadata 'config' does not describe this version's evaluator ({error})") from None
    try:
        names = _json_field(path, metadata, "labels")
        labels = EvaluatorLabels(**{k: tuple(str(n) for n in v) for k, v in names.items()})
        labels.check(config)
    except (TypeError, ValueError, AttributeError) as error:
        if isinstance(error, EvaluatorFileError):
            raise
        raise EvaluatorFileError(f"{path}: metadata 'labels' is malformed ({error})") from None
    training = _json_field(path, metadata, "training")
    if "text_encoder" not in metadata:
        raise EvaluatorFileError(f"{path}: metadata 'text_encoder' is missing")
    for key in _NORMALIZATION:
        if key not in tensors:
            raise EvaluatorFileError(f"{path}: tensor '{key}' is missing")
        values = tensors[key].numpy()
        if values.shape != (config.feature_dim,) or not np.isfinite(values).all():
            raise EvaluatorFileError(f"{path}: tensor '{key}' must be ({config.feature_dim},) finite, got {values.shape}")
    if (tensors["model.feature_std"] <= 0).any():
        raise EvaluatorFileError(f"{path}: tensor 'model.feature_std' has values <= 0")
    model = MotionTextEvaluator(config, labels)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # size mismatches
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise EvaluatorFileError(f"{path}: weights do not fit the config ({lines[-1]})") from None
    if missing or unexpected:
        raise EvaluatorFileError(
            f"{path}: weights do not fit the config (missing tensors {['model.' + k for k in missing[:5]]}, "
            f"unexpected {['model.' + k for k in unexpected[:5]]})"
        )
    return model.eval(), EvaluatorFile(path=path, text_encoder=metadata["text_encoder"], training=training)


def _json_field(path: Path, metadata: dict[str, str], field: str) -> dict:
    if field not in metadata:
        raise EvaluatorFileError(f"{path}: metadata '{field}' is missing")
    try:
        value = json.loads(metadata[field])
    except json.JSONDecodeError as error:
        raise EvaluatorFileError(f"{path}: metadata '{field}' is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise EvaluatorFileError(f"{path}: metadata '{field}' must be a JSON object, got {type(value).__name__}")
    return value


def _jsonable(value):
    """Training summaries hold numpy scalars and NaNs; JSON gets floats and null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic, float)):
        number = value.item() if isinstance(value, np.generic) else value
        return None if isinstance(number, float) and not np.isfinite(number) else number
    return value
