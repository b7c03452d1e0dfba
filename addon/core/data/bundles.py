"""Reconstruction bundles (:mod:`..recon.bundle`) -> Clips with N persons, their roles and the room's points.

A bundle's persons come and go (``person_valid``); a Clip needs every person on
every frame. The timeline is therefore split wherever the set of visible persons
changes: each maximal run of frames with the same non-empty set of valid persons
becomes one Clip of exactly those persons (so a gap in one person's track splits
the clip, and frames where nobody is valid are dropped). Runs shorter than
``min_frames`` (at the bundle's fps) are skipped. Bundles carry no text.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..motion.motion import Motion
from ..motion.resample import resample
from ..recon.bundle import Bundle, BundleError, read_bundle
from .clip import MAX_PERSONS, Clip, DatasetError

SOURCE = "bundle"


def read_bundle_clips(
    path: str | os.PathLike,
    fps: float,
    *,
    split: str = "train",
    min_frames: int = 2,
) -> list[Clip]:
    """Clips of one bundle file, resampled to ``fps``; see the module docstring for the splitting.

    With more than 4 persons, the 4 valid on the most frames are kept (ties: lower index).
    Each Motion keeps the bundle's role, betas and per-frame action ids (``labels``);
    scene_points are the bundle's room points (N, 3), world, shared by its clips.
    Raises DatasetError naming the file and key for a malformed bundle.
    """
    path = Path(path)
    try:
        bundle = read_bundle(path)
    except BundleError as error:
        raise DatasetError(str(error)) from error
    return bundle_clips(bundle, fps, name=path.stem, split=split, min_frames=min_frames)


def bundle_clips(bundle: Bundle, fps: float, *, name: str, split: str = "train", min_frames: int = 2) -> list[Clip]:
    """The Clips of an in-memory bundle (what :func:`read_bundle_clips` does after reading)."""
    valid = np.asarray(bundle.person_valid, dtype=bool).copy()  # (P, T)
    kept = _most_visible(valid, MAX_PERSONS)
    valid[~np.isin(np.arange(len(valid)), kept)] = False
    clips = []
    for start, stop in visibility_runs(valid):
        if stop - start < min_frames:
            continue
        persons = [int(p) for p in np.flatnonzero(valid[:, start])]
        source = f"{SOURCE}:{name}[{start}:{stop}]"
        motions = [
            resample(_person_motion(bundle, p, start, stop, f"{source}/{_person_name(bundle, p)}"), fps)
            for p in persons
        ]
        clips.append(Clip(motions=motions, texts=[], scene_points=bundle.points, source=source, split=split))
    return clips


def visibility_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """(P, T) bool -> [(start, stop)]: maximal frame runs with one unchanging, non-empty set of valid persons."""
    T = valid.shape[1]
    runs = []
    start = 0
    for t in range(1, T + 1):
        if t == T or not np.array_equal(valid[:, t], valid[:, start]):
            if valid[:, start].any():
                runs.append((start, t))
            start = t
    return runs


def _most_visible(valid: np.ndarray, count: int) -> list[int]:
    frames = valid.sum(axis=1)
    order = sorted(range(len(frames)), key=lambda p: (-frames[p], p))
    return sorted(order[:count])


def _person_name(bundle: Bundle, person: int) -> str:
    if person < len(bundle.person_names) and bundle.person_names[person]:
        return bundle.person_names[person]
    return f"{bundle.person_roles[person]} {person + 1}"


def _person_motion(bundle: Bundle, p: int, start: int, stop: int, name: str) -> Motion:
    frames = slice(start, stop)
    return Motion(
        global_orient=bundle.person_global_orient[p, frames],
        body_pose=bundle.person_body_pose[p, frames],
        transl=bundle.person_transl[p, frames],
        betas=bundle.person_betas[p],
        fps=bundle.fps,
        role=bundle.person_roles[p],
        labels=bundle.person_actions[p, frames],
        name=name,
    )
