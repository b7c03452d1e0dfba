"""Aligning the floor with the XY plane (thesis section 5.3, eq. 5.2-5.6).

The reconstruction lives in the OpenCV camera frame (x right, y down, z forward, metres). The
project's world frame is metres, Z up, floor = the plane z = 0. This module fits the floor plane
to the floor-mask points, builds the rigid transform camera -> world from it, and moves points and
SMPL root parameters with that transform.

Differences from the thesis, on purpose:
- Eq. 5.2 fits the plane as a graph z = b_z + b_x x + b_y y (vertical residuals along the camera's
  optical axis). Here the plane is n . p + d = 0 with orthogonal point-plane distances, so the
  10 cm RANSAC threshold is a true distance and a camera looking level (floor parallel to its
  optical axis) is no special case. The graph's normal (0, 1, b_y) x (1, 0, b_x) = (b_x, b_y, -1)
  is the same plane's normal up to sign and scale.
- Eq. 5.5 translates by the plane's z-intercept (0, 0, b_z) then rotates, which puts the world
  origin where the optical axis meets the floor (undefined for a level camera). Here the world
  origin is the floor point straight below the camera, so the camera sits at (0, 0, height).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..smpl_transform import transform_smpl

UP = np.array([0.0, 0.0, 1.0])
# The thesis' RANSAC inlier threshold, metres.
FLOOR_INLIER_THRESHOLD = 0.10


@dataclass(frozen=True)
class Plane:
    """A plane n . p + d = 0 in the camera frame.

    normal: (3,) float64 unit normal, oriented towards the camera (n . 0 + d = d > 0).
    offset: d, metres: the camera's height above the plane.
    inliers: (N,) bool, which of the fitted points lie within the inlier threshold.
    """

    normal: np.ndarray
    offset: float
    inliers: np.ndarray

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """(N,) metres, positive on the camera's side. points: (N, 3) camera frame."""
        return np.asarray(points, dtype=np.float64) @ self.normal + self.offset


def fit_floor_plane(
    points: np.ndarray,
    rng: np.random.Generator,
    inlier_threshold: float = FLOOR_INLIER_THRESHOLD,
    iterations: int = 500,
    score_samples: int = 20_000,
) -> Plane:
    """RANSAC plane fit to floor-mask points, refined by least squares (thesis eq. 5.2).

    points: (N, 3) float, metres, OpenCV camera frame (non-finite rows are ignored).
    rng: the only source of randomness (minimal samples and the scoring subsample).
    inlier_threshold: point-plane distance of an inlier, metres (the thesis' 10 cm).
    iterations: 3-point hypotheses, scored by the truncated squared distance (MSAC) on up to
        ``score_samples`` points drawn once.
    Returns a :class:`Plane` with the normal pointing towards the camera (d > 0).
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"fit_floor_plane: points must be (N, 3), got shape {p.shape}")
    finite = np.isfinite(p).all(axis=1)
    q = p[finite]
    if len(q) < 3:
        raise ValueError(
            f"fit_floor_plane: no floor points ({len(q)} finite points, need 3); "
            "is the floor mask empty in every key frame?"
        )
    # 1. Minimal-sample hypotheses: the plane through 3 random points.
    normals, offsets = _three_point_planes(q, rng, iterations)
    if len(normals) == 0:
        raise ValueError("fit_floor_plane: the floor points are collinear; no plane can be fitted")
    # 2. Score every hypothesis on one subsample: sum of min(distance^2, threshold^2).
    subset = q[rng.choice(len(q), size=min(score_samples, len(q)), replace=False)]
    costs = np.concatenate([
        np.minimum((subset @ normals[i:i + 64].T + offsets[i:i + 64]) ** 2, inlier_threshold**2).sum(0)
        for i in range(0, len(normals), 64)
    ])
    best = int(np.argmin(costs))
    normal, offset = normals[best], float(offsets[best])
    # 3. Least-squares refinement (SVD) on the inliers of all points, until the set settles.
    inliers = np.abs(q @ normal + offset) < inlier_threshold
    for _ in range(10):
        normal, offset = _plane_svd(q[inliers])
        updated = np.abs(q @ normal + offset) < inlier_threshold
        if np.array_equal(updated, inliers):
            break
        inliers = updated
    # 4. Orient the normal towards the camera at the origin: n . 0 + d = d > 0.
    if abs(offset) < 1e-6:
        raise ValueError("fit_floor_plane: the fitted plane passes through the camera centre; it cannot be the floor")
    if offset < 0.0:
        normal, offset = -normal, -offset
    mask = np.zeros(len(p), dtype=bool)
    mask[np.flatnonzero(finite)] = np.abs(q @ normal + offset) < inlier_threshold
    return Plane(normal, float(offset), mask)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation R (3, 3) with R a^ = b^ (Rodrigues, thesis eq. 5.3-5.4).

    v = a^ x b^, c = a^ . b^, s = |v|, K = [v]_x (eq. 5.3),
    R = I + K + K^2 (1 - c) / s^2 (eq. 5.4), evaluated as I + K + K^2 / (1 + c)
    (equal since s^2 = 1 - c^2), which stays exact as a -> b (R -> I). For a -> -b the axis is
    undefined: a is first turned by pi about an axis perpendicular to it, then the remaining
    near-identity rotation follows.
    a, b: (3,) non-zero vectors (normalised here).
    """
    a_hat, b_hat = _unit(a, "a"), _unit(b, "b")
    # 1. Cosine of the angle.
    c = float(a_hat @ b_hat)
    if c < -1.0 + 1e-3:
        # 2'. Nearly opposite: a half turn about an axis perpendicular to a maps a to -a.
        axis = _unit(np.cross(a_hat, np.eye(3)[int(np.argmin(np.abs(a_hat)))]), "axis")
        half_turn = 2.0 * np.outer(axis, axis) - np.eye(3)
        return rotation_between(-a_hat, b_hat) @ half_turn
    # 2. Cross product and its skew-symmetric matrix (eq. 5.3).
    v = np.cross(a_hat, b_hat)
    K = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    # 3. Rodrigues (eq. 5.4), with (1 - c) / s^2 = 1 / (1 + c).
    return np.eye(3) + K + K @ K / (1.0 + c)


def floor_alignment(plane: Plane) -> tuple[np.ndarray, np.ndarray]:
    """The rigid transform camera -> floor world, p_world = R p_camera + t (thesis eq. 5.5).

    World: metres, Z up, floor z = 0. R turns the floor normal onto +Z (eq. 5.3-5.4) and then
    about Z (yaw) so that the camera's viewing direction, projected on the floor, points along +Y
    (the camera looks "north"; its image right maps to +X). A camera looking straight down uses
    its image-up direction (-y) instead. t = (0, 0, d) lifts the floor to z = 0 and puts the
    camera at (0, 0, height) above the world origin.
    Returns (R (3, 3) proper rotation, t (3,) metres).
    """
    normal = _unit(plane.normal, "plane.normal")
    # 1. Tilt: floor normal -> +Z (Rodrigues).
    tilt = rotation_between(normal, UP)
    # 2. Yaw: the horizontal part of the viewing direction -> +Y.
    heading = (tilt @ np.array([0.0, 0.0, 1.0]))[:2]
    if np.linalg.norm(heading) < 1e-6:
        heading = (tilt @ np.array([0.0, -1.0, 0.0]))[:2]
    angle = np.pi / 2.0 - np.arctan2(heading[1], heading[0])
    cos, sin = np.cos(angle), np.sin(angle)
    yaw = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    # 3. Translation: a floor point has n . p = -d, so z_world = n . p + d = 0.
    return yaw @ tilt, np.array([0.0, 0.0, float(plane.offset)])


def camera_to_world(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(4, 4) homogeneous camera -> world matrix [[R, t], [0, 1]] (OpenCV camera, Z-up world)."""
    matrix = np.eye(4)
    matrix[:3, :3] = np.asarray(R, dtype=np.float64)
    matrix[:3, 3] = np.asarray(t, dtype=np.float64)
    return matrix


def transform_points(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """p' = R p + t for points (..., 3) float, metres. Returns (..., 3) float64."""
    return np.asarray(points, dtype=np.float64) @ np.asarray(R, dtype=np.float64).T + np.asarray(t, dtype=np.float64)


def align_smpl_roots(
    global_orient: np.ndarray,
    transl: np.ndarray,
    rest_pelvis: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """SMPL root parameters of camera-frame HMR predictions, moved into the floor world.

    global_orient: (N, 3) axis-angle radians, body -> camera (HMR2.0's root rotation).
    transl: (N, 3) metres, SMPL transl in the camera frame (HMR2.0's cam_t).
    rest_pelvis: (3,) or (N, 3) metres, J_0 of each body's betas (template frame).
    R, t: camera -> world from :func:`floor_alignment`.
    Returns (global_orient' (N, 3), transl' (N, 3)) with every posed joint x moved to R x + t.

    Orientation: O maps body to camera and R camera to world, so O* = R O. The thesis writes
    eq. 5.6 as O* = (R O^-1)^-1, which equals O R^T: right only if O is read as the world-to-body
    rotation (then its inverse is body-to-world and R O^-1 is the new body-to-world). Applied to
    HMR's body-to-camera O it misplaces the joints (see the tests). Translation: SMPL rotates
    about the rest pelvis J_0, so transl' = R (J_0 + transl) + t - J_0 (eq. 5.5 applied to the
    root joint); both live in :func:`addon.core.smpl_transform.transform_smpl`.
    """
    orient = np.asarray(global_orient, dtype=np.float64)
    translation = np.asarray(transl, dtype=np.float64)
    pelvis = np.asarray(rest_pelvis, dtype=np.float64)
    if orient.ndim != 2 or orient.shape[1] != 3:
        raise ValueError(f"align_smpl_roots: global_orient must be (N, 3), got shape {orient.shape}")
    if translation.shape != orient.shape:
        raise ValueError(f"align_smpl_roots: transl must be {orient.shape}, got shape {translation.shape}")
    if pelvis.shape not in ((3,), orient.shape):
        raise ValueError(f"align_smpl_roots: rest_pelvis must be (3,) or {orient.shape}, got shape {pelvis.shape}")
    return transform_smpl(orient, translation, pelvis, R, t)


def _unit(vector: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64).reshape(3)
    norm = np.linalg.norm(v)
    if not np.isfinite(norm) or norm < 1e-12:
        raise ValueError(f"{name}: expected a non-zero finite 3-vector, got {v.tolist()}")
    return v / norm


def _three_point_planes(points: np.ndarray, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals (M, 3) and offsets (M,) of planes through random point triples (M <= count)."""
    triples = points[rng.integers(0, len(points), size=(count, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    scale = np.ptp(points, axis=0).max() ** 2
    good = lengths > 1e-9 * max(scale, 1e-12)
    normals = normals[good] / lengths[good, None]
    return normals, -np.einsum("ij,ij->i", normals, triples[good, 0])


def _plane_svd(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Total-least-squares plane: the normal is the direction of least spread about the centroid."""
    if len(points) < 3:
        raise ValueError(f"fit_floor_plane: only {len(points)} inliers; cannot refine the floor plane")
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    normal = vt[-1]
    return normal, float(-normal @ centroid)
