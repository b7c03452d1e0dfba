"""Expand a job spec into jobs and resolve every random choice into a JSON manifest.

One job = (scene, prompt, variation, camera). Its key reads ``scene/prompt/v003/corner01`` and
its clip id ``scene.prompt.v003.corner01``: names may hold "-" and "_" but never ".", so the id
tells every job apart (``ward-a`` + ``talk`` and ``ward`` + ``a-talk`` stay two clips). Seeds
are a stable hash of the base seed and a key (SHA-256, as SURREAL seeds from ``sha1(job)``),
never Python's salted ``hash``:

* ``motion_seed`` = H(base, "scene/prompt/v003"): the generated motion and everything about the
  people and the room's look (body shapes, avatars, clothing, lights, floor and wall colours), so
  the cameras of one variation film the same event;
* ``seed`` = H(base, job key): the camera placement, sensor noise and motion-blur shutter.

Everything drawn is written into the job, so rendering a clip again from its manifest entry
reproduces it; the renderer draws nothing itself except the sensor noise, seeded by ``seed``.
Splits go by motion group (scene, prompt, variation): all cameras of one motion land in one split,
so no motion leaks between train and test; a scene may pin its split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from ..camera import OPENCV_TO_BLENDER_CAMERA, look_at
from ..labels import ACTIONS, ACTION_INDEX
from ..files import atomic_write
from .jobspec import JobSpec, SceneSpec
from .jobspec_avatars import avatars_for
from .lens import Lens, pinhole_lens
from .scenes import SceneInfo, scene_info
from .toml_table import JobSpecError

FORMAT = "isynth-render-manifest"
VERSION = 2  # 2: clip ids joined by "." (were "-"), the scene's room keys, a resolved device
SEED_BITS = 63

# Palettes (linear RGB). Staff wear scrubs, patients gowns; anyone else anything.
_CLOTHING = {
    "staff": [(0.02, 0.05, 0.2), (0.02, 0.2, 0.2), (0.05, 0.25, 0.1), (0.25, 0.45, 0.7), (0.8, 0.8, 0.8)],
    "patient": [(0.55, 0.7, 0.85), (0.85, 0.85, 0.85), (0.7, 0.8, 0.65), (0.8, 0.7, 0.75)],
    "person": [(0.6, 0.1, 0.08), (0.1, 0.1, 0.1), (0.3, 0.25, 0.15), (0.5, 0.5, 0.1), (0.2, 0.3, 0.6)],
}
_TROUSERS = [(0.02, 0.02, 0.05), (0.1, 0.1, 0.12), (0.2, 0.15, 0.1), (0.05, 0.1, 0.25)]
_SKIN = [(0.8, 0.55, 0.42), (0.62, 0.4, 0.28), (0.42, 0.25, 0.15), (0.25, 0.13, 0.07), (0.9, 0.68, 0.55)]
_FLOORS = [(0.45, 0.42, 0.38), (0.3, 0.28, 0.25), (0.55, 0.5, 0.4), (0.35, 0.38, 0.4), (0.25, 0.18, 0.12)]
_WALLS = [(0.85, 0.85, 0.82), (0.8, 0.78, 0.65), (0.7, 0.8, 0.72), (0.7, 0.77, 0.85), (0.9, 0.88, 0.85)]
DEFAULT_FLOOR = (0.55, 0.52, 0.48)
DEFAULT_WALL = (0.85, 0.86, 0.82)


def stable_seed(base_seed: int, key: str) -> int:
    """A 63-bit seed from SHA-256 of ``"<base_seed>:<key>"``: the same on every machine and run."""
    digest = hashlib.sha256(f"{int(base_seed)}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


def stable_uniform(base_seed: int, key: str) -> float:
    """A number in [0, 1) from the same hash (used for split assignment)."""
    return stable_seed(base_seed, key) / float(2**SEED_BITS)


def camera_names(spec: JobSpec) -> list[str]:
    """``recorded``, ``jitter01`` ..., ``corner01`` ... in that order."""
    cameras = spec.cameras
    names = ["recorded"] if cameras.recorded else []
    names += [f"jitter{i + 1:02d}" for i in range(cameras.jittered)]
    names += [f"corner{i + 1:02d}" for i in range(cameras.ceiling_corners)]
    return names


def job_keys(spec: JobSpec) -> list[str]:
    """Every job key of a spec, sorted (the order shards partition)."""
    return sorted(
        f"{scene.name}/{prompt.name}/v{variation:03d}/{camera}"
        for scene in spec.scenes
        for prompt in spec.prompts
        for variation in range(prompt.variations)
        for camera in camera_names(spec)
    )


def clip_id_of(key: str) -> str:
    """The folder name of a job's clip: the key's parts joined by "." (no name holds one)."""
    return key.replace("/", ".")


def build_manifest(spec: JobSpec) -> dict:
    """The manifest of a job spec: format, the spec, and one fully resolved job per key.

    Raises JobSpecError naming ``scenes[i].bundle`` when a scene's file cannot be read, and
    ValueError if two jobs would share a clip folder.
    """
    scenes = {scene.name: scene for scene in spec.scenes}
    prompts = {prompt.name: prompt for prompt in spec.prompts}
    infos = {scene.name: _scene_info(spec, index, scene) for index, scene in enumerate(spec.scenes)}
    jobs = []
    for key in job_keys(spec):
        scene_name, prompt_name, variation, camera = key.split("/")
        jobs.append(_job(spec, scenes[scene_name], infos[scene_name], prompts[prompt_name], variation, camera, key))
    _check_unique_clip_ids(jobs)
    return {
        "format": FORMAT,
        "version": VERSION,
        "dataset": spec.name,
        "job_file": spec.path,
        "base_seed": spec.base_seed,
        "labels": list(ACTIONS),
        "spec": _plain(dataclasses.asdict(spec)),
        "jobs": jobs,
    }


def _scene_info(spec: JobSpec, index: int, scene: SceneSpec) -> SceneInfo:
    """scene_info, with a bundle that cannot be read reported as the job file's key (exit code 2)."""
    if scene.kind != "bundle":
        return scene_info(scene)  # procedural rooms read no file; a .blend is read inside Blender
    try:
        return scene_info(scene)
    except Exception as error:  # noqa: BLE001  (BundleError, and what a truncated zip raises: BadZipFile, zlib.error)
        raise JobSpecError(f"{spec.path}: key 'scenes[{index}].bundle': {scene.path} is not a usable reconstruction "
                           f"bundle ({type(error).__name__}: {error})") from None


def _check_unique_clip_ids(jobs: list[dict]) -> None:
    """Two jobs in one clip folder would overwrite each other and miscount a resume."""
    seen: dict[str, str] = {}
    for job in jobs:
        other = seen.setdefault(job["clip_id"], job["key"])
        if other != job["key"]:
            raise ValueError(f"jobs {other!r} and {job['key']!r} share the clip id {job['clip_id']!r}")


def _job(spec: JobSpec, scene: SceneSpec, info: SceneInfo, prompt, variation: str, camera: str, key: str) -> dict:
    group = f"{scene.name}/{prompt.name}/{variation}"
    motion_seed = stable_seed(spec.base_seed, group)
    seed = stable_seed(spec.base_seed, key)
    look = np.random.default_rng(motion_seed)  # the variation's look: people, lights, room colours
    view = np.random.default_rng(seed)  # this clip's camera and sensor
    randomize = spec.randomize
    recorded = prompt.source == "recorded"
    roles = list(info.roles) if recorded else list(prompt.roles)
    person_labels = [prompt.label] * len(roles) if recorded else list(prompt.person_labels)
    persons = [_person(role, look, spec) for role in roles]
    _avatar_scales(persons, spec, motion_seed)
    room = _room_look(look, info, spec)
    noise = float(view.uniform(*randomize.camera_noise)) if randomize.camera_noise[1] > 0 else 0.0
    shutter = float(view.uniform(*randomize.motion_blur_shutter)) if randomize.motion_blur else 0.0
    return {
        "key": key,
        "clip_id": clip_id_of(key),
        "seed": seed,
        "motion_seed": motion_seed,
        "split": _split(spec, scene, group),
        "scene": {
            "name": scene.name, "kind": scene.kind, "path": scene.path, "procedural": scene.procedural,
            "anchor": None if scene.anchor is None else list(scene.anchor),
            "corner": [float(v) for v in info.corner],
            # The job file's room (None: from the scene), so a clip process sees the same room.
            "room_min": None if scene.room_min is None else list(scene.room_min),
            "room_max": None if scene.room_max is None else list(scene.room_max),
            "ceiling_height": scene.ceiling_height,
        },
        "prompt": {
            "name": prompt.name, "source": prompt.source, "text": prompt.text, "roles": roles,
            "label": prompt.label, "label_id": ACTION_INDEX[prompt.label], "person_labels": person_labels,
            "person_label_ids": [ACTION_INDEX[label] for label in person_labels],
            "variation": int(variation[1:]),
        },
        "clip": {**dataclasses.asdict(spec.clip), "frames": spec.clip.frames},
        "generation": {**dataclasses.asdict(spec.generation), "seed": motion_seed},
        "camera": _camera(spec, info, camera, view, scene),
        "engine": dataclasses.asdict(spec.engine),
        "look": {
            **room,
            "persons": persons,
            "camera_noise_std": noise,
            "motion_blur_shutter": shutter,
        },
        "outputs": dataclasses.asdict(spec.outputs),
        "body_model_dir": spec.body_model_dir,
        **_rigged_avatars(spec, persons),
    }


def _rigged_avatars(spec: JobSpec, persons: list[dict]) -> dict:
    """{"avatars": name -> AvatarSpec fields} for the job file's rigged avatars this clip's people
    drew; nothing when they drew none, so jobs without them read as before (a --resume of a
    data set made before avatars existed still matches its manifest). "garments" ({garment:
    [patterns]}) only where materials are recoloured: the avatar lists some and clothing is
    randomised (so does an entry without them)."""
    drawn = {person["avatar"] for person in persons}
    avatars = {}
    for avatar in (a for a in spec.avatars if a.name in drawn):
        entry = {**dataclasses.asdict(avatar), "roles": list(avatar.roles), "scale": list(avatar.scale)}
        del entry["garments"]
        if avatar.scale == (1.0, 1.0):
            del entry["scale"]
        if avatar.garments and spec.randomize.clothing:
            entry["garments"] = {garment: list(patterns) for garment, patterns in avatar.garments}
        avatars[avatar.name] = entry
    return {"avatars": avatars} if avatars else {}


def _avatar_scales(persons: list[dict], spec: JobSpec, motion_seed: int) -> None:
    """Each person on a rigged avatar with a scale range gets "avatar_scale", drawn from its own
    stream (hash of the variation's seed and the person's index), so the look's other draws,
    and every job without such a range, stay as they were; the same in every camera's clip."""
    ranges = {a.name: a.scale for a in spec.avatars if a.scale != (1.0, 1.0)}
    for index, person in enumerate(persons):
        if person["avatar"] in ranges:
            rng = np.random.default_rng(stable_seed(motion_seed, f"avatar_scale/{index}"))
            person["avatar_scale"] = float(rng.uniform(*ranges[person["avatar"]]))


def _person(role: str, rng: np.random.Generator, spec: JobSpec) -> dict:
    """One person's body shape, avatar and clothing, drawn in a fixed order."""
    randomize = spec.randomize
    betas = rng.normal(0.0, randomize.body_shape_std, 10).clip(-2.5, 2.5)
    # Among those that may play the role (all of them unless an [[avatars]] table says otherwise:
    # then the draw is the one it always was).
    candidates = avatars_for(role, randomize.avatars, spec.avatars)
    if not candidates:  # a recorded prompt's roles come from its bundle, known only now
        raise JobSpecError(f"{spec.path}: key 'randomize.avatars': no avatar listed may play role {role!r}")
    avatar = candidates[int(rng.integers(len(candidates)))]
    shirt = _jitter_colour(_pick(rng, _CLOTHING[role]), rng)
    trousers = _jitter_colour(_pick(rng, _TROUSERS), rng)
    skin = _jitter_colour(_pick(rng, _SKIN), rng)
    return {
        "role": role,
        "avatar": avatar,
        "betas": [float(b) for b in betas] if randomize.body_shapes else None,  # None: the motion's own
        "shirt_rgb": shirt if randomize.clothing else [0.5, 0.55, 0.6],
        "trousers_rgb": trousers if randomize.clothing else [0.2, 0.2, 0.25],
        "skin_rgb": skin if randomize.clothing else [0.8, 0.6, 0.5],
    }


def _room_look(rng: np.random.Generator, info: SceneInfo, spec: JobSpec) -> dict:
    """Floor and wall colours and the light, drawn in a fixed order."""
    randomize = spec.randomize
    floor, wall = _pick(rng, _FLOORS), _pick(rng, _WALLS)
    floor, wall = _jitter_colour(floor, rng), _jitter_colour(wall, rng)
    kelvin = float(rng.uniform(2700.0, 6500.0))
    position = [*(info.center + rng.uniform(-0.35, 0.35, 2) * (info.room_max - info.room_min)),
                info.ceiling_height - 0.3]
    light = {
        "power_w": float(rng.uniform(150.0, 700.0)),
        "color_rgb": kelvin_to_rgb(kelvin),
        "kelvin": kelvin,
        "position": [float(v) for v in position],
        "world_strength": float(rng.uniform(0.05, 0.5)),
        "studio_rotation_deg": float(rng.uniform(-180.0, 180.0)),
    }
    if not randomize.lights:
        light = {"power_w": 400.0, "color_rgb": [1.0, 1.0, 1.0], "kelvin": 6500.0,
                 "position": [*map(float, info.center), info.ceiling_height - 0.3], "world_strength": 0.2,
                 "studio_rotation_deg": 0.0}
    return {
        "floor_rgb": floor if randomize.materials else list(DEFAULT_FLOOR),
        "wall_rgb": wall if randomize.materials else list(DEFAULT_WALL),
        "light": light,
    }


def _camera(spec: JobSpec, info: SceneInfo, name: str, rng: np.random.Generator, scene: SceneSpec) -> dict:
    """Pose (OpenCV camera-to-world, or relative to a .blend's own camera) and lens of one camera."""
    cameras, clip = spec.cameras, spec.clip
    fisheye = Lens("fisheye_equidistant", clip.width, clip.height, fov_deg=cameras.fisheye_fov_deg)
    out: dict = {"name": name, "kind": "", "camera_to_world": None, "relative_to_scene_camera": None, "lens": None}
    if name.startswith("corner"):
        eye, target = _corner_eye_and_target(info, scene, rng)
        fov = float(rng.uniform(*cameras.corner_fov_deg))
        out.update(kind="ceiling_corner", camera_to_world=_rows(look_at(eye, target) @ OPENCV_TO_BLENDER_CAMERA),
                   lens=(fisheye if cameras.lens == "fisheye" else pinhole_lens(clip.width, clip.height, fov)).to_json())
        return out
    delta = np.eye(4) if name == "recorded" else _jitter(rng, cameras.jitter_position_m, cameras.jitter_rotation_deg)
    out["kind"] = "recorded" if name == "recorded" else "jittered"
    if info.camera_to_world is None:  # a .blend: its own camera, known only inside Blender
        out["relative_to_scene_camera"] = _rows(delta)
        out["lens"] = fisheye.to_json() if cameras.lens == "fisheye" else None
    else:
        out["camera_to_world"] = _rows(info.camera_to_world @ delta)
        lens = fisheye if cameras.lens == "fisheye" else info.lens.scaled(clip.width, clip.height)  # type: ignore[union-attr]
        out["lens"] = lens.to_json()
    return out


def _corner_eye_and_target(info: SceneInfo, scene: SceneSpec, rng: np.random.Generator):
    corner = int(rng.integers(4))
    low, high = info.room_min, info.room_max
    inset = np.minimum(0.25, (high - low) / 4.0)
    x = low[0] + inset[0] if corner & 1 == 0 else high[0] - inset[0]
    y = low[1] + inset[1] if corner & 2 == 0 else high[1] - inset[1]
    eye = np.array([x, y, info.ceiling_height - rng.uniform(0.15, 0.35)])
    focus = np.asarray(scene.anchor, dtype=np.float64) if scene.anchor is not None else info.center
    target = np.array([*(focus + rng.normal(0.0, 0.3, 2)), rng.uniform(0.4, 1.0)])
    return eye, target


def _jitter(rng: np.random.Generator, position_m: float, rotation_deg: float) -> np.ndarray:
    """(4, 4) a small rigid motion in the camera's own frame: a rotation about a random axis by
    N(0, rotation_deg) and a shift N(0, position_m) per axis (Rodrigues' formula)."""
    axis = rng.normal(size=3)
    axis /= max(np.linalg.norm(axis), 1e-12)
    angle = math.radians(rng.normal(0.0, rotation_deg))
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    delta = np.eye(4)
    delta[:3, :3] = np.eye(3) + math.sin(angle) * skew + (1 - math.cos(angle)) * skew @ skew
    delta[:3, 3] = rng.normal(0.0, position_m, 3)
    return delta


def _split(spec: JobSpec, scene: SceneSpec, group: str) -> str:
    if scene.split is not None:
        return scene.split
    u = stable_uniform(spec.base_seed, f"split:{group}")
    if u < spec.splits.train:
        return "train"
    return "val" if u < spec.splits.train + spec.splits.val else "test"


def kelvin_to_rgb(kelvin: float) -> list[float]:
    """Approximate linear RGB (max 1) of a black body at ``kelvin`` (Tanner Helland's fit, 1000-40000 K)."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * math.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307)
    srgb = np.clip(np.array([r, g, b]) / 255.0, 0.0, 1.0)
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return [float(v) for v in linear / linear.max()]


def shard(jobs: list[dict], index: int, count: int) -> list[dict]:
    """Shard ``index`` of ``count`` (0-based): every count-th job of the key-sorted list, so the
    shards partition the jobs exactly and each gets a mix of scenes and prompts."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard must be i/N with 0 <= i < N, got {index}/{count}")
    ordered = sorted(jobs, key=lambda job: job["key"])
    return ordered[index::count]


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> (i, N); raises ValueError naming the problem."""
    try:
        left, right = text.split("/")
        index, count = int(left), int(right)
    except ValueError:
        raise ValueError(f"--shard: expected i/N (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard: expected 0 <= i < N, got {text!r}")
    return index, count


def write_manifest(path: str | Path, manifest: dict) -> None:
    """Write the manifest as JSON, atomically."""
    text = json.dumps(manifest, indent=1) + "\n"

    def write(temporary: str) -> None:
        Path(temporary).write_text(text, encoding="utf-8")

    atomic_write(path, write)


def read_manifest(path: str | Path) -> dict:
    """Read a manifest; ValueError naming the file for anything that is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable manifest ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError(f"{path}: 'format'/'version' is not {FORMAT} {VERSION}")
    if not isinstance(data.get("jobs"), list):
        raise ValueError(f"{path}: key 'jobs' is missing")
    return data


def _pick(rng: np.random.Generator, palette: list) -> tuple:
    return palette[int(rng.integers(len(palette)))]


def _jitter_colour(rgb, rng: np.random.Generator) -> list[float]:
    """A palette colour scaled by U(0.8, 1.2) per channel, clipped to [0, 1]."""
    return [float(v) for v in np.clip(np.asarray(rgb) * rng.uniform(0.8, 1.2, 3), 0.0, 1.0)]


def _rows(matrix: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in np.asarray(matrix, dtype=np.float64)]


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
