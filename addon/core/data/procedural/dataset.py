"""The procedural care-interaction data set: clip ``index`` of split ``split`` from ``seed``, deterministic.

Each clip draws its own room (so train, val and test rooms differ), a script (two-person
scripts weighted 1.5x), bodies of varied shape, and runs the script; a clip that fails a
plausibility check (:mod:`.checks`) or cannot be staged in its room is drawn again from the
next sub-seed, and the number of attempts is kept.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...body.model import BodyModel, load_body_model
from ..clip import Clip
from .captions import captions
from .cast import Cast, Outcome
from .checks import problems
from ...labels import SCRIPTS, TWO_PERSON_SCRIPTS
from .rooms import CareRoom, random_room
from .scripts_single import SINGLE_ROLES, SINGLE_SCRIPTS
from .scripts_two import TWO_SCRIPTS

# Bump when the clips this module makes change (tests pin a fingerprint of a few clips per
# version); caches and checkpoints record it as their data provenance.
DATA_VERSION = 3  # 2: more caption wordings, five captions per clip, drawn from their own stream;
# 3: the spine leans into reaches beyond the arm (lean.py); attend_in_bed staff closer, hand on the shoulder
FPS = 10.0
MAX_FRAMES = 100
MIN_FRAMES = 30
MAX_ATTEMPTS = 100
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ProceduralClip:
    """A clip and what the evaluator needs besides: its script, the furniture boxes (K, 7)
    ([cx, cy, yaw, sx, sy, z0, z1]), every person's FK joints (P, T, 22, 3) with their own
    body shape, the room, and how many draws it took."""

    clip: Clip
    script: str
    boxes: np.ndarray
    joints: np.ndarray
    room: CareRoom
    attempts: int

    @property
    def touch(self) -> bool:
        from ...labels import TOUCH_SCRIPTS

        return self.script in TOUCH_SCRIPTS


def script_weights() -> np.ndarray:
    w = np.array([1.5 if s in TWO_PERSON_SCRIPTS else 1.0 for s in SCRIPTS])
    return w / w.sum()


def clip_rng(seed: int, split: str, index: int, attempt: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index, attempt])


def caption_rng(seed: int, split: str, index: int, attempt: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index, attempt, 1])


def make_clip(seed: int, split: str, index: int, model: BodyModel | None = None, *, fps: float = FPS,
              max_frames: int = MAX_FRAMES, script: str | None = None, texts_per_clip: int = 5) -> ProceduralClip:
    """Clip ``index`` of ``split``; the same arguments always give the same clip."""
    model = model or load_body_model(None)
    last_error = ""
    # The script is drawn once per clip, so scripts that are hard to stage keep their share.
    name = script or str(np.random.default_rng([seed, zlib.crc32(split.encode()), index]).choice(
        SCRIPTS, p=script_weights()))
    for attempt in range(MAX_ATTEMPTS):
        rng = clip_rng(seed, split, index, attempt)
        room = random_room(rng)
        cast = Cast(room, rng, fps, model)
        try:
            outcome = _run(cast, name)
        except RuntimeError as error:  # the room has no space for this script: draw again
            last_error = str(error)
            continue
        motions, joints = _finalize(outcome, max_frames, room)
        if motions[0].num_frames < MIN_FRAMES:
            last_error = "too short"
            continue
        found = problems(room, joints, np.stack([m.labels for m in motions]))
        if found:
            last_error = found[0]
            continue
        roles = [m.role for m in motions]
        caption_roles = roles
        if name in TWO_PERSON_SCRIPTS and name != "talk":
            caption_roles = sorted(roles, key=lambda r: r != "staff")  # staff first: "a nurse helps a patient"
        # Captions draw from their own stream: rewording them leaves motion, order and scene alone.
        texts = captions(name, caption_roles, outcome.facts, caption_rng(seed, split, index, attempt),
                         texts_per_clip)
        order = rng.permutation(len(motions))  # who is person 0 carries no meaning
        motions = [motions[i] for i in order]
        joints = joints[order]
        source = f"procedural:{split}:{seed}:{index}"
        for p, motion in enumerate(motions):
            motion.name = f"{source}/{p}"
        points = room.scene_points(rng)
        clip = Clip(motions=motions, texts=texts, scene_points=points, source=source, split=split, label=name)
        return ProceduralClip(clip, name, room.boxes_array(), joints[:, :, :22], room, attempt + 1)
    raise RuntimeError(f"procedural clip {split}:{seed}:{index} ({name}): no valid draw in "
                       f"{MAX_ATTEMPTS} attempts (last: {last_error})")


def make_clips(count: int, seed: int, split: str, *, start: int = 0, fps: float = FPS, max_frames: int = MAX_FRAMES,
               progress: Callable[[int, int], None] | None = None) -> list[ProceduralClip]:
    """Clips start .. start + count - 1 of ``split``."""
    model = load_body_model(None)
    clips = []
    for k in range(count):
        clips.append(make_clip(seed, split, start + k, model, fps=fps, max_frames=max_frames))
        if progress:
            progress(k + 1, count)
    return clips


def _run(cast: Cast, name: str) -> Outcome:
    if name in SINGLE_SCRIPTS:
        role = cast.choice(SINGLE_ROLES[name])
        return SINGLE_SCRIPTS[name](cast, role)
    return TWO_SCRIPTS[name](cast)


def _finalize(outcome: Outcome, max_frames: int, room: CareRoom):
    """Finalise every track (those without reaches first, so reaching hands see their partner),
    all cut to the same length, at most ``max_frames`` (keeping the script's anchor end)."""
    tracks = outcome.tracks
    length = max(t.frames for t in tracks)
    for t in tracks:
        t.hold_until(length, _last_label(t), planted=_last_planted(t))
    if length > max_frames:
        cut = length - max_frames if outcome.anchor == "end" else 0
        for t in tracks:
            t.shift_window(cut, max_frames)
    results: dict[int, tuple] = {}
    for index in sorted(range(len(tracks)), key=lambda i: bool(tracks[i].reaches)):
        partner = None
        if tracks[index].reaches and len(tracks) > 1:
            other = next(i for i in range(len(tracks)) if i != index)
            partner = results[other][1] if other in results else None
        results[index] = tracks[index].finalize(partner, room.support_height)
    motions = [results[i][0] for i in range(len(tracks))]
    joints = np.stack([results[i][1] for i in range(len(tracks))])
    return motions, joints


def _last_label(track) -> int:
    return int(track.arrays()[3][-1])


def _last_planted(track):
    return tuple(bool(x) for x in track.arrays()[4][-1])
