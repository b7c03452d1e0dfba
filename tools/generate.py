"""Generate an interaction from a prompt (`./run generate --prompt TEXT --roles staff,patient ...`).

Writes into --out: one AMASS-style .npz per person (``person<i>_<role>.npz``, role inside),
``joints.npy`` (persons, frames, 22, 3) float64, world, metres, Z-up, and ``summary.json``
(prompt, roles, fps, seed, steps, sampler, guidance, checkpoint, device, timings).

Exit codes: 0 written, 2 bad input (the message says what to change), 130 cancelled (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.core import api  # noqa: E402
from addon.core.generate import DEVICES, GenerationRequest  # noqa: E402
from addon.core.generation_settings import DEFAULT_GUIDANCE, DEFAULT_SMOOTHING_S, MAX_SMOOTHING_S  # noqa: E402
from addon.core.diffusion.samplers import SAMPLERS  # noqa: E402
from addon.core.motion.amass import write_amass_npz  # noqa: E402
from addon.core.settings import Preferences  # noqa: E402
from addon.core.text.encoders import TextEncoderError  # noqa: E402
from progress import ProgressBar  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt", required=True, help='what happens, e.g. "a nurse helps a patient stand up"')
    parser.add_argument("--roles", required=True, help="comma-separated, 1 to 4 of staff, patient, person")
    parser.add_argument("--seconds", type=float, required=True, help="clip length in seconds")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--checkpoint", default="", help="checkpoint .safetensors (default: the bundled one)")
    parser.add_argument("--fps", type=float, default=None, help="output frame rate (default: the checkpoint's)")
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE, help="classifier-free guidance scale")
    parser.add_argument("--sampler", choices=sorted(SAMPLERS), default="dpmpp_2m")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--scene-points", type=Path, default=None, help=".npy of (N, 3) world points, metres, Z-up")
    parser.add_argument("--no-hand-contact", action="store_true",
                        help="leave the helpers' hands as generated (default: put them on the other person when "
                        "the prompt implies touch)")
    parser.add_argument("--smoothing", type=float, default=DEFAULT_SMOOTHING_S, metavar="SECONDS",
                        help=f"time filter on the sampled motion, seconds (0 to {MAX_SMOOTHING_S:g}; 0: none; "
                        f"default {DEFAULT_SMOOTHING_S:g}: the model's frame-to-frame shake)")
    parser.add_argument("--clip-weights", default="", help="local open_clip weights for CLIP checkpoints")
    return parser.parse_args(argv)


def read_scene_points(path: Path | None) -> np.ndarray | None:
    """(N, 3) float64 from a .npy (never unpickled), or None."""
    if path is None:
        return None
    return np.load(path, allow_pickle=False)


def write_outputs(out: Path, result, summary: dict) -> list[Path]:
    """The per-person .npz files, joints.npy and summary.json; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, motion in enumerate(result.motions):
        path = out / f"person{index + 1}_{motion.role}.npz"
        write_amass_npz(path, motion)
        written.append(path)
    np.save(out / "joints.npy", result.joints)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return written + [out / "joints.npy", out / "summary.json"]


class SamplingProgress:
    """callback(step, total) for api.generate: a progress bar that starts at the first step,
    so its ETA measures sampling, not loading the checkpoint. Never cancels."""

    def __init__(self) -> None:
        self.bar: ProgressBar | None = None

    def __call__(self, step: int, total: int) -> bool:
        if self.bar is None:
            self.bar = ProgressBar("generate")
        self.bar("sampling", step / total)
        return False

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prefs = Preferences(checkpoint_path=args.checkpoint, clip_weights_path=args.clip_weights)
    bar = SamplingProgress()
    started = time.perf_counter()
    try:
        request = GenerationRequest(
            prompt=args.prompt,
            roles=tuple(role.strip() for role in args.roles.split(",") if role.strip()),
            seconds=args.seconds,
            fps=args.fps,
            seed=args.seed,
            guidance=args.guidance,
            sampler=args.sampler,
            steps=args.steps,
            scene_points=read_scene_points(args.scene_points),
            device=args.device,
            hand_contact=not args.no_hand_contact,
            smoothing_s=args.smoothing,
        )
        result = api.generate(prefs, request, bar)
    except (ValueError, OSError, TextEncoderError) as error:
        bar.close()
        print(f"generate: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        bar.close()
        print("generate: cancelled", file=sys.stderr)
        return 130
    bar.close()
    total_s = time.perf_counter() - started
    summary = {
        "prompt": request.prompt,
        "roles": list(request.roles),
        "fps": result.fps,
        "frames": int(result.joints.shape[1]),
        "seconds": request.seconds,
        "seed": request.seed,
        "steps": result.steps,
        "sampler": result.sampler,
        "guidance": request.guidance,
        "checkpoint": result.checkpoint,
        "device": result.device,
        "scene_points": 0 if request.scene_points is None else int(len(request.scene_points)),
        "understood_as": [[text, weight] for text, weight in result.understood_as],
        "hands_placed": result.hands_placed,
        "timings": {
            "load_s": round(total_s - result.seconds_taken, 4),
            "generate_s": round(result.seconds_taken, 4),
        },
    }
    written = write_outputs(args.out, result, summary)
    print(
        f"generate: wrote {len(written)} files to {args.out} ({len(result.motions)} persons x "
        f"{result.joints.shape[1]} frames at {result.fps:g} fps, {result.steps} {result.sampler} steps on "
        f"{result.device} in {result.seconds_taken:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
