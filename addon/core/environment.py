"""Which interpreter runs generation, what it can do, and which device it uses.

Generation runs in a separate process (DESIGN.md, Processes). This module
builds that process's command line and environment from the preferences, runs
the standalone :mod:`env_probe` in it, and resolves the compute device.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .settings import Preferences

PROBE_SCRIPT = Path(__file__).with_name("env_probe.py")
ResolvedDevice = Literal["cuda", "cpu"]


@dataclass(frozen=True)
class Interpreter:
    """A Python that can run the worker.

    executable: path of the interpreter.
    extra_paths: folders prepended to its ``PYTHONPATH`` (Blender's own Python needs
        the extension wheels' site-packages; an external venv needs nothing).
    """

    executable: str
    extra_paths: tuple[str, ...] = ()

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The process environment to start the interpreter with."""
        env = dict(os.environ if base is None else base)
        if self.extra_paths:
            existing = env.get("PYTHONPATH", "")
            env["PYTHONPATH"] = os.pathsep.join([*self.extra_paths, *filter(None, [existing])])
        env.setdefault("PYTHONIOENCODING", "utf-8")
        return env


@dataclass(frozen=True)
class EnvironmentReport:
    """The probe's findings (see ``env_probe.probe``)."""

    python: str
    executable: str
    platform: str
    torch: str | None
    torch_error: str | None
    cuda_available: bool
    cuda_devices: tuple[str, ...]
    mps_available: bool

    @property
    def can_generate(self) -> bool:
        return self.torch is not None

    def summary(self) -> str:
        """One line for the panel and the log."""
        if self.torch is None:
            return f"Python {self.python}: torch missing ({self.torch_error})"
        devices = ", ".join(self.cuda_devices) if self.cuda_available else "CPU only"
        return f"Python {self.python}, torch {self.torch}: {devices}"


class GenerationEnvironmentError(RuntimeError):
    """The generation interpreter is missing, broken or cannot give what was asked."""


def select_interpreter(
    prefs: Preferences, blender_python: str, blender_paths: tuple[str, ...] = ()
) -> Interpreter:
    """The interpreter the preferences ask for.

    blender_python: Blender's own interpreter (``sys.executable`` inside Blender).
    blender_paths: ``sys.path`` entries of Blender's process that hold the bundled wheels.
    """
    if prefs.python_mode == "EXTERNAL":
        if not prefs.python_executable:
            raise GenerationEnvironmentError(
                "preferences: 'Python environment' is External but no interpreter is set"
            )
        path = Path(prefs.python_executable).expanduser()
        if not path.is_file():
            raise GenerationEnvironmentError(f"preferences: external Python interpreter not found: {path}")
        return Interpreter(executable=str(path))
    return Interpreter(executable=blender_python, extra_paths=tuple(blender_paths))


def probe_interpreter(interpreter: Interpreter, timeout_s: float = 60.0) -> EnvironmentReport:
    """Run the probe script in ``interpreter`` and parse its JSON line."""
    try:
        completed = subprocess.run(
            [interpreter.executable, str(PROBE_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=interpreter.environment(),
            check=False,
        )
    except FileNotFoundError:
        raise GenerationEnvironmentError(f"interpreter not found: {interpreter.executable}") from None
    except subprocess.TimeoutExpired:
        raise GenerationEnvironmentError(
            f"interpreter {interpreter.executable} did not answer within {timeout_s:.0f} s"
        ) from None
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        raise GenerationEnvironmentError(
            f"interpreter {interpreter.executable} failed the probe "
            f"(exit {completed.returncode}): {' | '.join(tail)}"
        )
    data = json.loads(lines[-1])
    return EnvironmentReport(
        python=data["python"],
        executable=data["executable"],
        platform=data["platform"],
        torch=data["torch"],
        torch_error=data["torch_error"],
        cuda_available=bool(data["cuda_available"]),
        cuda_devices=tuple(data["cuda_devices"]),
        mps_available=bool(data["mps_available"]),
    )


def resolve_device(requested: str, report: EnvironmentReport) -> ResolvedDevice:
    """AUTO -> cuda when available else cpu; CUDA without a GPU is an error, not a fallback."""
    if requested == "CPU":
        return "cpu"
    if requested == "CUDA":
        if not report.cuda_available:
            raise GenerationEnvironmentError(
                f"preferences: compute device is CUDA but {report.executable} sees no CUDA GPU "
                f"({report.summary()}); choose Auto or CPU, or an external Python with CUDA torch"
            )
        return "cuda"
    if requested == "AUTO":
        return "cuda" if report.cuda_available else "cpu"
    raise ValueError(f"compute device must be AUTO, CUDA or CPU, got {requested!r}")
