"""Prompt + roles (+ scene) -> one Motion per person: sampling a checkpoint (thesis ch. 5).

``Generator`` keeps a checkpoint warm (network, text encoder, schedule, statistics);
``Generator.generate`` runs one request:

1. frames = round(seconds x checkpoint fps), at most the checkpoint's max frames;
2. the prompt through the checkpoint's own text encoder (cached per prompt), then, when the
   checkpoint carries prompt anchors and the request allows it, onto the blend of the nearest
   training captions of clips with the request's roles (``text.anchors``: wordings the model
   never saw are understood as the captions they resemble; the result names them);
3. a ``torch.Generator`` seeded with the request's seed draws, in this order, the person ids
   (without replacement, thesis 5.5) and x_T ~ N(0, I), then the sampler's noise (DDPM);
   the scene's point groups use a second generator with the same seed, so adding a scene
   leaves ids and noise as they were;
4. classifier-free guidance with the conditional and unconditional passes in ONE batched
   forward (thesis eq. 3.21), the unconditional condition dropping the text only; every x0
   prediction keeps persons' pelvises apart (``diffusion.spacing``), legs out of the scene's
   furniture (``diffusion.keep_out``), bodies lying beside a bed on it when the prompt is about
   lying in bed (``diffusion.onto_support``) and, last, the bodies' bone capsules apart as the
   decode of step 6 will show them (``diffusion.body_separation``; its centimetre shifts rarely
   put a leg into furniture, while keep_out's jumps to a free cell could put one person into
   another); ``diffusion.corrections`` applies them in this order;
5. the chosen sampler over the checkpoint's cosine schedule; its result filtered along time (a
   Gaussian of 0.1 s takes out the model's frame-to-frame shake, ``diffusion.temporal_smoothing``)
   and the bodies parted once more;
6. de-normalise with the checkpoint's statistics and decode each person's features into a
   Motion on the checkpoint's rest joints (the predicted rotations on the predicted pelvis path,
   lying bodies levelled, kept above the floor, planted feet held still, ``motion.decode``), with the helpers' hands
   put on the other person when the prompt was understood as an action whose people touch
   (``motion.hand_contact``; the request can turn it off); resample to the requested fps
   (slerp) if it differs.

Same request and checkpoint -> bit-identical output on CPU. Nothing here imports training or
dataset code, nor Blender.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

import numpy as np
import torch
from torch import Tensor

from .action_caveats import action_caveat
from .diffusion.checkpoint import CheckpointError, build_denoiser, checkpoint_paths, load_checkpoint_files
from .diffusion.corrections import Corrections
from .diffusion.conditioning import ROLES, Conditioning, build_conditioning, scene_tokens
from .diffusion.denoiser import InteractionDenoiser
from .diffusion.guidance import classifier_free_guidance
from .diffusion.samplers import SAMPLERS, SamplingCancelled, sample
from .generation_settings import DEFAULT_GUIDANCE, DEFAULT_SMOOTHING_S, MAX_SMOOTHING_S
from .diffusion.schedule import DiffusionSchedule, cosine_schedule
from .diffusion.seating import sitting_persons
from .diffusion.walking import walking_persons
from .motion.motion import Motion
from .labels import IN_BED_SCRIPTS, ON_BED_EDGE_SCRIPTS, ON_CHAIR_SCRIPTS, TOUCH_SCRIPTS, WALKING_SCRIPTS
from .motion.decode import decode_generated
from .motion.hand_contact import reaching_persons
from .motion.representation import FEATURE_DIM, NormalizationStats, RepresentationError
from .motion.resample import resample
from .settings import BUNDLED_CHECKPOINT  # noqa: F401  (re-exported: where generation looks by default)
from .skeleton import NUM_BODY_JOINTS, forward_kinematics
from .text.anchors import Anchored, PromptAnchors, anchor_prompts
from .text.encoders import CachedTextEncoder, load_text_encoder

__all__ = [
    "BUNDLED_CHECKPOINT",
    "DEVICES",
    "MAX_PERSONS",
    "GenerationError",
    "GenerationRequest",
    "GenerationResult",
    "Generator",
    "SamplingCancelled",
    "SamplingInputs",
    "clear_generator_cache",
    "load_generator",
    "motion_joints",
    "resolve_device",
]

Device = Literal["auto", "cuda", "cpu"]
SamplerName = Literal["ddpm", "ddim", "dpmpp_2m"]
DEVICES: tuple[str, ...] = get_args(Device)
MAX_PERSONS = 4  # the thesis' 1 to 4 persons per clip
REPRESENTATION = "positions-velocities-6d"
# Where the add-on's own checkpoint will ship (not trained yet; see core.api.generate).


# callback(step, total): step = steps finished (1..total); returning True cancels.
ProgressCallback = Callable[[int, int], "bool | None"]


class GenerationError(ValueError):
    """A request that cannot run (bad value, or too long / too many persons for the checkpoint)."""


@dataclass(frozen=True, eq=False)
class GenerationRequest:
    """What to generate. eq=False: ``scene_points`` is an array, which == cannot compare.

    prompt: the text ("" = no text: unconditional on text).
    roles: one role per person, 1..4, each "staff", "patient" or "person" (a list is kept as a tuple).
    seconds: clip length, > 0. fps: output frame rate (None: the checkpoint's).
    seed: seeds every random draw of the request.
    guidance: classifier-free guidance scale (1 = conditional model only, 0 = unconditional).
    sampler, steps: the sampler (``diffusion.samplers.SAMPLERS``) and its model evaluations.
    scene_points: (N, 3) float, world, metres, Z-up, or None; ignored by a checkpoint without scenes.
    device: "auto" (CUDA when torch sees a GPU, else CPU), "cuda" or "cpu".
    anchor_prompt: map the prompt onto the checkpoint's training captions (when it has anchors).
    hand_contact: put helpers' hands on the other person when the prompt was understood as an
        action whose people touch (needs anchoring; ``motion.hand_contact``).
    smoothing_s: the standard deviation of the time filter on the sampler's result, seconds
        (0..MAX_SMOOTHING_S; 0: none; ``diffusion.temporal_smoothing``).
    """

    prompt: str
    roles: tuple[str, ...]
    seconds: float
    fps: float | None
    seed: int
    guidance: float = DEFAULT_GUIDANCE
    sampler: SamplerName = "dpmpp_2m"
    steps: int = 10
    scene_points: np.ndarray | None = None
    device: Device = "auto"
    anchor_prompt: bool = True
    hand_contact: bool = True
    smoothing_s: float = DEFAULT_SMOOTHING_S

    def __post_init__(self) -> None:
        # frozen: normalise through object.__setattr__, once, here.
        roles = (self.roles,) if isinstance(self.roles, str) else tuple(self.roles)
        object.__setattr__(self, "roles", roles)
        if not isinstance(self.prompt, str):
            raise GenerationError(f"prompt must be text, got {type(self.prompt).__name__}")
        if not 1 <= len(roles) <= MAX_PERSONS:
            raise GenerationError(f"roles: give 1 to {MAX_PERSONS} persons, got {len(roles)}")
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise GenerationError(f"roles: unknown role(s) {unknown}; each must be one of {ROLES}")
        if not _positive(self.seconds):
            raise GenerationError(f"seconds must be a finite number > 0, got {self.seconds!r}")
        if self.fps is not None and not _positive(self.fps):
            raise GenerationError(f"fps must be a finite number > 0 (or None: the checkpoint's), got {self.fps!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise GenerationError(f"seed must be an integer, got {self.seed!r}")
        if not (isinstance(self.guidance, (int, float)) and math.isfinite(self.guidance)):
            raise GenerationError(f"guidance must be a finite number, got {self.guidance!r}")
        if self.sampler not in SAMPLERS:
            raise GenerationError(f"sampler must be one of {sorted(SAMPLERS)}, got {self.sampler!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, (int, np.integer)) or self.steps < 1:
            raise GenerationError(f"steps must be an integer >= 1, got {self.steps!r}")
        if self.device not in DEVICES:
            raise GenerationError(f"device must be one of {DEVICES}, got {self.device!r}")
        if not (isinstance(self.smoothing_s, (int, float)) and not isinstance(self.smoothing_s, bool)
                and 0.0 <= self.smoothing_s <= MAX_SMOOTHING_S):
            raise GenerationError(f"smoothing_s must be 0 to {MAX_SMOOTHING_S:g} seconds, got {self.smoothing_s!r}")
        if self.scene_points is not None:
            points = np.asarray(self.scene_points, dtype=np.float64)
            if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
                raise GenerationError(f"scene_points must be (N > 0, 3) metres, got shape {points.shape}")
            if not np.isfinite(points).all():
                raise GenerationError("scene_points: non-finite values")
            object.__setattr__(self, "scene_points", points)


@dataclass(frozen=True, eq=False)
class GenerationResult:
    """What a request produced.

    motions: one Motion per person, in the request's role order, at ``fps``.
    joints: (P, T, 22, 3) float64, world, metres, Z-up: forward kinematics of ``motions`` on the
        checkpoint's rest joints (what a rig driven by the Motions shows).
    fps: frames per second of motions and joints. seconds_taken: wall-clock seconds of generate().
    steps: model evaluations the sampler ran (DPM-Solver++ may merge a few of the requested).
    sampler: its name. device: where it ran ("cpu", "cuda:0"). checkpoint: the weights file.
    understood_as: the training captions the prompt was anchored to, (caption, weight) heaviest
        first; empty when the prompt was used as it is.
    hands_placed: whether the decode put reaching hands on the other person (GenerationRequest.hand_contact).
    caveat: one line when the prompt was placed in an action this checkpoint does poorly
        (``action_caveats``), else "".
    """

    motions: list[Motion]
    joints: np.ndarray
    fps: float
    seconds_taken: float
    steps: int
    sampler: str
    device: str
    checkpoint: str
    understood_as: tuple[tuple[str, float], ...] = ()
    hands_placed: bool = False
    caveat: str = ""


@dataclass(frozen=True, eq=False)
class SamplingInputs:
    """Everything a sampler needs for one request, before the first model call.

    x_T: (1, P, T, F) float32 on the generator's device, the starting noise.
    cond, uncond: Conditioning (batch 1) with and without the text.
    generator: the request's CPU generator, already past the ids and x_T (the sampler's noise).
    frames: T, at the checkpoint's fps.
    understood_as: see GenerationResult.
    reaching: per person, whether the decode puts their hands on the others; None: nobody's.
    in_bed: the prompt was understood as an action in which someone lies in bed (sampling lays
        bodies lying beside a bed onto it, ``diffusion.onto_support``).
    seated: per person, whether the finishing corrections sit them on the chair they sit down
        beside (``diffusion.seating``); None: nobody.
    bed_sitters: per person, whether the finishing corrections sit them on the edge of the bed
        they sit down beside (``diffusion.bed_edge``); None: nobody.
    walkers: per person, whether the finishing corrections step them along a route when the
        model leaves them on the spot (``diffusion.walking``); None: nobody.
    action: the action the anchoring placed the prompt in ("" or None: none).
    """

    x_T: Tensor
    cond: Conditioning
    uncond: Conditioning
    generator: torch.Generator
    frames: int
    understood_as: tuple[tuple[str, float], ...] = ()
    reaching: tuple[bool, ...] | None = None
    in_bed: bool = False
    seated: tuple[bool, ...] | None = None
    bed_sitters: tuple[bool, ...] | None = None
    walkers: tuple[bool, ...] | None = None
    action: str | None = None


class EncodedPrompts(NamedTuple):
    """B prompts as ``Generator.encode_prompts`` understood them.

    embeddings: (B, E) float32 CPU unit text embeddings to condition on (None: no prompt).
    interpretation: per prompt the training captions it was anchored to, (caption, weight)
        heaviest first (empty: used as encoded).
    reaching: per prompt, who puts hands on the others in the decode (``reaching_persons`` of
        its roles when it was placed in an action whose people touch), else None.
    in_bed: per prompt, whether it was placed in an action in which someone lies in bed.
    seated: per prompt, who may be put onto a chair (``seating.sitting_persons`` of its roles
        when it was placed in an action in which someone sits on one), else None.
    bed_sitters: per prompt, who may be sat on a bed's edge (``seating.sitting_persons`` of its
        roles when it was placed in an action in which someone sits there), else None.
    walkers: per prompt, who may be stepped along a route (``walking.walking_persons`` of its
        roles when it was placed in an action that is a walk), else None.
    actions: per prompt, the action (script) the anchoring placed it in ("" when the anchors
        name none), or None when the prompts were not anchored.
    """

    embeddings: Tensor | None
    interpretation: list[list[tuple[str, float]]]
    reaching: list[tuple[bool, ...] | None]
    in_bed: list[bool]
    seated: list[tuple[bool, ...] | None]
    bed_sitters: list[tuple[bool, ...] | None]
    walkers: list[tuple[bool, ...] | None] | None = None
    actions: list[str] | None = None


def resolve_device(device: Device) -> torch.device:
    """"auto" -> CUDA when torch sees a GPU, else CPU; "cuda" without a GPU is a GenerationError."""
    if device not in DEVICES:
        raise GenerationError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise GenerationError(
            f"device 'cuda' was asked for but this torch ({torch.__version__}) sees no CUDA GPU; "
            "use 'auto' or 'cpu', or point the add-on at a Python with CUDA torch"
        )
    return torch.device("cuda", torch.cuda.current_device())


class Generator:
    """A checkpoint loaded once and kept warm: denoiser (EMA weights), text encoder, schedule, stats.

    checkpoint_path: the ``.safetensors`` (its ``.json`` beside it) or their common stem.
    device: see ``resolve_device``. clip_weights_path: local open_clip weights when the
    checkpoint was trained with a CLIP text tower.
    Raises CheckpointError for a missing, corrupt or incompatible checkpoint, and
    ``TextEncoderError`` when its text encoder cannot be built here.
    """

    def __init__(
        self, checkpoint_path: str | os.PathLike, device: Device = "auto", clip_weights_path: str | None = None
    ) -> None:
        self.device = resolve_device(device)
        weights, _ = checkpoint_paths(checkpoint_path)
        self.checkpoint = str(weights)
        try:
            meta, arrays = load_checkpoint_files(weights)
            _check_compatible(meta, self.checkpoint)
            self.denoiser: InteractionDenoiser = build_denoiser(meta, arrays, use_ema=True, where=self.checkpoint)
            self.stats = NormalizationStats(arrays.stats_mean, arrays.stats_std)
        except (CheckpointError, RepresentationError) as error:
            raise CheckpointError(
                f"cannot use generation checkpoint: {error}. Choose a checkpoint written by this version of "
                "Interaction Synth (both its .safetensors and .json)."
            ) from None
        self.meta = meta
        self.denoiser.to(self.device)
        self.rest_joints = np.asarray(arrays.rest_joints, dtype=np.float64)  # (24, 3) metres, template frame
        self.schedule: DiffusionSchedule = cosine_schedule(int(meta.diffusion["num_steps"]), float(meta.diffusion["s"]))
        encoder = load_text_encoder(meta.text_encoder, clip_weights_path, device=self.device)
        if encoder.dim != self.denoiser.config.text_dim:
            raise CheckpointError(
                f"{self.checkpoint}: text encoder {meta.text_encoder!r} gives {encoder.dim} numbers, "
                f"the network expects {self.denoiser.config.text_dim}"
            )
        self.text_encoder = CachedTextEncoder(encoder)
        self.anchors: PromptAnchors | None = None
        if arrays.anchor_embeddings is not None:
            if arrays.anchor_embeddings.shape[1] != encoder.dim:
                raise CheckpointError(f"{self.checkpoint}: prompt anchors have {arrays.anchor_embeddings.shape[1]} "
                                      f"numbers per caption, the text encoder gives {encoder.dim}")
            bank = arrays.anchor_embeddings / np.linalg.norm(arrays.anchor_embeddings, axis=1, keepdims=True)
            self.anchors = PromptAnchors(meta.anchor_texts, bank.astype(np.float32), arrays.anchor_role_counts,
                                         meta.anchor_groups, arrays.anchor_tokens)

    def encode_prompts(self, prompts: list[str], roles: list[tuple[str, ...]], anchor: bool = True) -> EncodedPrompts:
        """B prompts and their requests' roles -> :class:`EncodedPrompts` (the embeddings to
        condition on and what the anchoring understood of each prompt)."""
        if not anchor or self.anchors is None:
            return EncodedPrompts(self.text_encoder.encode(prompts).to("cpu", torch.float32), [[] for _ in prompts],
                                  [None for _ in prompts], [False for _ in prompts], [None for _ in prompts],
                                  [None for _ in prompts], [None for _ in prompts])
        anchored = self.anchor_prompts(prompts, roles)
        reaching = [reaching_persons(r) if group in TOUCH_SCRIPTS else None
                    for group, r in zip(anchored.groups, roles)]
        in_bed = [group in IN_BED_SCRIPTS for group in anchored.groups]
        seated = [sitting_persons(r) if group in ON_CHAIR_SCRIPTS else None for group, r in zip(anchored.groups, roles)]
        bed_sitters = [sitting_persons(r) if group in ON_BED_EDGE_SCRIPTS else None
                       for group, r in zip(anchored.groups, roles)]
        walkers = [walking_persons(r) if group in WALKING_SCRIPTS else None for group, r in zip(anchored.groups, roles)]
        return EncodedPrompts(anchored.embeddings, anchored.interpretation, reaching, in_bed, seated, bed_sitters,
                              walkers, list(anchored.groups))

    def anchor_prompts(self, prompts: list[str], roles: list[tuple[str, ...]], by_tokens: bool = True) -> Anchored:
        """B prompts mapped onto the checkpoint's anchors (``text.anchors``), the group vote on
        token alignment when the checkpoint ships a token bank and ``by_tokens``, else on sentence
        embeddings. Needs anchors (ValueError naming the checkpoint otherwise)."""
        if self.anchors is None:
            raise ValueError(f"{self.checkpoint}: the checkpoint has no prompt anchors")
        text = self.text_encoder.encode(prompts).to("cpu", torch.float32)
        tokens = None
        if by_tokens and self.anchors.tokens is not None and self.text_encoder.encode_tokens is not None:
            tokens = self.text_encoder.encode_tokens(prompts)
        return anchor_prompts(self.anchors, text, roles, prompt_tokens=tokens)

    @property
    def fps(self) -> float:
        """The frame rate the checkpoint generates at."""
        return self.meta.fps

    @property
    def max_frames(self) -> int:
        """The longest clip, in frames at ``fps``."""
        return min(self.meta.max_frames, self.denoiser.config.max_frames)

    def frames_for(self, request: GenerationRequest) -> int:
        """T = round(seconds x checkpoint fps), checked against the checkpoint's limits."""
        frames = round(request.seconds * self.fps)
        if frames > self.max_frames:
            longest = self.max_frames / self.fps
            raise GenerationError(
                f"{request.seconds:g} s is too long for this checkpoint: {frames} frames at {self.fps:g} fps, "
                f"it generates at most {self.max_frames} frames ({longest:g} s); ask for {longest:g} s or less"
            )
        if frames < 1:
            raise GenerationError(f"{request.seconds:g} s is shorter than one frame at {self.fps:g} fps")
        persons = len(request.roles)
        if persons > self.denoiser.config.max_persons:
            raise GenerationError(
                f"{persons} persons requested; this checkpoint handles at most {self.denoiser.config.max_persons}"
            )
        return frames

    def prepare(self, request: GenerationRequest) -> SamplingInputs:
        """Steps 1-3 of the module doc: frames, text, conditions, person ids and x_T."""
        # 1. Frames at the checkpoint's rate, within its limits.
        frames = self.frames_for(request)
        generator = torch.Generator().manual_seed(int(request.seed))  # CPU: same numbers on any device
        # 2. The prompt through the checkpoint's own encoder. Conditions are built on the CPU
        # (ids, masks) and moved to the device as a whole.
        encoded = EncodedPrompts(None, [[]], [None], [False], [None], [None], [None])
        if request.prompt.strip():
            encoded = self.encode_prompts([request.prompt], [request.roles], request.anchor_prompt)
        scenes = None
        config = self.denoiser.config
        if request.scene_points is not None and config.use_scene:
            points = torch.as_tensor(request.scene_points, dtype=torch.float32)
            scene_generator = torch.Generator().manual_seed(int(request.seed))
            scenes = [scene_tokens(points, config.scene_groups, scene_generator, config.scene_group_size)]
        # 3. Person ids without replacement, then x_T, from the request's generator.
        cond = build_conditioning(
            [request.roles], [frames], frames, config.max_persons, generator, text=encoded.embeddings, scenes=scenes
        )
        # Guidance pushes along the text only: the unconditional branch keeps persons and scene.
        uncond = cond.unconditional(drop_scene=False)
        shape = (1, len(request.roles), frames, config.feature_dim)
        x_T = torch.randn(shape, generator=generator, dtype=torch.float32)
        return SamplingInputs(x_T=x_T, cond=cond, uncond=uncond, generator=generator, frames=frames,
                              understood_as=tuple(encoded.interpretation[0]),
                              reaching=encoded.reaching[0] if request.hand_contact else None,
                              in_bed=encoded.in_bed[0], seated=encoded.seated[0],
                              bed_sitters=encoded.bed_sitters[0], walkers=encoded.walkers[0],
                              action=encoded.actions[0] if encoded.actions else None)

    def generate(self, request: GenerationRequest, callback: ProgressCallback | None = None) -> GenerationResult:
        """Run one request (module doc, steps 1-6).

        callback(step, total) after every sampler step, step = steps finished; returning True
        stops before the next model call and raises ``SamplingCancelled``.
        """
        started = time.perf_counter()
        inputs = self.prepare(request)
        # 4. One batched conditional + unconditional forward per step (eq. 3.21).
        model = classifier_free_guidance(
            self.denoiser, inputs.cond.to(self.device), inputs.uncond.to(self.device), request.guidance
        )
        # People kept apart, out of the furniture, laid onto the bed when the prompt is about
        # lying in bed, and their bodies out of each other's (diffusion/corrections.py).
        corrections = Corrections.for_scenes(
            self.stats.mean, self.stats.std, torch.ones(1, len(request.roles), dtype=torch.bool, device=self.device),
            [request.scene_points] if self.denoiser.config.use_scene else None,
            rest_joints=self.rest_joints, fps=self.fps, in_bed=[inputs.in_bed], seated=[inputs.seated],
            bed_sitters=[inputs.bed_sitters], walkers=[inputs.walkers], roles=[request.roles],
            smoothing_s=float(request.smoothing_s))
        model = corrections.wrap(model)
        ran = [0]

        def on_step(index: int, total: int, timestep: int, x: Tensor, x0: Tensor) -> bool:
            ran[0] = index + 1
            return bool(callback(index + 1, total)) if callback is not None else False

        # 5. The sampler, over the checkpoint's schedule.
        with torch.inference_mode():
            x0 = sample(
                request.sampler, model, inputs.x_T.to(self.device), int(request.steps),
                generator=inputs.generator, callback=on_step, schedule=self.schedule,
            )
            x0 = corrections.finish(x0)  # the shake filtered, shallow overlaps the last rounds left
        # 6. De-normalise, decode each person, resample to the requested rate.
        motions = self.decode(x0[0].to("cpu", torch.float32).numpy(), request.roles, inputs.reaching)
        fps = self.fps if request.fps is None else float(request.fps)
        if fps != self.fps:
            motions = [resample(motion, fps) for motion in motions]
        joints = np.stack([motion_joints(motion, self.rest_joints) for motion in motions])
        return GenerationResult(
            motions=motions,
            joints=joints,
            fps=fps,
            seconds_taken=time.perf_counter() - started,
            steps=ran[0],
            sampler=request.sampler,
            device=str(self.device),
            checkpoint=self.checkpoint,
            understood_as=inputs.understood_as,
            hands_placed=inputs.reaching is not None and any(inputs.reaching),
            caveat=action_caveat(self.meta.evaluation, inputs.action),
        )

    def decode(self, normalized: np.ndarray, roles: tuple[str, ...], reaching: tuple[bool, ...] | None = None
               ) -> list[Motion]:
        """(P, T, F) normalised features -> P Motions at the checkpoint fps, on its rest joints:
        the predicted rotations on the grounded pelvis path, feet planted, the ``reaching``
        persons' hands on the others (``motion.decode``)."""
        features = self.stats.denormalize(normalized.astype(np.float64))
        return decode_generated(features, self.rest_joints, self.fps, roles, reaching)


def motion_joints(motion: Motion, rest_joints: np.ndarray) -> np.ndarray:
    """(T, 22, 3) float64 world joint positions, metres, Z-up: SMPL FK of ``motion`` on ``rest_joints`` (24, 3)."""
    _, joints = forward_kinematics(motion.local_rotations(), np.asarray(rest_joints, np.float64), motion.transl)
    return joints[:, :NUM_BODY_JOINTS]


def load_generator(
    checkpoint_path: str | os.PathLike, device: Device = "auto", clip_weights_path: str | None = None
) -> Generator:
    """A warm Generator, cached per (checkpoint file, its modification times, device, CLIP weights).

    A checkpoint replaced on disk (new mtime) is loaded again; errors are never cached.
    """
    resolved = resolve_device(device)
    weights, metadata = checkpoint_paths(checkpoint_path)
    try:
        stamp = (weights.stat().st_mtime_ns, metadata.stat().st_mtime_ns)
    except OSError:
        return Generator(weights, str(resolved.type), clip_weights_path)  # raises the clear CheckpointError
    return _cached_generator(str(weights.resolve()), stamp, str(resolved.type), clip_weights_path)


def clear_generator_cache() -> None:
    """Forget warm generators (frees their memory)."""
    _cached_generator.cache_clear()


@functools.lru_cache(maxsize=2)
def _cached_generator(path: str, stamp: tuple[int, int], device: str, clip_weights_path: str | None) -> Generator:
    del stamp  # part of the key only
    return Generator(path, device, clip_weights_path)  # type: ignore[arg-type]


def _check_compatible(meta, where: str) -> None:
    """The representation and diffusion this module knows how to sample, else CheckpointError."""
    if meta.representation != REPRESENTATION or meta.feature_dim != FEATURE_DIM:
        raise CheckpointError(
            f"{where}: representation {meta.representation!r} with {meta.feature_dim} features; "
            f"this version samples {REPRESENTATION!r} with {FEATURE_DIM}"
        )
    diffusion = meta.diffusion
    if diffusion.get("schedule") != "cosine" or diffusion.get("prediction") != "x0":
        raise CheckpointError(
            f"{where}: 'diffusion' {diffusion} is not a cosine-schedule x0-prediction model"
        )
    if not isinstance(diffusion.get("num_steps"), int) or diffusion["num_steps"] < 2 or "s" not in diffusion:
        raise CheckpointError(f"{where}: 'diffusion' needs integer num_steps >= 2 and s, got {diffusion}")


def _positive(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and (
        math.isfinite(value) and value > 0
    )

