"""Reconstruction against ground truth over several synthetic sequences (`./run eval-recon`).

Different rooms, cameras, people and both noise presets; writes report.md and
report.json under --out (default out/eval-recon/) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.core.body.model import load_body_model  # noqa: E402
from addon.core.recon.evaluate import evaluate_reconstruction  # noqa: E402
from addon.core.recon.pipeline import ReconstructionConfig, ReconstructionReport, reconstruct  # noqa: E402
from addon.core.recon.sequence import read_sequence  # noqa: E402
from addon.core.recon.synthetic import SyntheticConfig, write_synthetic_sequence  # noqa: E402

TARGETS = {
    "floor_normal_error_deg": ("<", 1.0),
    "camera_height_error_m": ("<", 0.03),
    "depth_scale_error": ("<", 0.02),
    "id_switches_per_100_frames": ("<", 1.0),
}


def run_one(seed: int, noise: str, body, work: Path, refine: bool = False) -> dict:
    config = SyntheticConfig(noise=noise, num_people=(1 + seed % 2, 2))
    folder = write_synthetic_sequence(work / f"{noise}_{seed}", config, seed=seed, body=body)
    sequence = read_sequence(folder)
    details = ReconstructionReport()
    started = time.perf_counter()
    bundle = reconstruct(sequence, body, ReconstructionConfig(), details=details)
    seconds = time.perf_counter() - started
    scores = evaluate_reconstruction(sequence, bundle, details, body)
    people = scores.pop("people")
    jitter_cut = [1 - p["jitter_after"] / p["jitter_before"] for p in people if p["jitter_before"] > 0]
    refined = None
    if refine:
        # The optional SMPLify-style step, measured the same way (off by default in the pipeline).
        details_refined = ReconstructionReport()
        bundle_refined = reconstruct(sequence, body, ReconstructionConfig(refine=True), details=details_refined)
        people_refined = evaluate_reconstruction(sequence, bundle_refined, details_refined, body)["people"]
        refined = round(float(np.mean([p["error_after_m"] for p in people_refined])), 4) if people_refined else None
    return {
        "seed": seed,
        "noise": noise,
        "people": len(people),
        "seconds": round(seconds, 2),
        **{k: round(v, 5) if isinstance(v, float) else v for k, v in scores.items()},
        "jitter_reduction": round(float(np.mean(jitter_cut)), 3) if jitter_cut else None,
        "joint_error_before_m": round(float(np.mean([p["error_before_m"] for p in people])), 4) if people else None,
        "joint_error_after_m": round(float(np.mean([p["error_after_m"] for p in people])), 4) if people else None,
        "joint_error_refined_m": refined,
        "roles_correct": all(p["role"] == p["true_role"] for p in people),
    }


def markdown(rows: list[dict]) -> str:
    columns = [
        "noise", "seed", "people", "floor_normal_error_deg", "camera_height_error_m", "depth_scale_error",
        "id_switches_per_100_frames", "jitter_reduction", "joint_error_before_m", "joint_error_after_m",
        "joint_error_refined_m", "roles_correct", "seconds",
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    summary = ["", "| preset | metric | mean | max | target | met |", "|---|---|---|---|---|---|"]
    for noise in sorted({r["noise"] for r in rows}):
        subset = [r for r in rows if r["noise"] == noise]
        for metric, (_, limit) in TARGETS.items():
            values = [r[metric] for r in subset]
            summary.append(
                f"| {noise} | {metric} | {np.mean(values):.4f} | {max(values):.4f} | < {limit} | "
                f"{sum(v < limit for v in values)}/{len(values)} |"
            )
        reductions = [r["jitter_reduction"] for r in subset if r["jitter_reduction"] is not None]
        summary.append(f"| {noise} | jitter_reduction | {np.mean(reductions):.3f} | - | >= 0.5 | {sum(v >= 0.5 for v in reductions)}/{len(reductions)} |")
    return "# Reconstruction against ground truth\n\n" + "\n".join(lines + summary) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "out" / "eval-recon")
    parser.add_argument("--seeds", type=int, default=4, help="sequences per noise preset")
    parser.add_argument("--smpl-dir", default="")
    parser.add_argument("--refine", action="store_true", help="also measure the optional refinement")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    body = load_body_model(args.smpl_dir or None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="isynth_eval_recon_") as work:
        for noise in ("clean", "noisy"):
            for seed in range(args.seeds):
                rows.append(run_one(seed, noise, body, Path(work), refine=args.refine))
                print(f"eval-recon: {noise} seed {seed}: {json.dumps(rows[-1])}", file=sys.stderr)
    (args.out / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    text = markdown(rows)
    (args.out / "report.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
