"""What the Blender side needs to create people from motions (numpy only).

:func:`person_builds` reads and checks every file before anything touches Blender,
so one bad file leaves the scene unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .motion.amass import read_amass_npz
from .motion.motion import Motion
from .motion.resample import resample

FpsMode = Literal["SCENE", "MOTION"]
MAX_SHAPE_KEYS = 16


@dataclass(frozen=True)
class PersonBuild:
    """One person to create: body arrays (template frame, Y-up) and the motion to key.

    rest_joints_y: (24, 3) metres for the motion's betas; vertices_y: (V, 3) template
    (betas zero); faces: (F, 3); weights: (V, 24); shape_directions_y: (V, 3, K);
    shape_names: K names; betas: (K,) the shape-key values; motion: at the target fps;
    posedirs_y: (V, 3, 207) pose-corrective offsets when they are wanted and the model has them.
    """

    name: str
    motion: Motion
    rest_joints_y: np.ndarray
    vertices_y: np.ndarray | None
    faces: np.ndarray | None
    weights: np.ndarray | None
    shape_directions_y: np.ndarray | None
    shape_names: list[str]
    betas: np.ndarray
    metadata: dict
    posedirs_y: np.ndarray | None = None


def shape_key_betas(betas: np.ndarray, available: int) -> np.ndarray:
    """The first ``min(available, MAX_SHAPE_KEYS)`` betas, zero-padded."""
    count = min(available, MAX_SHAPE_KEYS)
    out = np.zeros(count)
    out[: min(count, len(betas))] = betas[:count]
    return out


def person_build(
    motion: Motion, body, name: str, with_body: bool = True, pose_correctives: bool = False
) -> PersonBuild:
    """Combine a motion with a loaded ``BodyModel`` (see ``core.body.model``)."""
    available = body.shapedirs.shape[-1]
    betas = np.asarray(motion.betas, dtype=np.float64)[:available]
    key_betas = shape_key_betas(betas, available)
    names = list(getattr(body, "shape_names", None) or [])
    names = [names[k] if k < len(names) else f"beta_{k:02d}" for k in range(len(key_betas))]
    return PersonBuild(
        name=name,
        motion=motion,
        rest_joints_y=body.rest_joints(betas),
        vertices_y=body.rest_vertices(None) if with_body else None,
        faces=body.faces if with_body else None,
        weights=body.weights if with_body else None,
        shape_directions_y=body.shapedirs[:, :, : len(key_betas)] if with_body else None,
        shape_names=names,
        betas=key_betas,
        posedirs_y=body.posedirs if with_body and pose_correctives and body.has_pose_correctives else None,
        metadata={
            "kind": body.kind,
            "gender": motion.gender,
            "role": motion.role,
            "betas": [float(b) for b in motion.betas],
            "source": motion.name,
        },
    )


def read_motions(paths: list[str | Path], scene_fps: float, fps_mode: FpsMode) -> tuple[list[Motion], float]:
    """Read every file (errors name the file and key), then bring them to one fps.

    SCENE: resample every motion to ``scene_fps``. MOTION: the first file's fps
    becomes the target (the caller sets the scene to it); others are resampled.
    Returns the motions and the fps they now share.
    """
    if not paths:
        raise ValueError("no motion files given")
    motions = [read_amass_npz(path) for path in paths]
    target = float(scene_fps) if fps_mode == "SCENE" else motions[0].fps
    out = []
    for path, motion in zip(paths, motions):
        if not motion.name:
            motion.name = Path(path).stem
        out.append(motion if abs(motion.fps - target) < 1e-9 else resample(motion, target))
    return out, target


def motions_from_bundle(bundle) -> list[Motion]:
    """One Motion per person of a reconstruction bundle (``core.recon.bundle.Bundle``)."""
    motions = []
    for p in range(bundle.num_persons):
        name = bundle.person_names[p] if p < len(bundle.person_names) and bundle.person_names[p] else (
            f"{bundle.person_roles[p].title()} {p + 1}"
        )
        motions.append(
            Motion(
                global_orient=bundle.person_global_orient[p],
                body_pose=bundle.person_body_pose[p],
                transl=bundle.person_transl[p],
                betas=bundle.person_betas[p],
                fps=bundle.fps,
                role=bundle.person_roles[p],
                labels=bundle.person_actions[p],
                name=name,
            )
        )
    return motions
