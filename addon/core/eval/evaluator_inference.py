"""Running a trained evaluator over clips and captions: embeddings and predicted labels, as numpy.

Clips longer than the evaluator's ``max_frames`` are seen through their centre window, as
in validation. Every function puts the model in eval mode and runs under ``torch.inference_mode`` on the model's device.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .evaluator import IGNORE, MotionTextEvaluator
from .evaluator_batches import EvalBatch, EvalItem, collate_items


@torch.inference_mode()
def embed_clips(model: MotionTextEvaluator, items: Sequence[EvalItem], batch_size: int = 64) -> np.ndarray:
    """(N, E) float32 unit-norm motion embeddings of the items, in order."""
    chunks = [model.embed_motion(batch.features, batch.mask) for batch in _batches(model, items, batch_size)]
    return _numpy(chunks, model.config.embed_dim)


@torch.inference_mode()
def embed_texts(model: MotionTextEvaluator, text_embeddings: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N, text_dim) frozen sentence embeddings -> (N, E) float32 unit-norm text embeddings."""
    text = np.asarray(text_embeddings, dtype=np.float32)
    if text.ndim != 2:
        raise ValueError(f"text_embeddings: expected (N, text_dim), got {text.shape}")
    device = _device(model)
    model.eval()
    chunks = [
        model.embed_text(torch.from_numpy(text[i : i + batch_size]).to(device)) for i in range(0, len(text), batch_size)
    ]
    return _numpy(chunks, model.config.embed_dim)


@torch.inference_mode()
def predict(model: MotionTextEvaluator, items: Sequence[EvalItem], batch_size: int = 64) -> dict[str, object]:
    """The heads' most likely classes (ids into ``model.labels``).

    Returns {"roles": list of (P_i,) int64, "script": (N,) int64,
    "actions": list of (P_i, T_i) int64, -1 outside the centre window of long clips}.
    """
    roles: list[np.ndarray] = []
    actions: list[np.ndarray] = []
    scripts: list[np.ndarray] = []
    max_frames = model.config.max_frames
    for start, batch in zip(range(0, len(items), batch_size), _batches(model, items, batch_size)):
        logits = model.classify(batch.features, batch.mask)
        role_ids = logits["roles"].argmax(-1).cpu().numpy()
        action_ids = logits["actions"].argmax(-1).cpu().numpy()
        scripts.append(logits["script"].argmax(-1).cpu().numpy())
        for b, item in enumerate(items[start : start + batch_size]):
            persons, frames = item.features.shape[:2]
            roles.append(role_ids[b, :persons])
            full = np.full((persons, frames), IGNORE, dtype=np.int64)
            offset = max(0, (frames - max_frames) // 2)  # collate_items' centre window
            length = min(frames, max_frames)
            full[:, offset : offset + length] = action_ids[b, :persons, :length]
            actions.append(full)
    script = np.concatenate(scripts).astype(np.int64) if scripts else np.zeros(0, dtype=np.int64)
    return {"roles": roles, "script": script, "actions": actions}


def _batches(model: MotionTextEvaluator, items: Sequence[EvalItem], batch_size: int):
    """Centre-cropped batches on the model's device; puts the model in eval mode."""
    device = _device(model)
    model.eval()
    for start in range(0, len(items), batch_size):
        batch = collate_items(items[start : start + batch_size], model.config.max_frames, "centre", roles=model.labels.roles)
        yield EvalBatch(**{name: value.to(device) for name, value in vars(batch).items()})


def _device(model: MotionTextEvaluator) -> torch.device:
    return next(model.parameters()).device


def _numpy(chunks: list[torch.Tensor], width: int) -> np.ndarray:
    if not chunks:
        return np.zeros((0, width), dtype=np.float32)
    return torch.cat(chunks).float().cpu().numpy()
