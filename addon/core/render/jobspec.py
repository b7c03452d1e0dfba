"""The batch-render job file (TOML) as frozen dataclasses, validated with errors naming the key.

A job file lists scenes, prompts and how to film them; :mod:`.manifest` expands it into one job
per (scene, prompt, variation, camera) and resolves every random choice. Relative paths are
relative to the job file's folder. ``docs/batch_rendering.md`` documents every key; the
shortest valid file is one ``[[scenes]]`` and one ``[[prompts]]`` table::

    [[scenes]]
    name = "sample"
    bundle = "../addon/assets/sample_reconstruction.npz"

    [[prompts]]
    name = "help_up"
    text = "a nurse helps a patient who fell get up"
    roles = ["staff", "patient"]
    label = "help_up"

Errors read ``jobs.toml: key 'cameras.lens': 'fisheye' renders only with engine 'cycles' ...``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..labels import ACTIONS
from ..generation_settings import DEFAULT_GUIDANCE, DEFAULT_SMOOTHING_S, MAX_SMOOTHING_S
from ..motion.motion import ROLES
from .jobspec_avatars import BUILTIN_AVATARS, AvatarSpec, avatars_for, parse_avatar
from .toml_table import JobSpecError, Table

__all__ = [
    "AvatarSpec", "BUILTIN_AVATARS", "ENGINES", "LENSES", "SCENE_KINDS", "CameraSpec", "ClipSpec", "EngineSpec", "GenerationSpec",
    "JobSpec", "JobSpecError", "OutputSpec", "PromptSpec", "RandomizeSpec", "SceneSpec", "SplitSpec",
    "load_job_spec", "parse_job_spec",
]

SceneKind = Literal["bundle", "blend", "procedural"]
Engine = Literal["workbench", "eevee", "cycles"]
LensKind = Literal["pinhole", "fisheye"]
SCENE_KINDS: tuple[str, ...] = ("bundle", "blend", "procedural")
ENGINES: tuple[str, ...] = ("workbench", "eevee", "cycles")
LENSES: tuple[str, ...] = ("pinhole", "fisheye")
PROCEDURAL_ROOMS: tuple[str, ...] = ("care_room",)
SAMPLERS: tuple[str, ...] = ("ddpm", "ddim", "dpmpp_2m")
PROMPT_SOURCES: tuple[str, ...] = ("generate", "recorded")
DEVICES: tuple[str, ...] = ("auto", "cuda", "cpu")
SPLITS: tuple[str, ...] = ("train", "val", "test")
WORKBENCH_AA: tuple[str, ...] = ("OFF", "FXAA", "5", "8", "11", "16", "32")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")


@dataclass(frozen=True)
class SceneSpec:
    """One room to film. path: the bundle (.npz) or .blend, absolute; "" for procedural rooms.

    anchor: (x, y) metres, world: where the people's mean starting position is moved
    (None: where the model put them). split: every clip of the scene goes there (None: by seed).
    room_min, room_max: (x, y) metres, the floor area for ceiling-corner cameras; ceiling_height:
    metres. None: taken from the bundle's points or the procedural room (required for .blend files
    that use ceiling-corner cameras).
    """

    name: str
    kind: SceneKind
    path: str
    procedural: str = ""
    anchor: tuple[float, float] | None = None
    split: str | None = None
    room_min: tuple[float, float] | None = None
    room_max: tuple[float, float] | None = None
    ceiling_height: float | None = None


@dataclass(frozen=True)
class PromptSpec:
    """One interaction. roles: one per person; label: the clip's class (one of ``ACTIONS``);
    person_labels: each person's per-frame action (default: the clip label for everyone);
    variations: how many different motions (seeds) to generate from it.

    source: "generate" (the model, from ``text`` and ``roles``) or "recorded" (a bundle scene's own
    reconstructed people, with their roles and per-frame actions; new cameras and looks per
    variation). A recorded prompt needs no text, roles or person_labels.
    """

    name: str
    text: str
    roles: tuple[str, ...]
    label: str
    person_labels: tuple[str, ...]
    variations: int = 1
    source: str = "generate"


@dataclass(frozen=True)
class ClipSpec:
    """seconds: clip length; fps: frames per second (10, like the monitoring camera);
    width, height: pixels."""

    seconds: float = 10.0
    fps: float = 10.0
    width: int = 320
    height: int = 240

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * self.fps))


@dataclass(frozen=True)
class GenerationSpec:
    """checkpoint: a .safetensors path ("" = the bundled one); the rest as GenerationRequest.
    device: "cpu" (default) or "cuda", never unresolved: a data set's motions must not depend on
    which node rendered a clip, and CPU generation is bit-exact on every machine (one torch
    thread); "cuda" is faster and reproducible only on the same GPU and software. scene_aware:
    give the model the room's points (bundle scenes). hand_contact: helpers' hands
    on the other person where the prompt implies touch (``motion.hand_contact``). smoothing_s:
    the time filter on the sampled motion, seconds (0: none; ``diffusion.temporal_smoothing``)."""

    checkpoint: str = ""
    sampler: str = "dpmpp_2m"
    steps: int = 10
    guidance: float = DEFAULT_GUIDANCE
    device: str = "cpu"
    scene_aware: bool = True
    hand_contact: bool = True
    smoothing_s: float = DEFAULT_SMOOTHING_S


@dataclass(frozen=True)
class CameraSpec:
    """Which cameras film each variation: the recorded one, ``jittered`` copies of it and
    ``ceiling_corners`` random ceiling-corner placements. lens: pinhole or fisheye (equidistant,
    ``fisheye_fov_deg`` across the image circle; Cycles only, square images only)."""

    recorded: bool = True
    jittered: int = 0
    ceiling_corners: int = 0
    lens: LensKind = "pinhole"
    fisheye_fov_deg: float = 180.0
    jitter_position_m: float = 0.10
    jitter_rotation_deg: float = 3.0
    corner_fov_deg: tuple[float, float] = (75.0, 95.0)

    @property
    def count(self) -> int:
        return int(self.recorded) + self.jittered + self.ceiling_corners


@dataclass(frozen=True)
class EngineSpec:
    """name: workbench (fast, default), eevee or cycles; samples: EEVEE/Cycles samples per pixel;
    denoise: Cycles' OpenImageDenoise; threads: render threads (0 = all cores); workbench_aa:
    Workbench's anti-aliasing ("FXAA" is 4-6x faster than 8 samples on a CPU)."""

    name: Engine = "workbench"
    samples: int = 16
    denoise: bool = False
    threads: int = 0
    workbench_aa: str = "FXAA"


@dataclass(frozen=True)
class RandomizeSpec:
    """Domain randomisation; each switch draws per clip, recorded in the manifest.

    lights: light colour, power and position (EEVEE/Cycles) or the studio light's rotation
    (Workbench). materials: floor and wall colours. clothing: shirt/trousers colours.
    body_shapes: betas ~ N(0, body_shape_std). avatars: bodies to draw from (built-in names and the
    job file's [[avatars]]). camera_noise: [min, max]
    standard deviation of additive Gaussian sensor noise, fraction of full scale. motion_blur:
    EEVEE/Cycles motion blur with a shutter drawn from motion_blur_shutter (frames).
    """

    lights: bool = True
    materials: bool = True
    clothing: bool = True
    body_shapes: bool = True
    body_shape_std: float = 1.0
    avatars: tuple[str, ...] = ("standin",)
    camera_noise: tuple[float, float] = (0.0, 0.0)
    motion_blur: bool = False
    motion_blur_shutter: tuple[float, float] = (0.3, 0.7)


@dataclass(frozen=True)
class OutputSpec:
    """What each clip writes besides annotations.json: rgb (video.mp4), png_frames (frames/),
    and the privacy-minded videos skeleton.mp4, depth.mp4, silhouette.mp4."""

    rgb: bool = True
    png_frames: bool = False
    skeleton: bool = False
    depth: bool = False
    silhouette: bool = False

    @property
    def videos(self) -> tuple[str, ...]:
        return tuple(name for name in ("rgb", "skeleton", "depth", "silhouette") if getattr(self, name))


@dataclass(frozen=True)
class SplitSpec:
    """Fractions of motion groups (scene, prompt, variation) per split; they sum to 1."""

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1


@dataclass(frozen=True)
class JobSpec:
    """A whole job file. path: where it was read from (absolute)."""

    path: str
    name: str
    base_seed: int
    body_model_dir: str
    scenes: tuple[SceneSpec, ...]
    prompts: tuple[PromptSpec, ...]
    clip: ClipSpec = field(default_factory=ClipSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    cameras: CameraSpec = field(default_factory=CameraSpec)
    engine: EngineSpec = field(default_factory=EngineSpec)
    randomize: RandomizeSpec = field(default_factory=RandomizeSpec)
    outputs: OutputSpec = field(default_factory=OutputSpec)
    splits: SplitSpec = field(default_factory=SplitSpec)
    avatars: tuple[AvatarSpec, ...] = ()


def load_job_spec(path: str | Path) -> JobSpec:
    """Read and validate a job file; every problem raises JobSpecError naming the file and key."""
    path = Path(path).resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobSpecError(f"{path}: job file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise JobSpecError(f"{path}: not valid TOML ({error})") from None
    return parse_job_spec(raw, path)


def parse_job_spec(raw: dict, path: Path) -> JobSpec:
    """Validate a parsed TOML document read from ``path`` (used for messages and relative paths)."""
    top = Table(raw, path, "")
    base = path.parent
    dataset = top.table("dataset")
    name = _name(dataset, "name", path.stem if _NAME.match(path.stem) else "dataset")
    base_seed = dataset.integer("base_seed", 0, 0, 2**63 - 1)
    body_model_dir = dataset.string("body_model_dir", "")
    if body_model_dir:
        body_model_dir = str(_resolve(base, body_model_dir))
    dataset.finish()

    scenes = tuple(_scene(t, base) for t in top.tables("scenes"))
    _unique(top, "scenes", [s.name for s in scenes])
    prompts = tuple(_prompt(t) for t in top.tables("prompts"))
    _unique(top, "prompts", [p.name for p in prompts])
    clip = _clip(top.table("clip"))
    generation = _generation(top.table("generation"), base)
    engine = _engine(top.table("engine"))
    cameras = _cameras(top.table("cameras"), engine, clip)
    avatars = tuple(parse_avatar(t, _name(t, "name", None), lambda value: _resolve(base, value))
                    for t in (top.tables("avatars") if "avatars" in top else []))
    _unique(top, "avatars", [a.name for a in avatars])
    randomize = _randomize(top.table("randomize"), engine, body_model_dir, tuple(a.name for a in avatars))
    outputs = _outputs(top.table("outputs"))
    splits = _splits(top.table("splits"))
    top.finish()
    spec = JobSpec(
        path=str(path), name=name, base_seed=base_seed, body_model_dir=body_model_dir, scenes=scenes,
        prompts=prompts, clip=clip, generation=generation, cameras=cameras, engine=engine,
        randomize=randomize, outputs=outputs, splits=splits, avatars=avatars,
    )
    for index, prompt in enumerate(prompts):
        other = next((scene for scene in scenes if scene.kind != "bundle"), None)
        if prompt.source == "recorded" and other is not None:
            raise JobSpecError(f"{path}: key 'prompts[{index}].source': 'recorded' takes the people of bundle "
                               f"scenes, and scene {other.name!r} is {other.kind}")
    for index, prompt in enumerate(prompts):
        for role in prompt.roles:
            if not avatars_for(role, randomize.avatars, avatars):
                raise JobSpecError(f"{path}: key 'randomize.avatars': no avatar listed may play role {role!r} "
                                   f"(prompts[{index}]); list one whose [[avatars]] roles include it, or a built-in body")
    for index, scene in enumerate(scenes):
        if scene.kind == "blend" and cameras.ceiling_corners and (scene.room_min is None or scene.room_max is None
                                                                   or scene.ceiling_height is None):
            raise JobSpecError(
                f"{path}: key 'scenes[{index}].room_min': ceiling-corner cameras in a .blend scene need "
                "room_min, room_max and ceiling_height (the room's floor area and height, metres)"
            )
    return spec


def _scene(table: Table, base: Path) -> SceneSpec:
    name = _name(table, "name", None)
    given = [kind for kind in SCENE_KINDS if kind in table]
    if len(given) != 1:
        table.fail("bundle", f"give exactly one of {list(SCENE_KINDS)}, got {given or 'none'}")
    kind = given[0]
    path, procedural = "", ""
    if kind == "procedural":
        procedural = table.choice("procedural", None, PROCEDURAL_ROOMS)
    else:
        resolved = _resolve(base, table.string(kind, None))
        suffix = ".npz" if kind == "bundle" else ".blend"
        if resolved.suffix.lower() != suffix:
            table.fail(kind, f"expected a {suffix} file, got {resolved.name!r}")
        if not resolved.is_file():
            table.fail(kind, f"file not found: {resolved}")
        path = str(resolved)
    anchor = table.numbers("anchor", None, 2) if "anchor" in table else None
    split = table.choice("split", None, SPLITS) if "split" in table else None
    room_min = table.numbers("room_min", None, 2) if "room_min" in table else None
    room_max = table.numbers("room_max", None, 2) if "room_max" in table else None
    if room_min is not None and room_max is not None and not all(a < b for a, b in zip(room_min, room_max)):
        table.fail("room_max", f"must exceed room_min in x and y, got {list(room_min)} .. {list(room_max)}")
    height = table.number("ceiling_height", None, 1.5, 10.0) if "ceiling_height" in table else None
    table.finish()
    return SceneSpec(name=name, kind=kind, path=path, procedural=procedural, anchor=anchor,  # type: ignore[arg-type]
                     split=split, room_min=room_min, room_max=room_max, ceiling_height=height)


def _prompt(table: Table) -> PromptSpec:
    name = _name(table, "name", None)
    source = table.choice("source", "generate", PROMPT_SOURCES)
    recorded = source == "recorded"
    text = table.string("text", "" if recorded else None)
    roles = table.strings("roles", () if recorded else None, ROLES)
    if not recorded and not 1 <= len(roles) <= 4:
        table.fail("roles", f"give 1 to 4 roles, got {len(roles)}")
    if recorded and roles:
        table.fail("roles", "a recorded prompt takes the bundle's own people and roles; leave roles out")
    label = table.choice("label", None, ACTIONS)
    person_labels = table.strings("person_labels", tuple(label for _ in roles), ACTIONS)
    if len(person_labels) != len(roles):
        table.fail("person_labels", f"give one label per role ({len(roles)}), got {len(person_labels)}")
    variations = table.integer("variations", 1, 1, 100_000)
    table.finish()
    return PromptSpec(name=name, text=text, roles=roles, label=label, person_labels=person_labels,
                      variations=variations, source=source)


def _clip(table: Table) -> ClipSpec:
    spec = ClipSpec(
        seconds=table.number("seconds", 10.0, 0.1, 600.0),
        fps=table.number("fps", 10.0, 1.0, 120.0),
        width=table.integer("width", 320, 16, 8192),
        height=table.integer("height", 240, 16, 8192),
    )
    if spec.width % 2 or spec.height % 2:
        table.fail("width", f"H.264 needs even sizes, got {spec.width} x {spec.height}")
    table.finish()
    return spec


def _generation(table: Table, base: Path) -> GenerationSpec:
    checkpoint = table.string("checkpoint", "")
    if checkpoint:
        resolved = _resolve(base, checkpoint)
        if not resolved.is_file():
            table.fail("checkpoint", f"file not found: {resolved}")
        checkpoint = str(resolved)
    spec = GenerationSpec(
        checkpoint=checkpoint,
        sampler=table.choice("sampler", "dpmpp_2m", SAMPLERS),
        steps=table.integer("steps", 10, 1, 10_000),
        guidance=table.number("guidance", DEFAULT_GUIDANCE, 0.0, 50.0),
        device=_device(table.choice("device", "cpu", DEVICES)),
        scene_aware=table.boolean("scene_aware", True),
        hand_contact=table.boolean("hand_contact", True),
        smoothing_s=table.number("smoothing_s", DEFAULT_SMOOTHING_S, 0.0, MAX_SMOOTHING_S),
    )
    table.finish()
    return spec


def _device(value: str) -> str:
    """"auto" (the interactive default) would pick a GPU on one node and the CPU on another, so
    in a job file it means the reproducible choice: "cpu". "cuda" stays as asked."""
    return "cpu" if value == "auto" else value


def _engine(table: Table) -> EngineSpec:
    spec = EngineSpec(
        name=table.choice("name", "workbench", ENGINES),  # type: ignore[arg-type]
        samples=table.integer("samples", 16, 1, 65_536),
        denoise=table.boolean("denoise", False),
        threads=table.integer("threads", 0, 0, 1024),
        workbench_aa=table.choice("workbench_aa", "FXAA", WORKBENCH_AA),
    )
    if spec.denoise and spec.name != "cycles":
        table.fail("denoise", f"denoising is a Cycles setting; engine is {spec.name!r}")
    table.finish()
    return spec


def _cameras(table: Table, engine: EngineSpec, clip: ClipSpec) -> CameraSpec:
    spec = CameraSpec(
        recorded=table.boolean("recorded", True),
        jittered=table.integer("jittered", 0, 0, 1000),
        ceiling_corners=table.integer("ceiling_corners", 0, 0, 1000),
        lens=table.choice("lens", "pinhole", LENSES),  # type: ignore[arg-type]
        fisheye_fov_deg=table.number("fisheye_fov_deg", 180.0, 10.0, 360.0),
        jitter_position_m=table.number("jitter_position_m", 0.10, 0.0, 5.0),
        jitter_rotation_deg=table.number("jitter_rotation_deg", 3.0, 0.0, 45.0),
        corner_fov_deg=table.range_pair("corner_fov_deg", (75.0, 95.0), 10.0, 170.0),
    )
    if spec.count == 0:
        table.fail("recorded", "no camera: set recorded = true, jittered >= 1 or ceiling_corners >= 1")
    if spec.lens == "fisheye" and engine.name != "cycles":
        table.fail("lens", f"'fisheye' renders only with engine 'cycles' (EEVEE and Workbench draw a plain "
                           f"perspective view); engine is {engine.name!r}")
    if spec.lens == "fisheye" and clip.width != clip.height:
        # Cycles scales the image circle to the width and the height separately: an ellipse.
        table.fail("lens", f"'fisheye' needs a square image ([clip] width = height); Cycles would stretch its "
                           f"image circle into an ellipse at {clip.width} x {clip.height}")
    table.finish()
    return spec


def _randomize(table: Table, engine: EngineSpec, body_model_dir: str, own: tuple[str, ...]) -> RandomizeSpec:
    spec = RandomizeSpec(
        lights=table.boolean("lights", True),
        materials=table.boolean("materials", True),
        clothing=table.boolean("clothing", True),
        body_shapes=table.boolean("body_shapes", True),
        body_shape_std=table.number("body_shape_std", 1.0, 0.0, 3.0),
        avatars=table.strings("avatars", ("standin",), BUILTIN_AVATARS + own),
        camera_noise=table.range_pair("camera_noise", (0.0, 0.0), 0.0, 0.5),
        motion_blur=table.boolean("motion_blur", False),
        motion_blur_shutter=table.range_pair("motion_blur_shutter", (0.3, 0.7), 0.01, 2.0),
    )
    if not spec.avatars:
        table.fail("avatars", "give at least one avatar")
    if any(a in BUILTIN_AVATARS and a.startswith("smpl") for a in spec.avatars) and not body_model_dir:
        table.fail("avatars", "SMPL avatars need [dataset] body_model_dir (a folder with your licensed SMPL files)")
    if spec.motion_blur and engine.name == "workbench":
        table.fail("motion_blur", "Workbench renders no motion blur; use engine 'eevee' or 'cycles'")
    table.finish()
    return spec


def _outputs(table: Table) -> OutputSpec:
    spec = OutputSpec(
        rgb=table.boolean("rgb", True),
        png_frames=table.boolean("png_frames", False),
        skeleton=table.boolean("skeleton", False),
        depth=table.boolean("depth", False),
        silhouette=table.boolean("silhouette", False),
    )
    if not spec.videos:
        table.fail("rgb", "no video to write: enable rgb, skeleton, depth or silhouette")
    table.finish()
    return spec


def _splits(table: Table) -> SplitSpec:
    spec = SplitSpec(
        train=table.number("train", 0.8, 0.0, 1.0),
        val=table.number("val", 0.1, 0.0, 1.0),
        test=table.number("test", 0.1, 0.0, 1.0),
    )
    if abs(spec.train + spec.val + spec.test - 1.0) > 1e-6:
        table.fail("train", f"train + val + test must be 1, got {spec.train + spec.val + spec.test:g}")
    table.finish()
    return spec


def _name(table: Table, key: str, default: str | None) -> str:
    value = table.string(key, default)
    if not _NAME.match(value):
        table.fail(key, f"use 1-48 letters, digits, '_' or '-' (it names files), got {value!r}")
    return value


def _unique(table: Table, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise JobSpecError(f"{table.file}: key '{key}[{index}].name': {name!r} is used twice")
        seen.add(name)


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()
