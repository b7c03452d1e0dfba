"""Training the evaluator on the training split, and its validation summary.

Deterministic for a given seed and thread count: ``torch.manual_seed(seed)`` fixes the
initial weights and dropout, and a separate generator draws the batches and crop windows.
Normalisation statistics come from the training items only and travel inside the model.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch

from ..motion.representation import fit_normalization
from .distribution import r_precision
from .evaluator import IGNORE, EvaluatorConfig, EvaluatorLabels, MotionTextEvaluator, evaluator_loss
from .evaluator_batches import EvalItem, collate_items
from .evaluator_inference import embed_clips, embed_texts, predict

RETRIEVAL_BATCH = 32  # R-precision batch of the validation summary (HumanML3D's size)
LOSS_TERMS = ("loss", "contrastive", "action", "role", "script")


def train_evaluator(
    train_items: Sequence[EvalItem],
    val_items: Sequence[EvalItem],
    config: EvaluatorConfig,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-4,
    seed: int = 0,
    log: Callable[[str], None] = print,
    *,
    labels: EvaluatorLabels | None = None,
    threads: int = 1,
    weight_decay: float = 0.01,
    log_every: int = 50,
) -> tuple[MotionTextEvaluator, dict]:
    """Train a fresh evaluator for ``steps`` AdamW steps; return (model in eval mode, summary).

    Batches of ``batch_size`` items are drawn without replacement within each pass over the
    training items, each cropped to a random window of <= config.max_frames frames.
    threads: ``torch.set_num_threads`` for the run (the previous value is restored).
    labels: class names of the heads (default placeholders).

    summary: {"steps", "seed", "batch_size", "lr", "train_items", "val_items", "seconds",
    "final": mean loss terms over the last ``log_every`` steps, "val": :func:`validation_summary`}.
    """
    if not train_items:
        raise ValueError("train_evaluator: no training items")
    if steps < 1 or batch_size < 2:
        raise ValueError(f"train_evaluator: need steps >= 1 and batch_size >= 2, got {steps}, {batch_size}")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        model = MotionTextEvaluator(config, labels)
        model.set_normalization(fit_normalization([f for item in train_items for f in item.features]))
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        generator = torch.Generator().manual_seed(seed)
        started = time.perf_counter()
        window: list[dict[str, float]] = []
        model.train()
        for step, indices in enumerate(_batch_indices(len(train_items), batch_size, steps, generator), start=1):
            batch = collate_items(
                [train_items[i] for i in indices], config.max_frames, "random", generator, roles=model.labels.roles
            )
            terms = evaluator_loss(model, model(batch.features, batch.mask, batch.text), batch.targets())
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            window = (window + [{k: float(terms[k].detach()) for k in LOSS_TERMS}])[-log_every:]
            if step % log_every == 0 or step == steps:
                means = {k: float(np.mean([w[k] for w in window])) for k in LOSS_TERMS}
                log(f"evaluator step {step}/{steps}: " + " ".join(f"{k} {v:.4f}" for k, v in means.items()))
        seconds = time.perf_counter() - started
        model.eval()
        summary = {
            "steps": steps, "seed": seed, "batch_size": batch_size, "lr": lr,
            "train_items": len(train_items), "val_items": len(val_items), "seconds": round(seconds, 3),
            "final": {k: float(np.mean([w[k] for w in window])) for k in LOSS_TERMS},
            "val": validation_summary(model, val_items, seed) if val_items else {},
        }
        log(f"evaluator trained in {seconds:.1f} s; validation {summary['val']}")
        return model, summary
    finally:
        torch.set_num_threads(previous_threads)


def validation_summary(model: MotionTextEvaluator, items: Sequence[EvalItem], seed: int = 0) -> dict[str, float]:
    """Retrieval and classification accuracy on held-out items (centre windows).

    "top1"/"top3": R-precision in batches of min(32, N) (:func:`.distribution.r_precision`,
    shuffled with ``seed``; compare only numbers with the same batch size, given as
    "retrieval_batch"). "role_acc", "script_acc", "action_acc": accuracy over the labels that are
    known (NaN when none is).
    """
    motion = embed_clips(model, items)
    text = embed_texts(model, np.stack([item.text_embedding for item in items]))
    batch = min(RETRIEVAL_BATCH, len(items))
    top = r_precision(text, motion, batch_size=batch, top_k=min(3, batch), rng=np.random.default_rng(seed))
    predicted = predict(model, items)
    role_ids = [[model.labels.roles.index(r) for r in item.roles] for item in items]
    return {
        "retrieval_batch": batch,
        "top1": float(top[0]),
        "top3": float(top[min(3, batch) - 1]),
        "role_acc": _accuracy(np.concatenate(predicted["roles"]), np.concatenate(role_ids)),
        "script_acc": _accuracy(predicted["script"], np.array([item.script for item in items])),
        "action_acc": _accuracy(
            np.concatenate([a.ravel() for a in predicted["actions"]]),
            np.concatenate([item.action_labels.ravel() for item in items]),
        ),
    }


def _batch_indices(n: int, batch_size: int, steps: int, generator: torch.Generator):
    """``steps`` index lists of min(batch_size, n) distinct items; each pass over the items is a
    fresh permutation whose remainder (fewer than a batch) is dropped."""
    size = min(batch_size, n)
    order: list[int] = []
    for _ in range(steps):
        if len(order) < size:
            order = torch.randperm(n, generator=generator).tolist()
        yield order[:size]
        order = order[size:]


def _accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    known = (labels != IGNORE) & (predicted != IGNORE)
    return float((predicted[known] == labels[known]).mean()) if known.any() else float("nan")
