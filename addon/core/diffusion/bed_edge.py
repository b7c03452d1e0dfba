"""Sitters onto the bed's edge: a patient the model sits up beside the bed is sat on its edge.

In the actions that sit someone on a bed's edge (getting into or out of bed, alone or helped,
sitting on it, falling from it: ``labels.ON_BED_EDGE_SCRIPTS``) the bundled model sits the
patient down up to a metre beside the bed, in mid-air with the feet dangling: on the
evaluation's 128 held-out test requests (default sampler) such sitters were 101 of the 382
person-frames that hovered (``eval.physical.floor_float``), and 13 % of the sitting frames of
those actions had the pelvis on a bed (real clips: 92 %). :func:`sit_on_bed_edges` runs once,
on the sampler's result (``corrections.Corrections.finish``), after the chairs'
``seating.seat_sitters``. For each person who may sit there (``seating.sitting_persons``)
whose longest run of sitting frames (``motion.sitting``; runs at most ``seating.GAP_FRAMES``
apart joined) lasts ``seating.MIN_SIT_S`` or more, with its mean pelvis within REACH_M of a bed and not
already DEEP_M inside it (sitting up in bed), it (in a scene of several people, only where the
run's pelvis stays within GROUP_DRIFT_M of its mean: the model's helped patients travel a metre
or two towards the helper while they "sit", bent, and moving them apart lost the helper's
hands on them in 3 of 8 clips)

1. moves every frame that does not lie (``motion.level.lying_weight`` below LYING) rigidly, eased
   in and out over EASE_FRAMES frames next to the frames that lie (which stay on the bed where
   ``onto_support`` laid them): a shift along the floor that puts the run's mean ankles
   ``seating.ANKLE_AHEAD_M`` ahead of the sitting place (no turn: a turn that kept the frames
   after the sitting out of the furniture, as ``seating`` turns the walk to a chair, had only
   the few frames of standing up to go by and turned them by up to 120 degrees);
2. sits the body down as ``seating.seated_features`` sits it on a chair: the pelvis to the place,
   ``seating.SIT_ABOVE_M`` over the bed's top, EDGE_INSIDE_M inside the long side nearest to the
   pelvis whose front is free floor (from FRONT_NEAR_M to FRONT_M out), no nearer than
   END_MARGIN_M to either end; the body facing out of the bed, the feet on the floor ahead.

In the evaluation (reports/eval.md, the same requests) this took the sitting frames of those
actions on a bed from 13 % to 61 %, Float from 0.031 to 0.021 (real 0.021) and foot skating
from 0.0171 to 0.0146; scene penetration went from 1.27 % to 1.29 % of person-frames, contact
recall stayed 0.91, and the evaluator, which sees the moved features, scored R-precision top-3
0.798 instead of 0.810 and the reworded prompts' classifier agreement 0.708 instead of 0.717.

Beds come from the scene's points as the support map finds them (``onto_support``: surfaces
between SURFACE_MIN_M and SURFACE_MAX_M covering BED_AREA_M2 or more), each as a rectangle: the
smallest rectangle around the points on its top (within ``seating.TOP_BAND_M`` of it, in the
cells whose top is that high: a bedside table next to the bed joins its cells, and the table's
sides would widen it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage
from torch import Tensor

from ..motion.level import LYING, lying_weight
from ..placement import CELL_M, HeightMap, height_map
from ..time_series import eased_peaks
from .keep_out import LOW_OBSTACLE_M
from .onto_support import BED_AREA_M2, SURFACE_MAX_M, SURFACE_MIN_M
from .seating import SIT_ABOVE_M, TOP_BAND_M, Seating, longest_sitting, seat_persons, toward_seat

REACH_M = 2.0  # a sitter further than this from every bed's edge was not meant to sit on one
DEEP_M = 0.3  # a pelvis this far inside a bed's long sides sits up in bed, not on its edge
EDGE_INSIDE_M = 0.12  # a bed-edge sitter's pelvis this far inside the side (the procedural sitters')
END_MARGIN_M = 0.3  # ... and at least this far from either end of the bed
FRONT_M = 0.45  # the floor this far out from a side must be free for a sitter's feet ...
FRONT_NEAR_M = 0.2  # ... from this far out (nearer, the height map spreads the bed's top)
EASE_FRAMES = 4  # the rigid move eases in and out over this many frames next to the frames that lie
AXIS_STEPS = 180  # a bed's long axis is found to the degree
GROUP_DRIFT_M = 0.4  # with others in the scene, a "sitter" whose pelvis strays further is being moved (helped up)
_PELVIS = 0


@dataclass(frozen=True)
class Beds:
    """centre: (K, 2) metres; axis: (K,) radians from +x, counter-clockwise, each bed's long
    axis; half: (K, 2) metres, half its length and half its width; top: (K,) metres; grid: the
    height map they come from (whose free floor a sitter's feet need)."""

    centre: np.ndarray
    axis: np.ndarray
    half: np.ndarray
    top: np.ndarray
    grid: HeightMap


def beds_of(points: np.ndarray, grid: HeightMap | None = None) -> Beds:
    """The beds of scene points (N, 3) metres (room frame, floor z = 0); none: empty arrays.
    grid: their ``placement.height_map``, when made."""
    points = np.asarray(points, dtype=np.float64)
    grid = height_map(points) if grid is None else grid
    surface = (grid.top >= SURFACE_MIN_M) & (grid.top <= SURFACE_MAX_M)
    labels, count = ndimage.label(surface)
    ix, iy, in_grid = grid.cells(points[:, :2])
    centres, axes, halves, tops = [], [], [], []
    for k in range(1, count + 1):
        cells = labels == k
        if cells.sum() * CELL_M**2 < BED_AREA_M2:
            continue
        height = float(np.median(grid.top[cells]))
        level = cells & (np.abs(grid.top - height) <= TOP_BAND_M)  # not a bedside table's spread top next to it
        on_top = in_grid & level[ix, iy] & (np.abs(points[:, 2] - height) <= TOP_BAND_M)
        xy = points[on_top, :2] if on_top.sum() >= 3 else grid.origin + (np.argwhere(cells) + 0.5) * CELL_M
        middle = xy.mean(axis=0)
        axis = _long_axis(xy - middle)
        local = _to_bed(xy, middle, axis)
        low, high = local.min(axis=0), local.max(axis=0)
        centres.append(middle + _from_bed_direction((low + high) / 2, axis))
        axes.append(axis)
        halves.append((high - low) / 2)
        tops.append(height)
    return Beds(np.reshape(centres, (-1, 2)), np.asarray(axes, dtype=np.float64), np.reshape(halves, (-1, 2)),
                np.asarray(tops, dtype=np.float64), grid)


def _long_axis(xy: np.ndarray) -> float:
    """(n, 2) points (m) about their mean -> the long side's direction of the smallest rectangle
    around them, of AXIS_STEPS directions over half a turn (radians from +x)."""
    angles = np.linspace(0.0, np.pi, AXIS_STEPS, endpoint=False)
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    along, across = cos * xy[:, 0] + sin * xy[:, 1], -sin * xy[:, 0] + cos * xy[:, 1]  # (A, n)
    length, width = np.ptp(along, axis=1), np.ptp(across, axis=1)
    best = int(np.argmin(length * width))
    return float(angles[best] if length[best] >= width[best] else angles[best] + np.pi / 2)


def sit_on_bed_edges(x0: Tensor, mean: np.ndarray, std: np.ndarray, beds: list[Beds | None],
                     sitters: Sequence[Sequence[bool] | None], *, fps: float, rest_joints: np.ndarray) -> Tensor:
    """A sampler's result x0 (B, P, T, F), normalised, with its bed-edge sitters on the edge of
    the bed (module docstring). beds: per batch row the scene's Beds (None: no scene); sitters:
    per row, per person whether they may be sat there (None: nobody); fps: the clips' frame rate;
    rest_joints: (24, 3) metres, the decode's skeleton. Rows and persons not moved are returned
    as they are."""
    return seat_persons(x0, mean, std, [None if b is None or not len(b.top) else b for b in beds], sitters,
                        lambda joints, row_beds, persons: edge_seating(
                            joints, row_beds, fps, max_drift=np.inf if persons == 1 else GROUP_DRIFT_M),
                        rest_joints=rest_joints)


def edge_seating(joints: np.ndarray, beds: Beds, fps: float, max_drift: float = np.inf) -> Seating | None:
    """One person's joints (T, 22, 3) m at ``fps`` -> their Seating onto the nearest bed's edge
    (module docstring), or None when no sitting run lasts ``seating.MIN_SIT_S``, its pelvis strays more than
    ``max_drift`` metres from its mean, no bed is within REACH_M of that mean, the pelvis sits
    up in bed, or no long side has free floor in front."""
    joints = np.asarray(joints, dtype=np.float64)
    longest = longest_sitting(joints, fps)
    if longest is None:
        return None
    body = joints[longest[0]:longest[1]]
    pelvis = body[:, _PELVIS, :2].mean(axis=0)
    if np.linalg.norm(body[:, _PELVIS, :2] - pelvis, axis=-1).max() > max_drift:
        return None
    found = _edge_place(pelvis, beds)
    if found is None:
        return None
    place, facing = found
    feet, shift, weight = toward_seat(len(joints), longest, body, place, facing)
    lying = (lying_weight(joints) >= LYING).astype(np.float64)
    moved = 1.0 - np.clip(eased_peaks(lying, EASE_FRAMES), 0.0, 1.0)
    return Seating(shift=shift, turn=0.0, pivot=feet, place=place, facing=facing, weight=weight, moved=moved)


def _edge_place(pelvis: np.ndarray, beds: Beds) -> tuple[np.ndarray, float] | None:
    """A sitting pelvis (2,) m -> the sitting place (3,) m on the nearest bed's edge and the way
    out of the bed there (radians), or None (see :func:`edge_seating`)."""
    best = None
    for k in range(len(beds.top)):
        u, v = _to_bed(pelvis, beds.centre[k], beds.axis[k])
        length, width = beds.half[k]
        outside = np.hypot(max(abs(u) - length, 0.0), max(abs(v) - width, 0.0))
        if outside > REACH_M or (abs(u) < length and abs(v) < width - DEEP_M):
            continue
        along = float(np.clip(u, -length + END_MARGIN_M, length - END_MARGIN_M)) if length > END_MARGIN_M else 0.0
        for side in sorted((1.0, -1.0), key=lambda s: abs(v - s * width)):
            normal = _from_bed_direction(np.array([0.0, side]), beds.axis[k])
            at = beds.centre[k] + _from_bed_direction(np.array([along, side * (width - EDGE_INSIDE_M)]), beds.axis[k])
            if not _free_front(at + EDGE_INSIDE_M * normal, normal, beds.grid):
                continue
            distance = float(np.linalg.norm(at - pelvis))
            if best is None or distance < best[0]:
                best = (distance, np.array([*at, beds.top[k] + SIT_ABOVE_M]), float(np.arctan2(normal[1], normal[0])))
            break
    return None if best is None else (best[1], best[2])


def _free_front(edge: np.ndarray, normal: np.ndarray, grid: HeightMap) -> bool:
    """Whether the floor in front of a bed's side, from FRONT_NEAR_M to FRONT_M out from the
    point ``edge`` (2,) m along ``normal`` (2,), is in the room (in the map, with floor points
    somewhere along it: sampled scenes leave cells without any) and under no obstacle (the
    height map spreads the bed's top over the cell next to it)."""
    ix, iy, inside = grid.cells(edge + np.arange(FRONT_NEAR_M, FRONT_M + 1e-9, CELL_M / 2)[:, None] * normal)
    return bool(inside.all() and grid.floor[ix, iy].any() and not (grid.top[ix, iy] > LOW_OBSTACLE_M).any())


def _to_bed(xy: np.ndarray, centre: np.ndarray, axis: float) -> np.ndarray:
    """(..., 2) metres -> (..., 2) along and across a bed's long axis from ``centre``."""
    d = np.asarray(xy, dtype=np.float64) - centre
    cos, sin = np.cos(axis), np.sin(axis)
    return np.stack([cos * d[..., 0] + sin * d[..., 1], -sin * d[..., 0] + cos * d[..., 1]], axis=-1)


def _from_bed_direction(uv: np.ndarray, axis: float) -> np.ndarray:
    """(..., 2) along and across a bed's long axis -> (..., 2) room-frame directions."""
    cos, sin = np.cos(axis), np.sin(axis)
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([cos * uv[..., 0] - sin * uv[..., 1], sin * uv[..., 0] + cos * uv[..., 1]], axis=-1)
