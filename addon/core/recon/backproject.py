"""Pinhole back-projection of depth maps into camera-frame point clouds, and its inverse.

Frames follow the Teton sequence format (docs/teton_sequence.md): pixel (u, v) has u to the
right and v down, origin at the top-left corner of the top-left pixel, so pixel (i, j) has its
centre at (i + 0.5, j + 0.5). Cameras use the OpenCV convention: x right, y down, z forward
(into the scene), metres. "Depth" is the z coordinate (distance along the optical axis), not the
distance along the ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..camera import intrinsics_from_fov, project_camera_points

DEFAULT_HORIZONTAL_FOV_DEG = 90.0


@dataclass(frozen=True)
class PointCloud:
    """Points with optional colours and per-point labels.

    points: (N, 3) float64, metres (OpenCV camera frame unless stated otherwise).
    colors: (N, 3) uint8 RGB, or None.
    labels: (N,) int64 mask label ids; -1 where unlabelled.
    """

    points: np.ndarray
    colors: np.ndarray | None
    labels: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.points)
        if self.points.shape != (n, 3):
            raise ValueError(f"PointCloud.points must be (N, 3), got {self.points.shape}")
        if self.colors is not None and self.colors.shape != (n, 3):
            raise ValueError(f"PointCloud.colors must be ({n}, 3), got {self.colors.shape}")
        if self.labels.shape != (n,):
            raise ValueError(f"PointCloud.labels must be ({n},), got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.points)


def default_intrinsics(width: int, height: int, horizontal_fov_deg: float = DEFAULT_HORIZONTAL_FOV_DEG) -> np.ndarray:
    """Intrinsics K (3, 3), pixels, for a W x H image when the sequence gives none.

    Square pixels with f = (W / 2) / tan(fov / 2) and the principal point at the image centre
    (W / 2, H / 2), which is the centre of the pixel grid in the pixel-centre convention.
    """
    if width < 1 or height < 1:
        raise ValueError(f"default_intrinsics: image size must be positive, got {width} x {height}")
    return intrinsics_from_fov(int(width), int(height), horizontal_fov_deg)


def backproject(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame position of every pixel (thesis draft eq. 4.4-4.5).

    X = Z (x - p_x) / f_x,  Y = Z (y - p_y) / f_y,  Z = depth
    with (x, y) = (u + 0.5, v + 0.5) the pixel centre. (The draft's eq. 4.5 prints f_x in the
    Y equation; that is a typo: the vertical coordinate divides by the vertical focal length f_y.)

    depth: (H, W) float, metres along the optical axis; non-finite or non-positive = invalid.
    K: (3, 3) pinhole intrinsics, pixels, zero skew.
    Returns (H, W, 3) float64, metres, OpenCV camera frame; NaN at invalid pixels.
    """
    fx, fy, cx, cy = _intrinsics(K)
    z = np.asarray(depth, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"backproject: depth must be an (H, W) map, got shape {z.shape}")
    z = np.where(np.isfinite(z) & (z > 0.0), z, np.nan)
    height, width = z.shape
    # 1. Pixel centres (x, y) = (u + 0.5, v + 0.5).
    x = np.arange(width, dtype=np.float64) + 0.5
    y = np.arange(height, dtype=np.float64) + 0.5
    # 2. Eq. 4.5 (Y with f_y): scale the normalised image coordinates by the depth.
    X = z * ((x - cx) / fx)[None, :]
    Y = z * ((y - cy) / fy)[:, None]
    return np.stack([X, Y, z], axis=-1)


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixel coordinates of camera-frame points, the inverse of :func:`backproject` (eq. 4.4).

    x = f_x X / Z + p_x,  y = f_y Y / Z + p_y
    points: (N, 3) float, metres, OpenCV camera frame. K: (3, 3).
    Returns (N, 2) float64 continuous pixel coordinates (pixel (i, j) has its centre at
    (i + 0.5, j + 0.5)); NaN for points not in front of the camera (Z <= 0).
    """
    _intrinsics(K)  # checks K
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"project: points must be (N, 3), got shape {p.shape}")
    return project_camera_points(p, K, min_depth=0.0)


def point_cloud(
    depths: Sequence[np.ndarray] | np.ndarray,
    colors: Sequence[np.ndarray] | None = None,
    masks: Sequence[np.ndarray] | None = None,
    *,
    K: np.ndarray,
    valid: Sequence[np.ndarray] | None = None,
) -> PointCloud:
    """Back-project the valid pixels of every key frame into one camera-frame cloud.

    The monitoring camera is static, so all key frames share one camera frame.
    depths: K maps (H, W) metres (or one (H, W) map); non-finite / non-positive = invalid.
    colors: optional K images (H, W, 3) uint8 RGB.
    masks: optional K label maps (H, W) int (ids into the sequence's mask_labels).
    K: (3, 3) intrinsics. valid: optional K masks (H, W) bool; False drops the pixel.
    Returns a :class:`PointCloud` (labels -1 without masks), frames concatenated in order.
    """
    depth_list = [depths] if isinstance(depths, np.ndarray) and depths.ndim == 2 else list(depths)
    color_list = _per_frame("colors", colors, depth_list)
    mask_list = _per_frame("masks", masks, depth_list)
    valid_list = _per_frame("valid", valid, depth_list)
    points, cols, labels = [], [], []
    for k, depth in enumerate(depth_list):
        # 1. Back-project the whole frame (eq. 4.4-4.5).
        xyz = backproject(depth, K)
        # 2. Keep pixels with a depth that the caller did not mask out.
        keep = np.isfinite(xyz[..., 2])
        if valid_list is not None:
            keep &= _frame_array("valid", k, valid_list[k], xyz.shape[:2]).astype(bool)
        points.append(xyz[keep])
        # 3. Carry colours and labels of the kept pixels.
        if color_list is not None:
            image = _frame_array("colors", k, color_list[k], (*xyz.shape[:2], 3))
            cols.append(np.asarray(image, dtype=np.uint8)[keep])
        if mask_list is not None:
            labels.append(_frame_array("masks", k, mask_list[k], xyz.shape[:2]).astype(np.int64)[keep])
        else:
            labels.append(np.full(int(keep.sum()), -1, dtype=np.int64))
    cloud_points = np.concatenate(points) if points else np.zeros((0, 3))
    if len(cloud_points) == 0:
        raise ValueError("depths: no valid depth in any key frame (all pixels non-finite, non-positive or masked)")
    return PointCloud(cloud_points, np.concatenate(cols) if color_list is not None else None, np.concatenate(labels))


def voxel_downsample(
    cloud: PointCloud,
    voxel_size: float | None = None,
    *,
    point_budget: int | None = None,
) -> PointCloud:
    """One point per occupied voxel: mean position, mean colour, majority label.

    Give exactly one of voxel_size (metres, > 0) or point_budget (points, >= 1). With a budget
    the voxel size is chosen by bisection (in log scale) as the smallest size found whose
    occupied-voxel count is at or under the budget, stopping once the count is within 1% under
    it or the size bracket is 0.1% wide (sizes are whole multiples of extent / 2^20, see
    _FINE_STEPS); a cloud already within budget is returned unchanged. Voxels are anchored at the cloud's minimum corner. Label ties go to the smaller label id.
    Returns a :class:`PointCloud` ordered by voxel index.
    """
    if (voxel_size is None) == (point_budget is None):
        raise ValueError("voxel_downsample: give exactly one of voxel_size or point_budget")
    if len(cloud) == 0:
        return cloud
    points = cloud.points
    origin = points.min(axis=0)
    if point_budget is not None:
        if point_budget < 1:
            raise ValueError(f"point_budget must be >= 1, got {point_budget}")
        if len(cloud) <= point_budget:
            return cloud
        coords = _coords_for_budget(points, origin, int(point_budget))
    elif not voxel_size > 0.0:
        raise ValueError(f"voxel_size must be positive, got {voxel_size}")
    else:
        coords = _quantise(points, origin, float(voxel_size))
    # 1. Voxel of every point as one integer key, then as a voxel number 0..M-1.
    keys, cells = _grid_keys(coords)
    occupied, inverse = _voxel_numbers(keys, cells)
    counts = np.bincount(inverse, minlength=len(occupied)).astype(np.float64)
    # 2. Mean position (and colour) per voxel.
    means = np.stack([np.bincount(inverse, weights=points[:, i]) for i in range(3)], axis=-1) / counts[:, None]
    colors = None
    if cloud.colors is not None:
        sums = np.stack([np.bincount(inverse, weights=cloud.colors[:, i].astype(np.float64)) for i in range(3)], axis=-1)
        colors = np.clip(np.rint(sums / counts[:, None]), 0, 255).astype(np.uint8)
    # 3. Majority label per voxel.
    labels = _majority(inverse, cloud.labels, len(occupied))
    return PointCloud(means, colors, labels)


def _intrinsics(K: np.ndarray) -> tuple[float, float, float, float]:
    """(f_x, f_y, p_x, p_y) of a zero-skew pinhole K, validated."""
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"K must be a (3, 3) intrinsics matrix, got shape {K.shape}")
    if not (K[0, 0] > 0 and K[1, 1] > 0) or K[0, 1] != 0 or not np.allclose(K[2], [0.0, 0.0, 1.0]):
        raise ValueError(f"K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0, got {K.tolist()}")
    return float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])


def _per_frame(name: str, values, depths: list) -> list | None:
    """The per-frame list of an optional input, checked against the number of depth maps."""
    if values is None:
        return None
    if isinstance(values, np.ndarray) and len(depths) == 1 and values.ndim in (2, 3) and values.shape[:2] == np.shape(depths[0]):
        values = [values]
    values = list(values)
    if len(values) != len(depths):
        raise ValueError(f"{name}: {len(values)} frames for {len(depths)} depth maps")
    return values


def _frame_array(name: str, k: int, value, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"{name}[{k}]: expected shape {shape}, got {array.shape}")
    return array


# Grids up to this many cells count occupancy in a dense boolean table (64 MiB) instead of
# sorting the keys: several times faster on the millions of points of ten key frames.
_DENSE_CELLS = 1 << 26
# The budget search quantises once to this many steps across the cloud's largest extent and tries
# voxel sizes that are whole multiples of a step: a voxel index is then an integer division of
# the fine index, floor(floor(x / step) / m) = floor(x / (m step)), exact and much cheaper than
# re-quantising float coordinates at every trial.
_FINE_STEPS = 1 << 20


def _quantise(points: np.ndarray, origin: np.ndarray, size: float) -> list[np.ndarray]:
    """Integer voxel coordinates per axis, three (N,) int64 arrays; raises if the grid overflows."""
    coords = [np.floor((points[:, axis] - origin[axis]) / size).astype(np.int64) for axis in range(3)]
    if np.prod([float(c.max()) + 1.0 for c in coords]) >= 2.0**62:
        raise ValueError(f"voxel_size {size:g} m is too small for a cloud this large")
    return coords


def _grid_keys(coords: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """(N,) int64 linear voxel index and the number of cells of the grid."""
    dims = [int(c.max()) + 1 for c in coords]
    keys = (coords[0].astype(np.int64) * dims[1] + coords[1]) * dims[2] + coords[2]
    return keys, dims[0] * dims[1] * dims[2]


def _voxel_numbers(keys: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """The occupied keys, ascending (M,), and each point's voxel number in 0..M-1 (N,)."""
    if cells > _DENSE_CELLS:
        occupied, inverse = np.unique(keys, return_inverse=True)
        return occupied, inverse
    table = np.zeros(cells, dtype=bool)
    table[keys] = True
    occupied = np.flatnonzero(table)
    if cells > _DENSE_CELLS // 4:  # an int32 rank table would pass 64 MiB
        return occupied, np.searchsorted(occupied, keys)
    rank = np.cumsum(table, dtype=np.int32) - 1
    return occupied, rank[keys].astype(np.int64)


def _count_occupied(coords: list[np.ndarray]) -> int:
    keys, cells = _grid_keys(coords)
    if cells > _DENSE_CELLS:
        return int(np.unique(keys).size)
    table = np.zeros(cells, dtype=bool)
    table[keys] = True
    return int(np.count_nonzero(table))


def _coords_for_budget(points: np.ndarray, origin: np.ndarray, budget: int) -> list[np.ndarray]:
    """Voxel coordinates at the size whose occupied count is at or just under ``budget``.

    Sizes are m fine steps (see _FINE_STEPS); m = _FINE_STEPS + 1 puts everything in one voxel.
    """
    extent = float(np.max(points.max(axis=0) - origin))
    if extent <= 0.0:
        return [np.zeros(len(points), dtype=np.int64)] * 3  # every point coincides
    fine = [c.astype(np.int32) for c in _quantise(points, origin, extent / _FINE_STEPS)]

    def count(m: int) -> int:
        return _count_occupied([axis // m for axis in fine])

    # 1. Bracket lo (too many voxels) < hi (few enough). The first guess and the steps assume a
    #    surface, which fills ~ (extent / size)^2 voxels; every step moves by at least 5%.
    m = int(np.clip(round(_FINE_STEPS / np.sqrt(budget)), 1, _FINE_STEPS + 1))
    lo, hi, hi_count = 0, 0, 0
    while True:
        c = count(m)
        if c > budget:
            lo = m
            if hi:
                break
            m = min(int(np.ceil(m * max(np.sqrt(c / budget), 1.05))), _FINE_STEPS + 1)
        else:
            hi, hi_count = m, c
            if lo or m == 1:
                break
            m = max(int(np.floor(m / max(np.sqrt(budget / max(c, 1)), 1.05))), 1)
    # 2. Bisect in log size until the count is within 1% under the budget.
    while hi - lo > 1 and hi > 1.001 * lo and hi_count < 0.99 * budget:
        mid = min(max(int(round(np.sqrt(lo * hi))), lo + 1), hi - 1)
        c = count(mid)
        if c > budget:
            lo = mid
        else:
            hi, hi_count = mid, c
    return [(axis // hi).astype(np.int64) for axis in fine]


def _majority(voxel: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """(count,) int64: the most frequent label of each voxel; ties -> the smaller label id."""
    shift = int(labels.min())
    span = int(labels.max()) - shift + 1
    if span == 1:
        return np.full(count, shift, dtype=np.int64)
    pair = voxel.astype(np.int64) * span + (labels - shift)
    if count * span <= _DENSE_CELLS:
        # argmax returns the first maximum, i.e. the smallest label among ties.
        votes = np.bincount(pair, minlength=count * span).reshape(count, span)
        return votes.argmax(axis=1).astype(np.int64) + shift
    pair_keys, pair_counts = np.unique(pair, return_counts=True)
    pair_voxel, pair_label = pair_keys // span, pair_keys % span + shift
    # Sort by voxel, then count descending, then label ascending; the first of each voxel wins.
    order = np.lexsort((pair_label, -pair_counts, pair_voxel))
    first = np.ones(order.size, dtype=bool)
    first[1:] = pair_voxel[order][1:] != pair_voxel[order][:-1]
    result = np.empty(count, dtype=np.int64)
    result[pair_voxel[order][first]] = pair_label[order][first]
    return result
