"""What the Generate Interaction panel asks for, as one frozen, checked value (no Blender, no torch).

The panel's properties and the operator's arguments both become a :class:`GenerationSettings`
(``addon/operators/generate_interaction.py`` converts them); everything here can be checked
before a worker starts or the scene changes, so a bad value is a message, not a half-made scene.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from .motion.motion import ROLES

# The classifier-free guidance scale Generate Interaction, batch renders and the evaluation use
# unless told otherwise: the best of 2.5 / 4 / 6 on the tuning prompts (reports/tuning.md).
DEFAULT_GUIDANCE = 4.0
# The time filter on every sampled clip (``diffusion.temporal_smoothing``): the standard deviation
# of its Gaussian, seconds. 0.1 s takes out the bundled model's frame-to-frame shake; more also
# softens falls and quick turns, 0 leaves the sampler's result as it is.
DEFAULT_SMOOTHING_S = 0.1
MAX_SMOOTHING_S = 0.5

Quality = Literal["DRAFT", "STANDARD", "BEST"]
DeviceChoice = Literal["AUTO", "CUDA", "CPU"]

# Quality preset -> (sampler, model evaluations). DPM-Solver++(2M) converges in few steps;
# "Best" is the evaluation's default setting (reports/eval.md), DDIM with 25 steps.
QUALITY_PRESETS: dict[str, tuple[str, int]] = {
    "DRAFT": ("dpmpp_2m", 5),
    "STANDARD": ("dpmpp_2m", 10),
    "BEST": ("ddim", 25),
}
SAMPLER_NAMES: tuple[str, ...] = ("ddpm", "ddim", "dpmpp_2m")
MAX_PERSONS = 4
MAX_VARIATIONS = 16
# Every seed is stored on its action as a Blender ID property, a signed 32-bit int: variation k's
# seed + k must fit, or keying the finished clip fails after all the sampling.
MAX_SEED = 2**31 - 1


class SettingsError(ValueError):
    """A generation setting that cannot run; the message names the setting."""


@dataclass(frozen=True)
class CheckpointLimits:
    """What a checkpoint can generate, read from its JSON (no torch).

    fps: its native frame rate; max_frames: longest clip in frames at ``fps``;
    max_persons: persons per clip; uses_scene: whether it conditions on scene points.
    """

    path: str
    fps: float
    max_frames: int
    max_persons: int
    uses_scene: bool

    @property
    def max_seconds(self) -> float:
        return self.max_frames / self.fps


@dataclass(frozen=True)
class GenerationSettings:
    """One click of Generate Interaction.

    prompt: the text. roles: one role per person ("staff", "patient", "person").
    seconds: clip length (s). fps: output frame rate (frames/s; None: the checkpoint's).
    seed: the first variation's seed; variation k uses seed + k (0 .. MAX_SEED, the last one too).
    guidance: classifier-free guidance scale. quality: a preset of QUALITY_PRESETS;
    sampler/steps: an advanced override of the preset ("" / 0: the preset's).
    device: "AUTO", "CUDA" or "CPU". variations: how many seeds to generate (1..16).
    anchor_prompt: understand the prompt through the checkpoint's training captions (``text.anchors``).
    hand_contact: put helpers' hands on the other person when the prompt implies touch
        (``motion.hand_contact``).
    smoothing_s: the time filter's standard deviation, seconds (0..MAX_SMOOTHING_S; 0: none).
    """

    prompt: str
    roles: tuple[str, ...]
    seconds: float = 6.0
    fps: float | None = None
    seed: int = 0
    guidance: float = DEFAULT_GUIDANCE
    quality: Quality = "STANDARD"
    sampler: str = ""
    steps: int = 0
    device: DeviceChoice = "AUTO"
    variations: int = 1
    anchor_prompt: bool = True
    hand_contact: bool = True
    smoothing_s: float = DEFAULT_SMOOTHING_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", tuple(self.roles))
        if not self.prompt.strip():
            raise SettingsError("prompt: type what the people should do, e.g. 'a nurse helps a patient stand up'")
        if not 1 <= len(self.roles) <= MAX_PERSONS:
            raise SettingsError(f"persons: give 1 to {MAX_PERSONS} persons, got {len(self.roles)}")
        unknown = [role for role in self.roles if role not in ROLES]
        if unknown:
            raise SettingsError(f"roles: unknown role(s) {unknown}; each must be one of {', '.join(ROLES)}")
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise SettingsError(f"duration: must be more than 0 s, got {self.seconds!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise SettingsError(f"fps: must be more than 0, got {self.fps!r}")
        if not math.isfinite(self.guidance):
            raise SettingsError(f"guidance: must be a finite number, got {self.guidance!r}")
        if self.quality not in QUALITY_PRESETS:
            raise SettingsError(f"quality: must be one of {', '.join(QUALITY_PRESETS)}, got {self.quality!r}")
        if self.sampler and self.sampler not in SAMPLER_NAMES:
            raise SettingsError(f"sampler: must be one of {', '.join(SAMPLER_NAMES)}, got {self.sampler!r}")
        if self.steps < 0:
            raise SettingsError(f"steps: must be >= 0 (0: the preset's), got {self.steps}")
        if self.device not in ("AUTO", "CUDA", "CPU"):
            raise SettingsError(f"device: must be AUTO, CUDA or CPU, got {self.device!r}")
        if not 1 <= self.variations <= MAX_VARIATIONS:
            raise SettingsError(f"variations: must be 1 to {MAX_VARIATIONS}, got {self.variations}")
        if self.seed < 0:
            raise SettingsError(f"seed: must be 0 or more, got {self.seed}")
        if self.seed + self.variations - 1 > MAX_SEED:
            raise SettingsError(
                f"seed: variation k uses seed + k, and {self.seed} + {self.variations - 1} is over {MAX_SEED} "
                f"(the largest seed Blender stores); use a seed of at most {MAX_SEED - self.variations + 1}"
            )
        if not (math.isfinite(self.smoothing_s) and 0.0 <= self.smoothing_s <= MAX_SMOOTHING_S):
            raise SettingsError(f"smoothing: must be 0 to {MAX_SMOOTHING_S:g} s, got {self.smoothing_s!r}")

    @property
    def sampler_and_steps(self) -> tuple[str, int]:
        """The sampler and its steps: the override where set, else the quality preset's."""
        preset_sampler, preset_steps = QUALITY_PRESETS[self.quality]
        return self.sampler or preset_sampler, self.steps or preset_steps

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(self.seed + k for k in range(self.variations))

    def check_against(self, limits: CheckpointLimits) -> None:
        """SettingsError when the checkpoint cannot generate this (too long, too many persons)."""
        frames = round(self.seconds * limits.fps)
        if frames > limits.max_frames:
            raise SettingsError(
                f"duration: {self.seconds:g} s is longer than the checkpoint generates "
                f"({limits.max_seconds:g} s at {limits.fps:g} fps); choose {limits.max_seconds:g} s or less"
            )
        if frames < 1:
            raise SettingsError(f"duration: {self.seconds:g} s is shorter than one frame at {limits.fps:g} fps")
        if len(self.roles) > limits.max_persons:
            raise SettingsError(
                f"persons: {len(self.roles)} asked for; this checkpoint generates at most {limits.max_persons}"
            )


def parse_roles(text: str) -> tuple[str, ...]:
    """"staff, patient" -> ("staff", "patient"); SettingsError names an unknown role."""
    roles = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    if not roles:
        raise SettingsError("roles: give at least one role, e.g. 'staff,patient'")
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise SettingsError(f"roles: unknown role(s) {unknown} in {text!r}; use {', '.join(ROLES)}")
    return roles


def check_target_names(names: Sequence[str], persons: int) -> None:
    """SettingsError when the per-person target names cannot be meant as given.

    names: one object name per person, in role order ("" or "-": a new SMPL rig for that
    person); persons: how many roles there are. More names than persons, or one object named
    for two persons (one rig cannot play both), is an error rather than silently dropped or
    keyed twice.
    """
    if len(names) > persons:
        listed = ", ".join(map(repr, names))
        raise SettingsError(f"targets: {len(names)} names given for {persons} person(s) ({listed}); "
                            "give one per role ('' or '-': a new rig)")
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in ("", "-"):
            continue
        if name in first:
            raise SettingsError(f"targets: person {first[name] + 1} and person {index + 1} both target {name!r}; "
                                "one rig can play one person")
        first[name] = index


def checkpoint_limits(path: str | Path) -> CheckpointLimits:
    """Read a checkpoint's limits from its ``.json`` beside the ``.safetensors`` (no torch).

    Raises SettingsError naming the file when either file is missing or the JSON is unreadable.
    """
    weights = Path(path)
    meta_path = weights.with_suffix(".json")
    if not weights.is_file():
        raise SettingsError(f"checkpoint: {weights} does not exist (Preferences > Checkpoint, or train one)")
    try:
        meta = json.loads(meta_path.read_text())
        representation, network = meta["representation"], meta["network"]
        return CheckpointLimits(
            path=str(weights),
            fps=float(representation["fps"]),
            max_frames=int(representation["max_frames"]),
            max_persons=int(network.get("max_persons", MAX_PERSONS)),
            uses_scene=bool(network.get("use_scene", False)),
        )
    except FileNotFoundError:
        raise SettingsError(f"checkpoint: {meta_path} is missing (a checkpoint is a .safetensors and its .json)") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SettingsError(f"checkpoint: {meta_path} is not a readable checkpoint description ({error})") from None
