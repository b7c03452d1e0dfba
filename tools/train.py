"""Train a checkpoint from a TOML config (`./run train CONFIG.toml`; see docs/training.md).

One process:     ./run train configs/tiny.toml
Several GPUs:    .venv/bin/torchrun --nproc_per_node 4 tools/train.py CONFIG.toml
Several nodes:   torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d \
                     --rdzv-endpoint HOST:29500 --rdzv-id RUN tools/train.py CONFIG.toml

Resumes from the newest checkpoint in the config's output folder unless --no-resume.
Exit codes: 0 trained, 2 bad config or data (the message names the file and key), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from addon.core.train.config import load_train_config  # noqa: E402
from addon.core.train.loop import TrainProgress, train  # noqa: E402


def _format_seconds(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class ProgressLine:
    """Prints `step N/M  loss L  lr R  S samples/s  elapsed E  ETA T` on stderr: redrawn twice a
    second on a terminal, one line every 10 s into a log file."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream, self.last = stream, 0.0
        self.interactive = stream.isatty()
        self.every_s = 0.5 if self.interactive else 10.0

    def __call__(self, p: TrainProgress) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s and p.step < p.total_steps:
            return
        self.last = now
        loss = "-" if p.loss is None else f"{p.loss:.4f}"
        line = (f"train step {p.step}/{p.total_steps}  loss {loss}  lr {p.lr:.2e}  {p.samples_per_s:.1f} samples/s  "
                f"elapsed {_format_seconds(p.elapsed_s)}  ETA {_format_seconds(p.eta_s)}")
        self.stream.write(("\r" + line) if self.interactive else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="the run's TOML (see configs/tiny.toml)")
    parser.add_argument("--no-resume", action="store_true",
                        help="start from step 0, deleting the output folder's checkpoints and metrics log")
    args = parser.parse_args(argv)
    is_main = int(os.environ.get("RANK", "0")) == 0
    logging.basicConfig(level=logging.INFO if is_main else logging.WARNING, format="train: %(message)s")
    try:
        config = load_train_config(args.config)
    except ValueError as error:
        print(f"train: {error}", file=sys.stderr)
        return 2
    bar = ProgressLine() if is_main else None
    try:
        last = train(config, resume=not args.no_resume, progress=bar)
    except KeyboardInterrupt:
        print("\ntrain: interrupted; the newest checkpoint resumes it", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        print(f"\ntrain: {error}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    if is_main:
        print(f"train: last checkpoint {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
