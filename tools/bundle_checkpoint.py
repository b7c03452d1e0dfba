"""Put a trained checkpoint into the extension as its default (`./run bundle-checkpoint`).

Copies one set of weights (the EMA by default, or the latest raw ones, or the average of the
raw weights of the last few checkpoints; the optimiser state stays behind), the normalisation statistics and the rest skeleton into
addon/assets/checkpoint/default.safetensors, and writes default.json with the network config,
the training provenance (the config's data sources, steps, seed, the procedural generator's
source hash), the default and fast sampler settings and the evaluation summary of
reports/eval.json when there is one. A checkpoint written before prompt anchors existed gets
them here, from the captions of its training config's data (``train.anchors``; the procedural
clips are made again, a few minutes). Refuses a result over 40 MB.

    ./run bundle-checkpoint                                # the newest checkpoint of out/train/care
    ./run bundle-checkpoint out/train/care/checkpoints/step_00003000.safetensors
    ./run bundle-checkpoint --evaluation-only           # after ./run eval: its summary into default.json
    ./run bundle-checkpoint addon/assets/checkpoint/default.safetensors --rebuild-anchors   # anchors again
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from addon.core.diffusion.checkpoint import CheckpointError, load_checkpoint_files, save_checkpoint  # noqa: E402
from addon.core.generate import BUNDLED_CHECKPOINT  # noqa: E402
from addon.core.generation_settings import DEFAULT_GUIDANCE  # noqa: E402

LIMIT_BYTES = 40 * 1024 * 1024


def newest_checkpoint(run: Path) -> Path:
    found = sorted(p for p in (run / "checkpoints").glob("step_*.safetensors") if not p.name.endswith(".state.safetensors"))
    if not found:
        raise CheckpointError(f"{run / 'checkpoints'}: no checkpoints (train first: ./run train configs/care.toml)")
    return found[-1]


def evaluation_summary(report: Path) -> dict:
    """The acceptance checks and headline numbers of reports/eval.json (empty if absent)."""
    if not report.is_file():
        return {}
    data = json.loads(report.read_text())
    return {"report": str(report.relative_to(ROOT)) if report.is_relative_to(ROOT) else str(report),
            "data_version": data.get("meta", {}).get("data_version"), "checks": data["checks"], "summary": data["summary"]}


def evaluation_meta(report: Path | None) -> dict:
    """The checkpoint's 'evaluation' field: its sampler settings and reports/eval.json's summary."""
    return {"default_sampler": {"sampler": "ddim", "steps": 25}, "fast_sampler": {"sampler": "dpmpp_2m", "steps": 10},
            "guidance": DEFAULT_GUIDANCE,
            **evaluation_summary(report or ROOT / "reports" / "eval.json")}


def averaged_weights(source: Path, count: int) -> tuple[dict, list[str]]:
    """The mean of the raw weights of ``source`` and the checkpoints just before it (up to
    ``count`` in all, from the same folder): checkpoint averaging."""
    import torch

    folder = source.parent
    found = sorted(p for p in folder.glob("step_*.safetensors") if not p.name.endswith(".state.safetensors"))
    chosen = [p for p in found if p.name <= source.name][-count:]
    states = [load_checkpoint_files(p)[1].model for p in chosen]
    mean = {k: torch.stack([s[k].to(torch.float64) for s in states]).mean(0).to(states[-1][k].dtype)
            if states[-1][k].is_floating_point() else states[-1][k] for k in states[-1]}
    return mean, [p.name for p in chosen]


def anchors_for(meta, arrays, config_path: Path | None, rebuild: bool = False):
    """``arrays`` with prompt anchors: its own, or (none, or ``rebuild``) those of the training
    config's captions, grouped by the clips' action labels where the data names them; grouped
    anchors without a token bank get one from their texts (``text.token_alignment``)."""
    if arrays.anchor_embeddings is not None and not rebuild:
        return meta, with_token_bank(meta, arrays)
    recorded = meta.training.get("config")
    path = config_path or (Path(recorded) if recorded else None)
    if path is None:
        return meta, arrays
    path = path if path.is_absolute() else ROOT / path
    import numpy as np

    from addon.core.body.model import load_body_model
    from addon.core.text.encoders import load_text_encoder
    from addon.core.train.anchors import training_anchors
    from addon.core.train.config import load_train_config
    from addon.core.train.sources import load_sources

    config = load_train_config(path)
    rest = np.asarray(load_body_model(config.body_model_dir or None).rest_joints(), dtype=np.float64)
    clips = [clip for source in load_sources(config, rest) for clip in source.clips]
    encoder = load_text_encoder(meta.text_encoder)
    anchors = training_anchors(clips, encoder.encode, config.mirror, seed=config.seed,
                               encode_tokens=getattr(encoder, "encode_tokens", None))
    if anchors is None:
        return meta, arrays
    meta.anchor_texts, meta.anchor_groups = anchors.texts, anchors.groups
    return meta, dataclasses.replace(arrays, anchor_embeddings=anchors.embeddings,
                                     anchor_role_counts=anchors.role_counts, anchor_tokens=anchors.tokens)


def with_token_bank(meta, arrays):
    """Grouped anchors without a token bank get one, made from their texts by the checkpoint's
    text encoder (when it gives token vectors); everything else is returned as it is."""
    if arrays.anchor_tokens is not None or not meta.anchor_groups:
        return arrays
    from addon.core.text.encoders import load_text_encoder
    from addon.core.text.token_alignment import build_token_bank

    encode_tokens = getattr(load_text_encoder(meta.text_encoder), "encode_tokens", None)
    if encode_tokens is None:
        return arrays
    return dataclasses.replace(arrays, anchor_tokens=build_token_bank(encode_tokens(list(meta.anchor_texts))))


def bundle(source: Path, target: Path = BUNDLED_CHECKPOINT, report: Path | None = None, weights: str = "ema",
           average: int = 3, anchors_config: Path | None = None, rebuild_anchors: bool = False) -> Path:
    """weights: "ema" (the run's EMA), "raw" (the optimiser's latest weights) or "average" (the raw
    weights of the newest ``average`` checkpoints, averaged)."""
    meta, arrays = anchors_for(*load_checkpoint_files(source), anchors_config, rebuild_anchors)
    if Path(source).resolve() == Path(target).resolve():
        # Re-bundling the bundle (new anchors): its weights and provenance stay as they are.
        meta.evaluation = evaluation_meta(report)
        return save_bundle(target, meta, arrays, source)
    described = {"ema": "EMA", "raw": "raw (latest)"}.get(weights, "")
    if weights == "ema" and arrays.ema:
        arrays = dataclasses.replace(arrays, model=arrays.ema, ema=None)
    elif weights == "average":
        mean, names = averaged_weights(source, average)
        arrays = dataclasses.replace(arrays, model=mean, ema=None)
        described = "average of the raw weights of " + ", ".join(names)
    else:
        arrays = dataclasses.replace(arrays, ema=None)
        described = described or "raw (latest)"
    meta.training = {**meta.training, "source_checkpoint": source.name,
                     "procedural_data_version": trained_data_version(source, meta.training), "weights": described}
    meta.evaluation = evaluation_meta(report)
    return save_bundle(target, meta, arrays, source)


def trained_data_version(source: Path, training: dict) -> str:
    """The procedural generator version ("data3") the checkpoint's procedural clips came from, as
    its training recorded it (checkpoints trained before the record: the current generator's).
    Refuses (CheckpointError) a checkpoint trained on another version than the generator makes
    now: the evaluation and the anchors would describe other data than it learnt."""
    from addon.core.data.procedural.dataset import DATA_VERSION

    current = f"data{DATA_VERSION}"
    recorded = {f"data{d['data_version']}" for d in training.get("data", [])
                if d.get("kind") == "procedural" and "data_version" in d}
    if recorded and recorded != {current}:
        raise CheckpointError(f"{source}: trained on procedural data {', '.join(sorted(recorded))}, but the generator "
                              f"now makes {current} (dataset.DATA_VERSION); train it on {current} before bundling")
    return current


def save_bundle(target: Path, meta, arrays, source: Path) -> Path:
    """Write the bundle beside ``target``, then move it into place when both files together are at
    most 40 MB (else remove it and raise CheckpointError); ``target`` is never left half-written."""
    import os

    from addon.core.diffusion.checkpoint import checkpoint_paths

    weights, metadata = checkpoint_paths(target)
    staged = save_checkpoint(weights.with_name(weights.stem + "_staged.safetensors"), meta, arrays)
    staged_meta = staged.with_suffix(".json")
    size = staged.stat().st_size + staged_meta.stat().st_size
    if size > LIMIT_BYTES:
        staged.unlink()
        staged_meta.unlink()
        raise CheckpointError(f"{source}: the bundled checkpoint would be {size / 2**20:.1f} MB, over the "
                              f"{LIMIT_BYTES / 2**20:g} MB an extension may ship")
    os.replace(staged, weights)  # weights first, metadata last, as save_checkpoint writes them
    os.replace(staged_meta, metadata)
    return weights


def refresh_evaluation(target: Path = BUNDLED_CHECKPOINT, report: Path | None = None) -> Path:
    """Rewrite only the bundled checkpoint's evaluation summary (the weights stay as they are)."""
    from addon.core.diffusion.checkpoint import checkpoint_paths
    from addon.core.files import atomic_write

    _, metadata = checkpoint_paths(target)
    load_checkpoint_files(target)  # a complete, readable checkpoint first
    document = json.loads(metadata.read_text())
    document["evaluation"] = evaluation_meta(report)
    atomic_write(metadata, lambda p: Path(p).write_text(json.dumps(document, indent=2) + "\n"))
    return metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=None, help="a training checkpoint (.safetensors)")
    parser.add_argument("--run", default=str(ROOT / "out" / "train" / "care"), help="run folder to take the newest from")
    parser.add_argument("--report", default=None, help="eval.json whose summary goes into the metadata")
    parser.add_argument("--weights", choices=("ema", "raw", "average"), default="ema",
                        help="which weights ship: the EMA, the latest raw ones, or the average of the last --average")
    parser.add_argument("--average", type=int, default=3, help="checkpoints averaged by --weights average")
    parser.add_argument("--anchors-config", default=None,
                        help="training TOML whose captions become the prompt anchors of a checkpoint without them "
                             "(default: the config the checkpoint records)")
    parser.add_argument("--rebuild-anchors", action="store_true",
                        help="make the prompt anchors again from the training config's captions even when the "
                             "checkpoint has some (e.g. one saved before anchors carried action groups)")
    parser.add_argument("--evaluation-only", action="store_true",
                        help="only put the evaluation summary of --report (default reports/eval.json) into the "
                             "bundled checkpoint's metadata")
    args = parser.parse_args(argv)
    if args.evaluation_only:
        try:
            written = refresh_evaluation(report=Path(args.report) if args.report else None)
        except (CheckpointError, OSError) as error:
            print(f"bundle-checkpoint: {error}", file=sys.stderr)
            return 2
        print(f"bundle-checkpoint: evaluation summary -> {written}")
        return 0
    try:
        source = Path(args.checkpoint) if args.checkpoint else newest_checkpoint(Path(args.run))
        written = bundle(source, report=Path(args.report) if args.report else None, weights=args.weights,
                         average=args.average,
                         anchors_config=Path(args.anchors_config) if args.anchors_config else None,
                         rebuild_anchors=args.rebuild_anchors)
    except (CheckpointError, OSError) as error:
        print(f"bundle-checkpoint: {error}", file=sys.stderr)
        return 2
    size = written.stat().st_size / 2**20
    print(f"bundle-checkpoint: {source} -> {written} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
