"""Frozen settings that cross from Blender's preferences into core.

Core never sees a Blender ``context``; ``addon/preferences.py`` converts the
add-on preferences into :class:`Preferences` in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ComputeDevice = Literal["AUTO", "CUDA", "CPU"]
PythonMode = Literal["BLENDER", "EXTERNAL"]

# The generation checkpoint that ships with the extension (trained by configs/care.toml).
BUNDLED_CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "checkpoint" / "default.safetensors"

COMPUTE_DEVICES: tuple[ComputeDevice, ...] = ("AUTO", "CUDA", "CPU")
PYTHON_MODES: tuple[PythonMode, ...] = ("BLENDER", "EXTERNAL")


@dataclass(frozen=True)
class Preferences:
    """The user's add-on preferences. Empty paths mean "use the bundled default".

    smpl_model_dir: folder with the user's licensed SMPL files (empty: stand-in body).
    checkpoint_path: a ``*.safetensors`` generation checkpoint (empty: the bundled one).
    compute_device: where generation runs; AUTO picks CUDA when the worker sees a GPU.
    clip_weights_path: local open_clip weights for CLIP-conditioned checkpoints.
    python_mode: BLENDER runs generation with Blender's own Python and the bundled
        wheels; EXTERNAL runs it with ``python_executable`` (e.g. a CUDA venv).
    """

    smpl_model_dir: str = ""
    checkpoint_path: str = ""
    compute_device: ComputeDevice = "AUTO"
    clip_weights_path: str = ""
    python_mode: PythonMode = "BLENDER"
    python_executable: str = ""

    def __post_init__(self) -> None:
        if self.compute_device not in COMPUTE_DEVICES:
            raise ValueError(
                f"preferences: compute_device must be one of {COMPUTE_DEVICES}, "
                f"got {self.compute_device!r}"
            )
        if self.python_mode not in PYTHON_MODES:
            raise ValueError(
                f"preferences: python_mode must be one of {PYTHON_MODES}, got {self.python_mode!r}"
            )

    def problems(self) -> list[str]:
        """Human-readable problems with the set paths; empty when all is usable.

        Unset paths are never a problem: every default works with nothing set.
        """
        found: list[str] = []
        if self.smpl_model_dir and not Path(self.smpl_model_dir).is_dir():
            found.append(f"SMPL model folder does not exist: {self.smpl_model_dir}")
        for label, value in (
            ("checkpoint file", self.checkpoint_path),
            ("CLIP weights file", self.clip_weights_path),
        ):
            if value and not Path(value).is_file():
                found.append(f"{label} does not exist: {value}")
        if self.python_mode == "EXTERNAL":
            if not self.python_executable:
                found.append("external Python is selected but no interpreter is set")
            elif not Path(self.python_executable).is_file():
                found.append(f"external Python interpreter does not exist: {self.python_executable}")
        return found
