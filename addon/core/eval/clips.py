"""What the evaluation scores: real procedural clips and generated ones in one shape, with a disk cache.

An :class:`EvalClip` carries the 264-D features (un-normalised), the joints every physical metric
reads (FK of the features' rotations on the checkpoint's rest skeleton, for real and generated
clips alike, so both go through the same decoder), the prompt, roles, script, per-frame action
labels (real clips only) and the room's furniture boxes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.procedural.dataset import ProceduralClip
from ..labels import ON_BED_EDGE_SCRIPTS, ON_CHAIR_SCRIPTS, SCRIPT_INDEX, SCRIPTS, TOUCH_SCRIPTS
from ..files import atomic_write
from ..motion.decode import decode_generated, generated_joints
from ..motion.representation import encode_motion, fk_joints_from_features
from ..train.features import encode_clip

CACHE_VERSION = 1


@dataclass(eq=False)
class EvalClip:
    """features (P, T, 264) float32; joints (P, T, 22, 3) float64 m; roles; text; script id;
    action_labels (P, T) int64 (-1 unknown); boxes (K, 7); touch: the text implies touching;
    fps; scene_points (N, 3) float32 or None (what a generator is conditioned on); reaching:
    generated clips only, who the decode put hands on the others (``motion.hand_contact``), None
    for nobody."""

    features: np.ndarray
    joints: np.ndarray
    roles: tuple[str, ...]
    text: str
    script: int
    action_labels: np.ndarray
    boxes: np.ndarray
    touch: bool
    fps: float
    scene_points: np.ndarray | None = None
    rest_joints: np.ndarray | None = None
    reaching: tuple[bool, ...] | None = None

    @property
    def on_chair(self) -> bool:
        """The script seats someone on a chair (``labels.ON_CHAIR_SCRIPTS``; the Seated metric)."""
        return SCRIPTS[self.script] in ON_CHAIR_SCRIPTS

    @property
    def on_bed_edge(self) -> bool:
        """The script sits someone on a bed's edge (``labels.ON_BED_EDGE_SCRIPTS``; the On bed metric)."""
        return SCRIPTS[self.script] in ON_BED_EDGE_SCRIPTS


def real_clip(pc: ProceduralClip, rest_joints: np.ndarray, caption: int = 0) -> EvalClip:
    """A procedural clip encoded with ``rest_joints`` (24, 3), its ``caption``-th text."""
    features = encode_clip(pc.clip, rest_joints).features
    labels = np.stack([m.labels if m.labels is not None else np.full(m.num_frames, -1) for m in pc.clip.motions])
    return EvalClip(
        features=features,
        joints=fk_joints_from_features(features.astype(np.float64), rest_joints),
        roles=tuple(m.role for m in pc.clip.motions),
        text=pc.clip.texts[caption % len(pc.clip.texts)],
        script=SCRIPT_INDEX[pc.script],
        action_labels=labels.astype(np.int64),
        boxes=pc.boxes,
        touch=pc.touch,
        fps=pc.clip.fps,
        scene_points=pc.clip.scene_points,
        rest_joints=rest_joints,
    )


def generated_clip(features: np.ndarray, like: EvalClip, rest_joints: np.ndarray, text: str | None = None,
                   roles: tuple[str, ...] | None = None, script: int | None = None,
                   reaching: tuple[bool, ...] | None = None) -> EvalClip:
    """Generated features scored in the setting of ``like`` (its room, script, touch); ``reaching``:
    whose hands the decode puts on the others (``generate.Generator.encode_prompts`` decides)."""
    features = np.asarray(features, dtype=np.float32)
    return EvalClip(
        features=features,
        joints=generated_joints(features, rest_joints, like.fps, reaching),  # what a rig shows (Generator.decode)
        roles=like.roles if roles is None else roles,
        text=like.text if text is None else text,
        script=like.script if script is None else script,
        action_labels=np.full(features.shape[:2], -1, dtype=np.int64),
        boxes=like.boxes,
        touch=like.touch,
        fps=like.fps,
        scene_points=like.scene_points,
        rest_joints=rest_joints,
        reaching=reaching,
    )


def decoded_clip(clip: EvalClip) -> EvalClip:
    """A generated clip as the rigs show it: each person's features decoded (``motion.decode``,
    what Generate Interaction keys) and encoded again like real data. Positions, velocities and
    rotations then agree; the model's own positions and velocities are gone. (P, T, 264) float32;
    the joints stay (they are that decode already, :func:`generated_clip`)."""
    rest = clip.rest_joints
    if rest is None:
        raise ValueError("decoded_clip: the clip carries no rest skeleton")
    motions = decode_generated(clip.features, rest, clip.fps, clip.roles, clip.reaching)
    features = np.stack([encode_motion(motion, rest) for motion in motions]).astype(np.float32)
    return dataclasses.replace(clip, features=features)


def touch_of(script: str) -> bool:
    return script in TOUCH_SCRIPTS


# -- cache ------------------------------------------------------------------------------------

def save_clips(path: str | Path, clips: list[EvalClip]) -> Path:
    """Write clips to one .npz (no pickles): per clip i, arrays "i/features" ... and strings in
    "i/meta" as a JSON array."""
    import json

    arrays: dict[str, np.ndarray] = {"version": np.array(CACHE_VERSION), "count": np.array(len(clips))}
    for i, c in enumerate(clips):
        arrays[f"{i}/features"] = c.features
        arrays[f"{i}/action_labels"] = c.action_labels
        arrays[f"{i}/boxes"] = np.asarray(c.boxes, dtype=np.float64)
        if c.scene_points is not None:
            arrays[f"{i}/scene_points"] = c.scene_points
        arrays[f"{i}/meta"] = np.array(json.dumps({"roles": list(c.roles), "text": c.text, "script": c.script,
                                                   "touch": c.touch, "fps": c.fps}))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    def write(temporary: str) -> None:
        with open(temporary, "wb") as handle:  # a handle: np.savez would append ".npz" to a name
            np.savez(handle, **arrays)

    atomic_write(path, write)
    return path


def load_clips(path: str | Path, rest_joints: np.ndarray) -> list[EvalClip]:
    """Read :func:`save_clips`' file; joints are recomputed from the features on ``rest_joints`` (the
    real-data decode: caches hold real clips)."""
    import json

    with np.load(path, allow_pickle=False) as data:
        if int(data["version"]) != CACHE_VERSION:
            raise ValueError(f"{path}: cache version {int(data['version'])}, expected {CACHE_VERSION}")
        clips = []
        for i in range(int(data["count"])):
            meta = json.loads(str(data[f"{i}/meta"]))
            features = data[f"{i}/features"]
            clips.append(EvalClip(
                features=features,
                joints=fk_joints_from_features(features.astype(np.float64), rest_joints),
                roles=tuple(meta["roles"]), text=meta["text"], script=int(meta["script"]),
                action_labels=data[f"{i}/action_labels"], boxes=data[f"{i}/boxes"], touch=bool(meta["touch"]),
                fps=float(meta["fps"]),
                scene_points=data[f"{i}/scene_points"] if f"{i}/scene_points" in data else None,
                rest_joints=rest_joints,
            ))
    return clips
