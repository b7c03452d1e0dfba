"""Choose the sampling settings on the tuning prompts, not the evaluation's (`./run tune-sampling`).

Guidance scale and prompt anchoring decide how well the bundled model follows wordings it was
never trained on. They are chosen here, on ``data.procedural.prompts.DEV`` (the same scripts as
the evaluation's reworded prompts, other words), so that the reworded table of ``./run eval``
stays a held-out test. For each guidance scale and anchoring mode (prompts as written; blended
over the nearest training captions; grouped: one action's captions, ``text.anchors``), every
DEV prompt is generated ``--seeds`` times in held-out test rooms with the default sampler, and
the evaluator's classifier says whether the motion is the prompt's script. Needs the
evaluation's caches and evaluator (`./run eval --evaluator-only`, a few minutes).

    ./run tune-sampling                       # writes reports/tuning.md and reports/tuning.json
    ./run tune-sampling --guidance 2.5 4 6 --seeds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

log = logging.getLogger("isynth.tune")

MODES = ("as written", "blended", "grouped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="generation checkpoint (default: the bundled one)")
    parser.add_argument("--work", default=str(ROOT / "out" / "eval" / "full"), help="the evaluation's cache folder")
    parser.add_argument("--out", default=str(ROOT / "reports"), help="report folder")
    parser.add_argument("--guidance", type=float, nargs="+", default=[2.5, 4.0, 6.0])
    parser.add_argument("--seeds", type=int, default=3, help="generations per prompt")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="tune: %(message)s")
    import torch

    from addon.core.body.model import load_body_model
    from addon.core.data.procedural.prompts import DEV
    from addon.core.eval.clips import generated_clip
    from addon.core.eval.evaluator_file import load_evaluator
    from addon.core.eval.run import DEFAULT_SAMPLER, classifier_agreement, minilm_numpy, prompt_requests
    from addon.core.eval.sampling import sample_features
    from addon.core.generate import BUNDLED_CHECKPOINT, load_generator
    from eval import Sizes, data_version, real_clips

    torch.set_num_threads(max(1, args.threads))
    work = Path(args.work)
    evaluator_path = work / data_version() / "evaluator.safetensors"
    if not evaluator_path.is_file():
        print(f"tune: {evaluator_path}: no evaluator (run ./run eval --evaluator-only first)", file=sys.stderr)
        return 2
    rest = np.asarray(load_body_model(None).rest_joints(), dtype=np.float64)
    rooms = real_clips("test", Sizes().test, work, rest)
    evaluator, _ = load_evaluator(evaluator_path)
    checkpoint = Path(args.checkpoint) if args.checkpoint else BUNDLED_CHECKPOINT
    generator = load_generator(checkpoint, device="cpu")
    if generator.anchors is None:
        print(f"tune: {checkpoint}: has no prompt anchors to tune", file=sys.stderr)
        return 2
    grouped_anchors = generator.anchors
    ungrouped = dataclasses.replace(grouped_anchors, groups=())
    minilm = minilm_numpy()
    requests, likes = prompt_requests(DEV, rooms, args.seeds)
    sampler, steps = DEFAULT_SAMPLER
    rows = []
    for guidance in args.guidance:
        for mode in MODES:
            if mode == "grouped" and not grouped_anchors.grouped:
                continue
            generator.anchors = grouped_anchors if mode == "grouped" else ungrouped
            started = time.perf_counter()
            features = sample_features(generator, requests, sampler=sampler, steps=steps, guidance=guidance, seed=1,
                                       anchor=mode != "as written")
            clips = [generated_clip(f, c, rest, r.prompt, r.roles, c.script)
                     for f, c, r in zip(features, likes, requests)]
            agreement = classifier_agreement(evaluator, clips, minilm)
            rows.append({"guidance": guidance, "anchors": mode, "agreement": round(agreement, 4)})
            log.info("guidance %.1f, anchors %s: agreement %.3f (%.0f s)", guidance, mode, agreement,
                     time.perf_counter() - started)
    generator.anchors = grouped_anchors
    # Best: the highest agreement; a tie goes to the anchoring mode with the higher mean over all scales.
    mode_mean = {m: np.mean([r["agreement"] for r in rows if r["anchors"] == m]) for m in {r["anchors"] for r in rows}}
    best = max(rows, key=lambda r: (r["agreement"], mode_mean[r["anchors"]]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"checkpoint": str(checkpoint), "data_version": data_version(), "prompts": len(DEV),
              "seeds": args.seeds, "sampler": [sampler, steps], "rows": rows, "best": best}
    (out / "tuning.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Sampling settings chosen on the tuning prompts",
        "",
        f"Written by `./run tune-sampling`: {len(DEV)} tuning prompts (`data.procedural.prompts.DEV`) x {args.seeds} "
        f"seeds in held-out test rooms, {sampler} {steps} steps; the share of clips the evaluator's classifier "
        "puts in the prompt's script. The evaluation's reworded prompts are not used here. Rooms and evaluator: "
        f"procedural data `{data_version()}`.",
        "",
        "| Guidance | " + " | ".join(f"Anchors: {m}" for m in MODES) + " |",
        "|---|" + "---|" * len(MODES),
    ]
    for guidance in args.guidance:
        cells = {r["anchors"]: f"{r['agreement']:.3f}" for r in rows if r["guidance"] == guidance}
        lines.append(f"| {guidance:g} | " + " | ".join(cells.get(m, "-") for m in MODES) + " |")
    lines += ["", f"Best: guidance {best['guidance']:g}, anchors {best['anchors']} ({best['agreement']:.3f}; "
              "a tie goes to the anchoring with the higher mean over the scales).", ""]
    (out / "tuning.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
