"""Render one manifest job into ``DIR/.partial/<clip_id>``, then rename it to ``DIR/clips/<clip_id>``.

Steps (timed into ``render.json``): build the room and camera (first, so a broken scene fails
fast), generate the motions (core, in-process), shape and place the people, key their rigs, put
the people drawn as rigged avatars on them (retargeted), apply the look, compute the labels
(core), render the RGB frames (+ sensor noise), draw the skeleton frames, render the depth and
silhouette passes, encode the MP4s, write ``annotations.json``; the folder is renamed only when everything is written, so ``clips/`` never
holds a half-finished clip.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import bpy
import numpy as np

from ..bridge.render_engine import configure_engine, render_frames, render_override_pass
from ..bridge.render_look import (
    add_light, dress_body, recolour_points, recolour_surfaces, show_floor, workbench_background,
)
from ..bridge.render_avatars import put_on_avatars
from ..bridge.render_scene import add_people, assemble_room
from ..bridge.render_video import FRAME_PATTERN, encode_frames, read_png, write_png
from ..core.render.annotations import annotation_document, coco_triplets, compute_clip_labels, write_json
from ..core.render.clip_people import generate_motions, person_tracks, scene_spec_of
from ..core.render.postprocess import frame_generator, sensor_noise
from ..core.render.scenes import depth_range, scene_info
from ..core.render.skeleton_image import draw_skeletons
from ..core.render.writers import VIDEO_FILES

GENERATION_THREADS = 1  # torch threads while generating a clip's motion (see _render_into)


def clip_folder(root: Path, clip_id: str) -> Path:
    return root / "clips" / clip_id


def partial_folder(root: Path, clip_id: str) -> Path:
    return root / ".partial" / clip_id


def render_clip(job: dict, root: str | Path, threads: int = 0, say=print) -> Path:
    """Render ``job`` (one manifest entry) under ``root``; returns the finished clip folder.

    A failure removes the partial folder (the error is in the caller's log) and re-raises.
    """
    root = Path(root)
    work = partial_folder(root, job["clip_id"])
    if work.exists():
        shutil.rmtree(work)  # a partial clip from an earlier, interrupted run: start it over
    work.mkdir(parents=True)
    try:
        return _render_into(work, job, root, threads, say)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _render_into(work: Path, job: dict, root: Path, threads: int, say) -> Path:
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, function, *args, **kwargs):
        began = time.perf_counter()
        result = function(*args, **kwargs)
        timings[f"{name}_s"] = round(time.perf_counter() - began, 3)
        say(f"{job['clip_id']}: {name} {timings[f'{name}_s']:.2f} s")
        return result

    import torch

    # Generation at one fixed torch thread count: CPU matrix products round differently with
    # more threads, so this keeps a clip's motion bit-exact whatever the machine and --workers.
    torch.set_num_threads(GENERATION_THREADS)
    built = step("scene", assemble_room, job, work)
    motions, generated = step("generate", generate_motions, job)
    caveat = generated.caveat
    if caveat:
        say(f"{job['clip_id']}: prompt {job['prompt']['text']!r}: {caveat}")
    tracks = step("people", person_tracks, job, motions)
    step("rigs", add_people, built, tracks, float(job["clip"]["fps"]))
    if job.get("avatars"):
        tracks = step("avatars", put_on_avatars, built, job, tracks, say)
    step("look", apply_look, built, job, tracks)
    info = scene_info(scene_spec_of(job))
    labels = step("labels", compute_clip_labels, tracks, built.camera_to_world, built.lens,
                  info.occluders + built.occluders)
    outputs, fps, frames = job["outputs"], float(job["clip"]["fps"]), int(job["clip"]["frames"])
    scene = built.scene
    color_type = "VERTEX" if built.points is not None else "MATERIAL"
    configure_engine(scene, job["engine"], job["look"], color_type, threads)
    if outputs["rgb"] or outputs["png_frames"]:
        rgb = work / "frames"
        step("render_rgb", render_frames, scene, rgb,
             lambda done, total: say(f"{job['clip_id']}: frame {done}/{total}") if done % 25 == 0 else None)
        if job["look"]["camera_noise_std"] > 0:
            step("noise", add_noise, rgb, frames, float(job["look"]["camera_noise_std"]), int(job["seed"]))
        if outputs["rgb"]:
            step("encode_rgb", encode_frames, rgb, frames, fps, work / VIDEO_FILES["rgb"])
        if not outputs["png_frames"]:
            shutil.rmtree(rgb)
    if outputs["skeleton"]:
        folder = work / ".skeleton_frames"
        step("draw_skeleton", draw_skeleton_frames, labels, built.lens, folder)
        step("encode_skeleton", encode_frames, folder, frames, fps, work / VIDEO_FILES["skeleton"])
        shutil.rmtree(folder)
    near, far = depth_range(built.camera_to_world, info)
    for kind in ("depth", "silhouette"):
        if outputs[kind]:
            folder = work / f".{kind}_frames"
            hidden = built.room + ([built.points] if built.points is not None else []) if kind == "silhouette" else []
            step(f"render_{kind}", render_override_pass, scene, kind, folder, hidden, near, far)
            step(f"encode_{kind}", encode_frames, folder, frames, fps, work / VIDEO_FILES[kind])
            shutil.rmtree(folder)
    extra = {"depth_range_m": [near, far] if outputs["depth"] else None,
             "generation": {"checkpoint": Path(generated.checkpoint).name, "sampler": generated.sampler,
                            "steps": generated.steps, "device": generated.device,
                            **({"caveat": caveat} if caveat else {})}}
    document = annotation_document(job, tracks, labels, built.camera_to_world, built.lens, job["look"]["persons"],
                                   extra)
    step("write_annotations", write_json, work / "annotations.json", document)
    timings["total_s"] = round(time.perf_counter() - started, 3)
    write_json(work / "render.json", {
        "clip_id": job["clip_id"], "blender": bpy.app.version_string, "timings": timings,
        "generation_seconds": round(generated.seconds_taken, 3), "pid": os.getpid(),
    })
    final = clip_folder(root, job["clip_id"])
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(final)  # rendering a finished clip again on purpose replaces it
    os.replace(work, final)
    return final


def apply_look(built, job: dict, tracks: list) -> None:
    """Clothing, floor and wall colours and (for EEVEE / Cycles) the light, as the manifest says.
    Rigged avatars were dressed when they were appended (``bridge.avatar_look``)."""
    look = job["look"]
    for person, track, person_look in zip(built.people, tracks, look["persons"]):
        if person.body is not None and not track.avatar:
            dress_body(person.body, person_look, np.asarray(track.body.weights), np.asarray(track.body.faces))
    if built.points is not None and built.bundle is not None:
        recolour_points(built.points, built.bundle, look["floor_rgb"], look["wall_rgb"])
    if built.floor is not None:
        show_floor(built.floor, look["floor_rgb"])
        built.room.append(built.floor)
    recolour_surfaces(built.room, look["floor_rgb"], look["wall_rgb"])
    # Between a bundle's wall points Workbench shows the world colour: a darker wall colour.
    workbench_background(built.scene, [0.6 * v for v in look["wall_rgb"]])
    if job["engine"]["name"] != "workbench":
        add_light(built.scene, look["light"], built.camera.users_collection[0])


def add_noise(folder: Path, frames: int, std: float, seed: int) -> None:
    """Gaussian sensor noise on every RGB frame, one generator per frame (from the job seed)."""
    for frame in range(1, frames + 1):
        path = folder / FRAME_PATTERN.format(frame)
        write_png(path, sensor_noise(read_png(path), std, frame_generator(seed, frame)))


def draw_skeleton_frames(labels, lens, folder: Path) -> None:
    """Skeleton-only frames from the labels (no pixel of the rendered scene)."""
    folder.mkdir(parents=True, exist_ok=True)
    triplets = coco_triplets(labels.keypoints, labels.visibility)  # (P, T, 17, 3)
    thickness = max(1.0, min(lens.width, lens.height) / 160.0)
    for t in range(triplets.shape[1]):
        write_png(folder / FRAME_PATTERN.format(t + 1), draw_skeletons(triplets[:, t], lens.width, lens.height,
                                                                        thickness))
