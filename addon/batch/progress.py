"""What a batch run tells its operator: a JSON-lines log file and a progress bar with ETA.

Log lines are single ``write`` calls on a file opened for appending, so shards writing one log
at the same time interleave whole lines. Each line: ``{"time": ISO-8601 UTC, "event": ..., ...}``.
The bar redraws in place on a terminal and prints one line per update otherwise (CI, Slurm logs).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


class JsonLog:
    """Append events to ``path`` (created with its folder); every line is one JSON object."""

    def __init__(self, path: str | Path, **context) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.context = context

    def __call__(self, event: str, **fields) -> None:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event,
                  **self.context, **fields}
        line = json.dumps(record, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(line)


def read_log(path: str | Path) -> list[dict]:
    """Every event of a JSON-lines log (a torn last line, from a killed writer, is skipped)."""
    events = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


class ProgressBar:
    """``update(done, total, note)`` redraws ``render [#####-----] 3/10 clips  41 s  ETA 96 s``.

    The ETA is the elapsed time per finished clip times the clips left (clips run in parallel,
    so this already accounts for the workers). ``close()`` ends the line.
    """

    def __init__(self, label: str = "render", width: int = 28, stream=None) -> None:
        self.label, self.width = label, width
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty() and not os.environ.get("CI")

    def line(self, done: int, total: int, note: str = "") -> str:
        elapsed = time.perf_counter() - self.started
        fraction = done / total if total else 1.0
        eta = elapsed / done * (total - done) if done else float("nan")
        filled = int(round(self.width * fraction))
        bar = "#" * filled + "-" * (self.width - filled)
        eta_text = "ETA   ?" if eta != eta else f"ETA {_duration(eta)}"
        return f"{self.label} [{bar}] {done}/{total} clips {_duration(elapsed)} {eta_text} {note}".rstrip()

    def update(self, done: int, total: int, note: str = "") -> None:
        text = self.line(done, total, note)
        if self.interactive:
            self.stream.write("\r" + text[:150].ljust(150))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
