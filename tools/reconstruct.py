"""Reconstruct a Teton sequence folder into a bundle (`./run reconstruct SEQUENCE_DIR OUT.npz`).

Exit codes: 0 written, 2 bad input (the message names the file and field).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.core import api  # noqa: E402
from addon.core.recon.bundle import write_bundle  # noqa: E402
from addon.core.recon.pipeline import ReconstructionConfig  # noqa: E402
from addon.core.settings import Preferences  # noqa: E402
from progress import ProgressBar  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sequence", type=Path, help="a Teton sequence folder (docs/teton_sequence.md)")
    parser.add_argument("out", type=Path, help="the bundle to write (.npz)")
    parser.add_argument("--smpl-dir", default="", help="folder with licensed SMPL files (default: the stand-in body)")
    parser.add_argument("--point-budget", type=int, default=ReconstructionConfig.point_budget)
    parser.add_argument("--refine", action="store_true", help="SMPLify-style refinement to the 2D keypoints (slow)")
    parser.add_argument("--no-smoothing", action="store_true")
    args = parser.parse_args(argv)
    config = ReconstructionConfig(point_budget=args.point_budget, refine=args.refine, smoothing=not args.no_smoothing)
    bar = ProgressBar("reconstruct")
    started = time.perf_counter()
    try:
        bundle = api.reconstruct_sequence(str(args.sequence), Preferences(smpl_model_dir=args.smpl_dir), config, bar)
    except (ValueError, OSError) as error:
        bar.close()
        print(f"reconstruct: {error}", file=sys.stderr)
        return 2
    bar.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_bundle(args.out, bundle)
    print(
        f"reconstruct: wrote {args.out} ({len(bundle.points)} points, {bundle.num_persons} people, "
        f"{len(bundle.furniture_labels)} furniture items) in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
