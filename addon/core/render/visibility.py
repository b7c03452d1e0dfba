"""Occlusion-aware COCO visibility: a segment from the camera to each keypoint, cast against the
room's furniture, the other people's bodies and the person's own body (numpy, no renderer needed).

v = 0: no image (behind the camera, outside the fisheye circle or outside the frame), COCO's
"not labelled"; v = 1: in the frame but hidden; v = 2: visible. A keypoint is hidden when

* furniture or *another* person crosses its segment more than ``END_TOLERANCE_M`` before it, or
* its *own* body does so more than ``SELF_OCCLUSION_M`` before it: keypoints lie inside the body
  or on its surface, so the visible surface along the camera ray is always a little in front of
  them; more than 0.15 m in front means something else of the body (the back of the head for a
  face turned away, an arm across the chest) hides it. This is PeopleSansPeople's labeller rule
  (reference §3.5, ``self_occ=0.15``), cast against the mesh instead of a depth image.

Segment-triangle tests are Möller & Trumbore (1997), "Fast, minimum storage ray-triangle
intersection", restricted to the segment's parameter range. Two culls keep it cheap: each
occluder's bounding box first (the slab method), so far-away bodies cost nothing; then each
triangle's bounding cone seen from the camera against each segment's direction, so only the few
triangles around a segment (tens of a 14k-triangle body) get the exact test.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Keep a hit this far (metres) before the keypoint: a hand resting on a mattress is not hidden by it.
END_TOLERANCE_M = 0.01
# The person's own surface may lie this far (metres) in front of its keypoint (PSP's default).
SELF_OCCLUSION_M = 0.15
_PAIRS = 65536  # (segment, triangle) pairs per Möller-Trumbore batch: bounds the temporaries


@dataclass(frozen=True)
class Occluder:
    """A triangle soup that can hide keypoints. triangles: (F, 3, 3) float64, world, metres."""

    name: str
    triangles: np.ndarray

    @cached_property
    def low(self) -> np.ndarray:
        """(3,) the bounding box's lower corner, metres."""
        return self.triangles.reshape(-1, 3).min(axis=0)

    @cached_property
    def high(self) -> np.ndarray:
        """(3,) the bounding box's upper corner, metres."""
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


def segments_hit_triangles(
    origin: np.ndarray, targets: np.ndarray, triangles: np.ndarray, end_tolerance_m: float | np.ndarray = END_TOLERANCE_M
) -> np.ndarray:
    """(R,) bool: segment origin -> targets[r] crosses a triangle more than ``end_tolerance_m``
    before its end.

    origin: (3,); targets: (R, 3); triangles: (F, 3, 3); end_tolerance_m: scalar or (R,); all
    metres, one frame.
    """
    origin = np.asarray(origin, dtype=np.float64)
    direction = np.asarray(targets, dtype=np.float64).reshape(-1, 3) - origin  # (R, 3): t in [0, 1] spans it
    length = np.maximum(np.linalg.norm(direction, axis=1), 1e-9)
    t_max = 1.0 - np.broadcast_to(np.asarray(end_tolerance_m, dtype=np.float64), length.shape) / length
    hit = np.zeros(len(direction), dtype=bool)
    if len(direction) == 0 or len(triangles) == 0:
        return hit
    # 1. Cull: a triangle lies inside the ball around its centroid through its farthest corner; a
    #    segment from the origin can cross it only if its direction lies within the cone from the
    #    origin around that ball (angle to the centre <= asin(radius / distance)).
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    centre = (a + b + c) / 3.0  # (F, 3)
    radius_squared = np.maximum(np.maximum(_squared(a - centre), _squared(b - centre)), _squared(c - centre))
    radius_squared = (np.sqrt(radius_squared) + 1e-6) ** 2  # slack for rounding: the cull stays conservative
    relative = centre - origin
    distance_squared = _squared(relative)
    outside = distance_squared > radius_squared
    cos_cone = np.where(outside, np.sqrt(np.clip(1.0 - radius_squared / np.maximum(distance_squared, 1e-30), 0.0, 1.0)),
                        -2.0)  # the origin inside a ball: every direction
    along = direction / length[:, None]  # (R, 3) unit
    near = along @ (relative / np.sqrt(np.maximum(distance_squared, 1e-30))[:, None]).T >= cos_cone[None, :]
    rays, faces = np.divmod(np.flatnonzero(near), len(triangles))
    # 2. Möller-Trumbore on the surviving (segment, triangle) pairs.
    for start in range(0, len(rays), _PAIRS):
        ray, face = rays[start:start + _PAIRS], faces[start:start + _PAIRS]
        d, tri = direction[ray], triangles[face]
        a = tri[:, 0]
        e1, e2 = tri[:, 1] - a, tri[:, 2] - a
        p = np.cross(d, e2)
        det = np.einsum("nc,nc->n", p, e1)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / det
            s = origin - a
            u = np.einsum("nc,nc->n", p, s) * inv
            q = np.cross(s, e1)
            v = np.einsum("nc,nc->n", d, q) * inv
            t = np.einsum("nc,nc->n", e2, q) * inv
            inside = (np.abs(det) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-9) & (t < t_max[ray])
        hit[ray[inside]] = True
    return hit


def _squared(vectors: np.ndarray) -> np.ndarray:
    """(N,) squared lengths of (N, 3) vectors."""
    return np.einsum("nc,nc->n", vectors, vectors)


def segments_blocked(
    origin: np.ndarray, targets: np.ndarray, occluders: list[Occluder], end_tolerance_m: float | np.ndarray = END_TOLERANCE_M
) -> np.ndarray:
    """(R,) bool: some occluder lies on the segment origin -> targets[r] more than
    ``end_tolerance_m`` (scalar or (R,), metres) before its end (bounding boxes first)."""
    targets = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
    tolerance = np.broadcast_to(np.asarray(end_tolerance_m, dtype=np.float64), (len(targets),))
    blocked = np.zeros(len(targets), dtype=bool)
    for occluder in occluders:
        if len(occluder.triangles) == 0:
            continue
        candidates = np.flatnonzero(~blocked & segments_hit_box(origin, targets, occluder.low, occluder.high))
        if len(candidates):
            blocked[candidates] |= segments_hit_triangles(origin, targets[candidates], occluder.triangles,
                                                          tolerance[candidates])
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
    body this frame (None: no body), which hides the other people's keypoints and, beyond
    ``SELF_OCCLUSION_M``, its own.
    """
    out = np.where(in_image, 2, 0).astype(np.uint8)
    owner, index = np.nonzero(in_image)
    targets = np.asarray(keypoints, dtype=np.float64)[owner, index]  # (N, 3): the imaged keypoints
    blocked = segments_blocked(camera_center, targets, static_occluders)
    for person, body in enumerate(people):
        if body is None:
            continue
        rows = np.flatnonzero(~blocked)
        tolerance = np.where(owner[rows] == person, SELF_OCCLUSION_M, END_TOLERANCE_M)
        blocked[rows] = segments_blocked(camera_center, targets[rows], [body], tolerance)
    out[owner[blocked], index[blocked]] = 1
    return out
