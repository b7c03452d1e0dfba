"""Evaluate a generation checkpoint on held-out procedural care scenes and reworded prompts (`./run eval`).

Writes reports/eval.md, reports/eval.json and reports/eval_contact_sheet.png. Stages, each
cached under --work (default out/eval) so a rerun only redoes what changed:
  1. real clips: the procedural train (evaluator training), val and test splits
  2. the evaluator: a contrastive motion-text encoder with action/role/script heads
  3. rows: real test data, the model at its default and fast-solver settings, baselines
  4. the report and the contact sheet

    ./run eval                                   # the bundled checkpoint
    ./run eval --checkpoint out/train/care/checkpoints/step_00005000.safetensors
    ./run eval --quick                           # small sizes: a smoke run in a few minutes
Exit codes: 0 written, 2 bad input (missing checkpoint ...).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

log = logging.getLogger("isynth.eval")


@dataclass(frozen=True)
class Sizes:
    """How many clips each stage uses."""

    train: int = 2000
    val: int = 192
    test: int = 128
    evaluator_steps: int = 1000
    reworded_seeds: int = 3
    mm_prompts: int = 16
    mm_generations: int = 8
    replications: int = 20
    batch: int = 32  # R-precision batch size


QUICK = Sizes(train=96, val=32, test=32, evaluator_steps=60, reworded_seeds=1, mm_prompts=4, mm_generations=3,
              replications=5, batch=16)
DATA_SEED = 0  # the training config's data_seed: the evaluator learns from the same training split


def data_version() -> str:
    """The procedural generator's DATA_VERSION: a changed generator gets new caches."""
    from addon.core.data.procedural.dataset import DATA_VERSION

    return f"data{DATA_VERSION}"


def real_clips(split: str, count: int, work: Path, rest_joints: np.ndarray, refresh: bool = False):
    """The first ``count`` procedural clips of ``split`` as EvalClips, cached in ``work``."""
    from addon.core.data.procedural.dataset import make_clips
    from addon.core.eval.clips import load_clips, real_clip, save_clips

    path = work / "cache" / f"{split}_seed{DATA_SEED}_{count}_{data_version()}.npz"
    if path.is_file() and not refresh:
        return load_clips(path, rest_joints)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            log.info("real %s clips: %d/%d (%.0f s)", split, done, total, time.perf_counter() - started)

    clips = [real_clip(pc, rest_joints, caption=i) for i, pc in enumerate(make_clips(count, DATA_SEED, split,
                                                                                      progress=progress))]
    save_clips(path, clips)
    return clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="generation checkpoint (default: the bundled one)")
    parser.add_argument("--work", default=str(ROOT / "out" / "eval"), help="cache folder")
    parser.add_argument("--out", default=str(ROOT / "reports"), help="report folder")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--prepare-only", action="store_true", help="build the real-clip caches and stop")
    parser.add_argument("--evaluator-only", action="store_true", help="build the caches, train the evaluator, stop")
    parser.add_argument("--refresh", action="store_true", help="rebuild the caches and the evaluator")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="eval: %(message)s")
    if not (args.prepare_only or args.evaluator_only):
        from addon.core.generate import BUNDLED_CHECKPOINT

        checkpoint = Path(args.checkpoint) if args.checkpoint else BUNDLED_CHECKPOINT
        if not checkpoint.is_file():
            print(f"eval: {checkpoint}: no such checkpoint (train one: ./run train configs/care.toml, then "
                  "./run bundle-checkpoint)", file=sys.stderr)
            return 2
    sizes = QUICK if args.quick else Sizes()
    work = Path(args.work) / ("quick" if args.quick else "full")

    import torch

    from addon.core.body.model import load_body_model

    torch.set_num_threads(max(1, args.threads))
    rest_joints = np.asarray(load_body_model(None).rest_joints(), dtype=np.float64)
    splits = {name: real_clips(name, count, work, rest_joints, args.refresh)
              for name, count in (("test", sizes.test), ("val", sizes.val), ("train", sizes.train))}
    if args.prepare_only:
        log.info("caches ready in %s", work / "cache")
        return 0
    if args.evaluator_only:
        from addon.core.eval.run import prepare_evaluator

        prepare_evaluator(splits["train"], splits["val"], sizes, work / data_version(), args.refresh)
        log.info("evaluator ready in %s", work / data_version())
        return 0
    from addon.core.diffusion.checkpoint import CheckpointError
    from addon.core.eval.run import evaluate

    try:
        result = evaluate(args.checkpoint, splits, sizes, work / data_version(), Path(args.out), rest_joints,
                          refresh=args.refresh)
    except (CheckpointError, FileNotFoundError) as error:
        print(f"eval: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result["summary"], indent=2))
    print(f"eval: wrote {Path(args.out) / 'eval.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
