"""Occlusion-aware COCO visibility: a segment from the camera to each keypoint, cast against the
room's furniture and the other people's bodies (numpy, no renderer needed).

v = 0: no image (behind the camera, outside the fisheye circle or outside the frame), COCO's
"not labelled"; v = 1: in the frame but something other than the person itself lies between
camera and keypoint (furniture, another person); v = 2: visible. The person's own body never
occludes its keypoints (they lie inside it, and COCO counts a keypoint inside its own segment as
visible), following PeopleSansPeople's labeller (reference §3.5).

Segment-triangle tests are Möller & Trumbore (1997), "Fast, minimum storage ray-triangle
intersection", restricted to the segment's parameter range; each occluder's bounding box is
tested first (the slab method) so far-away bodies cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Keep a hit this far (metres) before the keypoint: a hand resting on a mattress is not hidden by it.
END_TOLERANCE_M = 0.01
_CHUNK = 4096  # triangles per batch: bounds the (rays x triangles) temporaries


@dataclass(frozen=True)
class Occluder:
    """A triangle soup that can hide keypoints. triangles: (F, 3, 3) float64, world, metres."""

    name: str
    triangles: np.ndarray

    @property
    def low(self) -> np.ndarray:
        return self.triangles.reshape(-1, 3).min(axis=0)

    @property
    def high(self) -> np.ndarray:
        return self.triangles.reshape(-1, 3).max(axis=0)


def occluder_from_mesh(name: str, vertices: np.ndarray, faces: np.ndarray) -> Occluder:
    """Triangles of a mesh. vertices: (V, 3) metres; faces: (F, 3) triangles or (F, 4) quads
    (split along their first diagonal)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] not in (3, 4):
        raise ValueError(f"faces must be (F, 3) or (F, 4), got {faces.shape}")
    if faces.shape[1] == 4:
        faces = np.concatenate([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]])
    return Occluder(name, vertices[faces])


def segments_hit_box(origin: np.ndarray, targets: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(R,) bool: the segment origin -> targets[r] meets the axis-aligned box [low, high] (slabs)."""
    direction = targets - origin
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = 1.0 / direction
        t0 = (low - origin) * inverse
        t1 = (high - origin) * inverse
    t_near = np.nanmax(np.minimum(t0, t1), axis=1)
    t_far = np.nanmin(np.maximum(t0, t1), axis=1)
    return (t_near <= t_far) & (t_far >= 0.0) & (t_near <= 1.0)


def segments_hit_triangles(origin: np.ndarray, targets: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(R,) bool: segment origin -> targets[r] crosses a triangle before END_TOLERANCE_M of its end.

    origin: (3,); targets: (R, 3); triangles: (F, 3, 3); all metres, one frame.
    """
    origin = np.asarray(origin, dtype=np.float64)
    direction = np.asarray(targets, dtype=np.float64) - origin  # (R, 3): t in [0, 1] spans the segment
    length = np.linalg.norm(direction, axis=1)
    t_max = 1.0 - END_TOLERANCE_M / np.maximum(length, 1e-9)
    hit = np.zeros(len(direction), dtype=bool)
    for start in range(0, len(triangles), _CHUNK):
        tri = triangles[start:start + _CHUNK]
        a = tri[:, 0]
        e1, e2 = tri[:, 1] - a, tri[:, 2] - a  # (F, 3)
        p = np.cross(direction[:, None, :], e2[None])  # (R, F, 3)
        det = np.einsum("rfc,fc->rf", p, e1)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / det
            s = origin - a  # (F, 3)
            u = np.einsum("rfc,fc->rf", p, s) * inv
            q = np.cross(s, e1)  # (F, 3)
            v = np.einsum("rc,fc->rf", direction, q) * inv
            t = np.einsum("fc,fc->f", e2, q)[None, :] * inv
            inside = (np.abs(det) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-9) & (t < t_max[:, None])
        hit |= inside.any(axis=1)
    return hit


def segments_blocked(origin: np.ndarray, targets: np.ndarray, occluders: list[Occluder]) -> np.ndarray:
    """(R,) bool: some occluder lies on the segment origin -> targets[r] (bounding boxes first)."""
    targets = np.asarray(targets, dtype=np.float64)
    blocked = np.zeros(len(targets), dtype=bool)
    for occluder in occluders:
        if len(occluder.triangles) == 0:
            continue
        candidates = np.flatnonzero(~blocked & segments_hit_box(origin, targets, occluder.low, occluder.high))
        if len(candidates):
            blocked[candidates] |= segments_hit_triangles(origin, targets[candidates], occluder.triangles)
    return blocked


def keypoint_visibility(
    keypoints: np.ndarray,
    in_image: np.ndarray,
    camera_center: np.ndarray,
    static_occluders: list[Occluder],
    people: list[Occluder | None],
) -> np.ndarray:
    """(P, K) uint8 COCO visibility for one frame.

    keypoints: (P, K, 3) world, metres; in_image: (P, K) bool, the keypoint projects inside the
    image; camera_center: (3,) metres; static_occluders: the room; people: each person's posed
    body this frame (None: no body), which hides the *other* people's keypoints.
    """
    P = len(keypoints)
    out = np.where(in_image, 2, 0).astype(np.uint8)
    for person in range(P):
        others = [body for index, body in enumerate(people) if index != person and body is not None]
        rows = np.flatnonzero(in_image[person])
        if len(rows):
            hidden = segments_blocked(camera_center, keypoints[person, rows], static_occluders + others)
            out[person, rows[hidden]] = 1
    return out
