"""Training metrics: sums over a logging window, and the JSON-lines log (``<output>/metrics.jsonl``).

One line per ``log_every`` steps:

    {"step": completed steps, "loss", "x0", "velocity", "bone_length", "foot_contact", "grad_norm":
     means over the window's steps (losses unweighted except "loss", the weighted total),
     "lr": the last step's learning rate, "seconds": training wall time since step 0 (s),
     "step_s": mean wall time per step in the window (s), "samples_per_s": rows per second}

Sums stay float64 tensors on the training device until a line is written (no per-step sync).
With W processes each adds its share of every global mean (distributed.py), so the sum over
processes is the global value.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

METRICS = ("loss", "x0", "velocity", "bone_length", "foot_contact", "fk", "grad_norm")
TIMING_KEYS = ("seconds", "step_s", "samples_per_s")  # differ between otherwise identical runs


class MetricWindow:
    """Running sums of ``METRICS`` since the last log line, plus the number of steps."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.sums = torch.zeros(len(METRICS), dtype=torch.float64, device=device)
        self.count = 0

    def add(self, values: dict[str, Tensor]) -> None:
        """Add one step's scalar tensors (each this process's share of the global value)."""
        self.sums += torch.stack([values[name].detach().to(torch.float64) for name in METRICS])
        self.count += 1

    def means(self, reduced: Tensor) -> dict[str, float]:
        """{name: sum / count} from ``reduced`` (the sums after summing over processes)."""
        return {name: float(value) / self.count for name, value in zip(METRICS, reduced.tolist())}

    def reset(self) -> None:
        self.sums.zero_()
        self.count = 0

    def to_json(self) -> dict[str, float]:
        """Sums and count as Python floats (exact in JSON)."""
        return {**{name: float(v) for name, v in zip(METRICS, self.sums.tolist())}, "count": float(self.count)}

    def load_json(self, values: dict[str, float]) -> None:
        """Inverse of :meth:`to_json`; an empty dict is an empty window."""
        if not values:
            self.reset()
            return
        # A window saved before a metric existed (a resumed older run) counts it as 0 so far.
        self.sums = torch.tensor([values.get(name, 0.0) for name in METRICS], dtype=torch.float64, device=self.device)
        self.count = int(values["count"])


class MetricsLog:
    """Append-only JSON lines; on resume, lines after the resumed step are dropped first."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def truncate_after(self, step: int) -> None:
        """Keep only the lines with "step" <= ``step`` (a crashed run may have logged past its checkpoint)."""
        if not self.path.is_file():
            return
        kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def read(self) -> list[dict]:
        """Every line, parsed."""
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]
