"""A one-line progress bar with ETA on stderr, for the command-line tools."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """Call with (stage, fraction in [0, 1]); redraws one line; ``close()`` ends it."""

    def __init__(self, label: str, width: int = 30, stream=sys.stderr) -> None:
        self.label, self.width, self.stream = label, width, stream
        self.started = time.perf_counter()

    def __call__(self, stage: str, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        elapsed = time.perf_counter() - self.started
        eta = elapsed / fraction - elapsed if fraction > 0 else float("nan")
        filled = int(round(self.width * fraction))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {fraction * 100:5.1f}% {stage:<10} {elapsed:5.1f}s ETA {eta:4.1f}s")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
