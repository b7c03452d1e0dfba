"""A job's people: generate the motions in-process, then place and shape them as the manifest says.

1. Generation: the job's prompt, roles, seconds, fps and ``motion_seed`` through the job's
   checkpoint (the bundled one when none is given), with the room's points in the model's frame
   (room corner at the origin) when the scene has points and ``scene_aware`` is on. A "recorded"
   prompt takes the bundle's reconstructed people instead (resampled to the clip's fps, their
   per-frame actions mapped onto ``ACTIONS`` by name).
2. Placement: motions shifted back by the corner; with a scene anchor, all people shifted together
   so their mean starting root position lies on it.
3. Bodies: each person's avatar and betas from the manifest; the root is shifted vertically so
   the new body's lowest point on the first frame is where the generated body's was (a taller
   body would otherwise sink into the floor). A person drawn as a rigged avatar keeps the
   motion's own shape on the stand-in: that rig is only the source of the retarget
   (``bridge.render_avatars``), and the avatar brings its own proportions.

Headless batch may call core in-process (DESIGN.md, Processes); torch loads here, on first use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..generation_settings import DEFAULT_SMOOTHING_S
from ..motion.motion import Motion
from .annotations import PersonTrack
from .jobspec import SceneSpec
from .jobspec_avatars import is_builtin
from .scenes import scene_info


def scene_spec_of(job: dict) -> SceneSpec:
    """The SceneSpec a manifest job was made from (enough for :func:`.scenes.scene_info`), with
    the job file's room_min, room_max and ceiling_height (a .blend's depth range needs them)."""
    scene = job["scene"]
    return SceneSpec(name=scene["name"], kind=scene["kind"], path=scene["path"], procedural=scene["procedural"],
                     anchor=_pair(scene["anchor"]), room_min=_pair(scene["room_min"]),
                     room_max=_pair(scene["room_max"]), ceiling_height=scene["ceiling_height"])


def _pair(value: list | None) -> tuple[float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]))


@dataclass(frozen=True)
class RecordedSource:
    """What stands in for a GenerationResult when the motions are a bundle's recorded people."""

    checkpoint: str
    sampler: str = "recorded"
    steps: int = 0
    device: str = ""
    seconds_taken: float = 0.0
    caveat: str = ""  # recorded people are what they are: never a weak action of a checkpoint


def recorded_motions(job: dict) -> list[Motion]:
    """The bundle's people at the clip's fps, with per-frame ``ACTIONS`` ids (-1 where unnamed)."""
    from ..labels import ACTION_INDEX
    from ..motion.resample import resample
    from ..people import motions_from_bundle
    from ..recon.bundle import read_bundle

    bundle = read_bundle(job["scene"]["path"])
    mapping = np.array([ACTION_INDEX.get(name, -1) for name in bundle.action_names] + [-1], dtype=np.int32)
    fps = float(job["clip"]["fps"])
    motions = []
    for motion in motions_from_bundle(bundle):
        labels = mapping[np.where(motion.labels >= 0, motion.labels, len(mapping) - 1)]
        motion = dataclasses.replace(motion, labels=labels)
        motions.append(motion if abs(motion.fps - fps) < 1e-9 else resample(motion, fps))
    return motions


def generate_motions(job: dict, callback=None):
    """Run the job's generation request (or read its recorded people); returns (motions placed in
    the world, GenerationResult or RecordedSource)."""
    frames = int(job["clip"]["frames"])
    if job["prompt"].get("source") == "recorded":
        motions = [_fit_frames(m, frames) for m in recorded_motions(job)]
        return _anchored(job, motions), RecordedSource(checkpoint=Path(job["scene"]["path"]).name)
    from ..api import generation_checkpoint
    from ..generate import GenerationRequest, load_generator
    from ..settings import Preferences

    generation, clip, prompt = job["generation"], job["clip"], job["prompt"]
    corner = np.asarray(job["scene"]["corner"], dtype=np.float64)
    info = scene_info(scene_spec_of(job))
    points = None
    if generation["scene_aware"] and info.points is not None:
        points = info.points - corner
    request = GenerationRequest(
        prompt=prompt["text"], roles=tuple(prompt["roles"]), seconds=float(clip["seconds"]), fps=float(clip["fps"]),
        seed=int(generation["seed"]), guidance=float(generation["guidance"]), sampler=generation["sampler"],
        steps=int(generation["steps"]), scene_points=points, device=generation["device"],
        hand_contact=bool(generation.get("hand_contact", True)),  # manifests written before it existed: on
        smoothing_s=float(generation.get("smoothing_s", DEFAULT_SMOOTHING_S)),  # ... nor this: the default
    )
    checkpoint = generation["checkpoint"] or generation_checkpoint(Preferences())
    result = load_generator(checkpoint, request.device).generate(request, callback)
    motions = [_fit_frames(dataclasses.replace(m, transl=m.transl + corner), frames) for m in result.motions]
    return _anchored(job, motions), result


def _anchored(job: dict, motions: list[Motion]) -> list[Motion]:
    """All people shifted together so their mean starting root (x, y) is the scene's anchor."""
    anchor = job["scene"]["anchor"]
    if anchor is None:
        return motions
    start = np.mean([m.transl[0, :2] for m in motions], axis=0)
    shift = np.array([*(np.asarray(anchor) - start), 0.0])
    return [dataclasses.replace(m, transl=m.transl + shift) for m in motions]


def body_for_avatar(avatar: str, body_model_dir: str):
    """The BodyModel of a manifest avatar ("standin", "smpl-neutral", "smpl-female", "smpl-male");
    a rigged avatar's person is keyed on the stand-in first (its SMPL rig is the retarget's source)."""
    from ..body.model import load_body_model

    if avatar == "standin" or not is_builtin(avatar):
        return load_body_model(None)
    gender = avatar.split("-", 1)[1]
    return load_body_model(body_model_dir, gender, "smpl")  # type: ignore[arg-type]


def person_tracks(job: dict, motions: list[Motion]) -> list[PersonTrack]:
    """Each generated motion on its manifest body (avatar, betas), grounded; with per-frame actions."""
    tracks = []
    for index, motion in enumerate(motions):
        look = job["look"]["persons"][index]
        body = body_for_avatar(look["avatar"], job.get("body_model_dir", ""))
        betas = np.zeros(body.num_betas)
        own = look["betas"] is None or not is_builtin(look["avatar"])  # an avatar has its own shape
        wanted = np.asarray(motion.betas if own else look["betas"], dtype=np.float64)
        wanted = wanted[: body.num_betas]
        betas[: len(wanted)] = wanted
        before = body.forward(motion.global_orient[:1], motion.body_pose[:1], motion.transl[:1],
                              np.asarray(motion.betas, dtype=np.float64)[: body.num_betas]).vertices
        after = body.forward(motion.global_orient[:1], motion.body_pose[:1], motion.transl[:1], betas).vertices
        lift = float(before[0, :, 2].min() - after[0, :, 2].min())
        placed = dataclasses.replace(
            motion, betas=betas, transl=motion.transl + np.array([0.0, 0.0, lift]),
            name=f"{motion.role.title()} {index + 1}", labels=None,
        )
        actions = np.full(placed.num_frames, int(job["prompt"]["person_label_ids"][index]), dtype=np.int32)
        if motion.labels is not None:  # recorded people: their own per-frame actions where named
            actions = np.where(motion.labels >= 0, motion.labels, actions).astype(np.int32)
        tracks.append(PersonTrack(motion=placed, rest_joints_y=body.rest_joints(betas), body=body, betas=betas,
                                  actions=actions))
    return tracks


def _fit_frames(motion: Motion, frames: int) -> Motion:
    """Exactly ``frames`` frames: generation rounds seconds x fps, which may differ by one."""
    if motion.num_frames == frames:
        return motion
    if motion.num_frames > frames:
        return motion.slice(0, frames)
    pad = frames - motion.num_frames
    last = lambda a: np.concatenate([a, np.repeat(a[-1:], pad, axis=0)])  # noqa: E731  (hold the last pose)
    labels = None if motion.labels is None else last(motion.labels)
    return dataclasses.replace(motion, global_orient=last(motion.global_orient), body_pose=last(motion.body_pose),
                               transl=last(motion.transl), labels=labels)
