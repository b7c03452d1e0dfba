"""Per-clip labels: joints, COCO-17 keypoints with visibility, boxes, and ``annotations.json``.

Everything comes from the same numbers the rig is keyed with: forward kinematics of each Motion
on the rig's rest joints (:func:`..skeleton.forward_kinematics`, what the Blender armature
evaluates to; ``tests/blender/test_render_keypoints.py`` checks it against rendered markers) and
the body's linear blend skinning for boxes and occlusion (what the skinned mesh shows).

Frames: world = metres, Z up; camera = OpenCV (x right, y down, z forward), metres; pixels: u
right, v down, origin at the top-left image corner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..motion.motion import Motion
from ..skeleton import NUM_JOINTS, forward_kinematics
from .coco import COCO_NAMES, coco_keypoints, face_offsets, keypoints_of
from .lens import Lens, world_to_camera
from .rig_labels import EvaluatedBody
from .visibility import Occluder, keypoint_visibility

FORMAT = "isynth-render-clip"
VERSION = 1
_PIXEL_DECIMALS = 3
_METRE_DECIMALS = 5


@dataclass(frozen=True, eq=False)
class PersonTrack:
    """One rendered person. motion: at the clip's fps, world (AMASS convention); rest_joints_y:
    (24, 3) the rig's rest joints, template frame (Y up), metres; body: the ``BodyModel`` its mesh
    uses; betas: (S,) the mesh's shape; actions: (T,) int action ids per frame. evaluated: for a
    person rendered as a rigged avatar, the avatar as Blender evaluated it (labels come from it,
    not from the motion's forward kinematics); avatar: that avatar's manifest name and its
    retarget quality ({} for stand-in and SMPL bodies)."""

    motion: Motion
    rest_joints_y: np.ndarray
    body: object
    betas: np.ndarray
    actions: np.ndarray
    evaluated: EvaluatedBody | None = None
    avatar: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class ClipLabels:
    """Labels of P persons over T frames.

    joints_world, joints_camera: (P, T, 24, 3) float64 metres; keypoints_world: (P, T, 17, 3);
    keypoints: (P, T, 17, 2) float64 pixels (NaN: no image); visibility: (P, T, 17) uint8 COCO v;
    bbox: (P, T, 4) float64 [x, y, w, h] pixels of the skinned mesh clipped to the image (zeros
    when the person is out of view); actions: (P, T) int32.
    """

    joints_world: np.ndarray
    joints_camera: np.ndarray
    keypoints_world: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray
    bbox: np.ndarray
    actions: np.ndarray


def track_joints(track: PersonTrack) -> tuple[np.ndarray, np.ndarray]:
    """(world rotations (T, 24, 3, 3), joints (T, 24, 3)) of a track, world, metres."""
    return forward_kinematics(track.motion.local_rotations(), np.asarray(track.rest_joints_y, np.float64),
                              track.motion.transl)


def track_vertices(track: PersonTrack) -> np.ndarray:
    """(T, V, 3) float64 world: the skinned mesh (linear blend skinning, no pose correctives)."""
    motion = track.motion
    return track.body.forward(motion.global_orient, motion.body_pose, motion.transl, track.betas).vertices


def compute_clip_labels(
    tracks: list[PersonTrack], camera_to_world: np.ndarray, lens: Lens, occluders: list[Occluder]
) -> ClipLabels:
    """Joints, keypoints, occlusion-aware visibility and boxes for a static camera.

    camera_to_world: (4, 4) OpenCV; occluders: the room's static geometry (world).
    """
    P, T = len(tracks), tracks[0].motion.num_frames
    joints_world = np.empty((P, T, NUM_JOINTS, 3))
    keypoints_world = np.empty((P, T, 17, 3))
    vertices, faces = [], []
    for p, track in enumerate(tracks):
        if track.evaluated is not None:  # a rigged avatar: what Blender evaluated
            joints_world[p] = track.evaluated.joints
            keypoints_world[p] = keypoints_of(track.evaluated.joints, track.evaluated.face)
            vertices.append(track.evaluated.vertices)
            faces.append(np.asarray(track.evaluated.faces, dtype=np.int64))
            continue
        rotations, joints = track_joints(track)
        joints_world[p] = joints
        rest_vertices = track.body.rest_vertices(track.betas)
        keypoints_world[p] = coco_keypoints(joints, rotations, face_offsets(rest_vertices, track.rest_joints_y))
        vertices.append(track_vertices(track))
        faces.append(np.asarray(track.body.faces, dtype=np.int64))
    keypoints = lens.project(world_to_camera(keypoints_world, camera_to_world))
    in_image = lens.in_image(keypoints)
    center = np.asarray(camera_to_world, dtype=np.float64)[:3, 3]
    visibility = np.empty((P, T, 17), dtype=np.uint8)
    for t in range(T):
        bodies = [Occluder(f"person{p}", vertices[p][t][faces[p]]) for p in range(P)]
        visibility[:, t] = keypoint_visibility(keypoints_world[:, t], in_image[:, t], center, occluders, bodies)
    bbox = np.stack([_boxes(lens.project(world_to_camera(v, camera_to_world)), lens) for v in vertices])
    return ClipLabels(
        joints_world=joints_world,
        joints_camera=world_to_camera(joints_world, camera_to_world),
        keypoints_world=keypoints_world,
        keypoints=keypoints,
        visibility=visibility,
        bbox=bbox,
        actions=np.stack([np.asarray(track.actions, dtype=np.int32) for track in tracks]),
    )


def _boxes(pixels: np.ndarray, lens: Lens) -> np.ndarray:
    """(T, 4) [x, y, w, h] of the imaged vertices (T, V, 2), clipped to the image; zeros if none."""
    out = np.zeros((len(pixels), 4))
    u = np.clip(pixels[..., 0], 0.0, lens.width)
    v = np.clip(pixels[..., 1], 0.0, lens.height)
    finite = np.isfinite(pixels).all(axis=-1) & lens.in_image(pixels)
    for t in range(len(pixels)):
        if finite[t].any():
            x0, x1 = u[t, finite[t]].min(), u[t, finite[t]].max()
            y0, y1 = v[t, finite[t]].min(), v[t, finite[t]].max()
            out[t] = (x0, y0, x1 - x0, y1 - y0)
    return out


def coco_triplets(keypoints: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """(..., 17, 3) COCO [x, y, v]; x = y = 0 where v = 0 (COCO's "not labelled")."""
    xy = np.where(visibility[..., None] > 0, np.nan_to_num(keypoints), 0.0)
    return np.concatenate([xy, visibility[..., None].astype(np.float64)], axis=-1)


def annotation_document(job: dict, tracks: list[PersonTrack], labels: ClipLabels, camera_to_world: np.ndarray,
                        lens: Lens, persons_look: list[dict], extra: dict | None = None) -> dict:
    """The JSON document of one clip (see ``docs/batch_rendering.md``): camera, people (SMPL
    parameters), and per frame and person: role, action, COCO keypoints, box, 3D joints."""
    from ..labels import ACTIONS

    camera_to_world = np.asarray(camera_to_world, dtype=np.float64)
    P, T = labels.actions.shape
    triplets = coco_triplets(labels.keypoints, labels.visibility)
    roles = [track.motion.role for track in tracks]
    frames = []
    for t in range(T):
        people = []
        for p in range(P):
            people.append({
                "person": p,
                "role": roles[p],
                "action": ACTIONS[int(labels.actions[p, t])] if labels.actions[p, t] >= 0 else None,
                "action_id": int(labels.actions[p, t]),
                "keypoints": _round(triplets[p, t], _PIXEL_DECIMALS),
                "num_keypoints": int((labels.visibility[p, t] > 0).sum()),
                "bbox": _round(labels.bbox[p, t], _PIXEL_DECIMALS),
                "joints_world": _round(labels.joints_world[p, t], _METRE_DECIMALS),
                "joints_camera": _round(labels.joints_camera[p, t], _METRE_DECIMALS),
            })
        frames.append({"frame": t, "persons": people})
    persons = []
    for p, track in enumerate(tracks):
        motion = track.motion
        persons.append({
            "person": p,
            "role": motion.role,
            "look": applied_look(persons_look[p] if p < len(persons_look) else {}, track),
            "body": f"avatar:{track.avatar['name']}" if track.avatar else getattr(track.body, "kind", ""),
            **({"avatar": track.avatar} if track.avatar else {}),
            "smpl": {
                "betas": _round(track.betas, 6),
                "global_orient": _round(motion.global_orient, 6),
                "body_pose": _round(motion.body_pose, 6),
                "transl": _round(motion.transl, 6),
                "rest_joints_template": _round(track.rest_joints_y, 6),
            },
        })
    world_to_camera_matrix = np.linalg.inv(camera_to_world)
    return {
        "format": FORMAT,
        "version": VERSION,
        "clip_id": job["clip_id"],
        "key": job["key"],
        "split": job["split"],
        "seed": job["seed"],
        "motion_seed": job["motion_seed"],
        "label": job["prompt"]["label"],
        "label_id": job["prompt"]["label_id"],
        "fps": float(job["clip"]["fps"]),
        "num_frames": T,
        "image_size": [lens.width, lens.height],
        "keypoint_names": list(COCO_NAMES),
        "camera": {
            "lens": lens.to_json(),
            "camera_to_world": _round(camera_to_world, 9),
            "world_to_camera": _round(world_to_camera_matrix, 9),
            "convention": "OpenCV camera axes (x right, y down, z forward); world metres, Z up",
        },
        "persons": persons,
        "frames": frames,
        "settings": job,
        **(extra or {}),
    }


def applied_look(look: dict, track: PersonTrack) -> dict:
    """The manifest's look of a person as it shows: a rigged avatar wears its own shape and
    materials, so its drawn betas and colours (drawn all the same, to keep every later draw of
    the clip as it was) are left out, but for its drawn scale and the garments its materials
    were recoloured with (``track.avatar["recoloured"]``: garment -> material names)."""
    if not track.avatar:
        return look
    worn = {f"{garment}_rgb" for garment in track.avatar.get("recoloured", {})}
    return {key: value for key, value in look.items() if key in ("role", "avatar", "avatar_scale") or key in worn}


def write_json(path: str | Path, document: dict) -> None:
    """Write ``document`` as compact JSON (the caller's folder is renamed into place when done)."""
    Path(path).write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")


def read_annotation_document(path: str | Path) -> dict:
    """Read one clip's annotations.json; ValueError naming the file and key when malformed."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path}: 'format' is not {FORMAT!r}")
    if document.get("version") != VERSION:
        raise ValueError(f"{path}: 'version' {document.get('version')!r} is not {VERSION}")
    for key in ("clip_id", "label_id", "image_size", "num_frames", "frames", "persons", "split"):
        if key not in document:
            raise ValueError(f"{path}: key {key!r} is missing")
    if len(document["frames"]) != document["num_frames"]:
        raise ValueError(f"{path}: key 'frames' has {len(document['frames'])} entries, 'num_frames' says "
                         f"{document['num_frames']}")
    return document


def _round(array, decimals: int) -> list:
    return np.round(np.asarray(array, dtype=np.float64), decimals).tolist()
