"""Generated people on free floor: a height map of the room and the smallest group shift that
gets everyone's start pose out of furniture and walls and onto the room's floor.

The model usually places people well in the room it was shown, but nothing guarantees it
(and without a scene it knows no room at all). :func:`place_on_free_floor` checks the
first frame of every person against a height map made from the scene's points and, when a
joint is inside furniture, inside a wall or off the floor, moves the whole group (so the
interaction between them stays as generated) by the shortest shift that clears every
start pose, preferring shifts that also keep the rest of the clip clear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELL_M = 0.1  # height-map cell
FLOOR_Z_M = 0.05  # points below this are floor
CEILING_IGNORE_M = 2.2  # points above this (ceilings, lamps) never block a body
INSIDE_TOLERANCE_M = 0.05  # a joint this far under an obstacle's top counts as inside it
SEARCH_RADIUS_M = 2.5
CLIP_FRAMES_SAMPLED = 12
# A person whose start pose has fewer blocked joints than this only touches something (a back
# against a chair's backrest, a hand on the bed): that is left as generated.
MIN_BLOCKED_JOINTS = 3
# Floor gaps up to twice this many cells wide are floor: the samples' spacing, not a hole in the room.
FLOOR_GAP_CELLS = 4


@dataclass(frozen=True)
class HeightMap:
    """A floor-plane grid over the scene. origin: (2,) metres of cell (0, 0)'s corner;
    floor: (X, Y) bool, the cell (or a neighbour) has floor points; top: (X, Y) metres, the
    highest obstacle point below CEILING_IGNORE_M in the cell (-inf: none)."""

    origin: np.ndarray
    floor: np.ndarray
    top: np.ndarray

    def cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(..., 2) metres -> (ix, iy, inside-the-grid mask)."""
        index = np.floor((np.asarray(xy) - self.origin) / CELL_M).astype(np.int64)
        inside = (index >= 0).all(-1) & (index[..., 0] < self.floor.shape[0]) & (index[..., 1] < self.floor.shape[1])
        ix = np.clip(index[..., 0], 0, self.floor.shape[0] - 1)
        iy = np.clip(index[..., 1], 0, self.floor.shape[1] - 1)
        return ix, iy, inside

    def blocked(self, joints: np.ndarray) -> np.ndarray:
        """(..., 3) joint positions -> (...,) bool: outside the room (no floor and nothing to rest
        on under it), or inside an obstacle (below its top)."""
        ix, iy, inside = self.cells(joints[..., :2])
        top = self.top[ix, iy]
        supported = inside & (self.floor[ix, iy] | np.isfinite(top))
        under_top = joints[..., 2] < top - INSIDE_TOLERANCE_M
        return ~supported | (inside & under_top)


@dataclass(frozen=True)
class Placement:
    """shift: (3,) metres applied to every person (z = 0); moved: whether it is non-zero;
    blocked_before / blocked_after: start-frame joints blocked before and after the shift;
    still_inside: after the shift some person still has MIN_BLOCKED_JOINTS or more of them
    (no shift within SEARCH_RADIUS_M freed everyone)."""

    shift: np.ndarray
    blocked_before: int
    blocked_after: int
    still_inside: bool = False

    @property
    def moved(self) -> bool:
        return bool(np.any(self.shift != 0))


def height_map(points: np.ndarray) -> HeightMap:
    """The HeightMap of scene points (N, 3) world metres, floor z = 0."""
    p = np.asarray(points, dtype=np.float64)
    origin = p[:, :2].min(axis=0) - CELL_M
    shape = tuple(np.floor((p[:, :2].max(axis=0) + CELL_M - origin) / CELL_M).astype(int) + 1)
    index = np.floor((p[:, :2] - origin) / CELL_M).astype(np.int64)
    floor = np.zeros(shape, dtype=bool)
    low = p[:, 2] < FLOOR_Z_M
    floor[index[low, 0], index[low, 1]] = True
    top = np.full(shape, -np.inf)
    obstacle = (p[:, 2] >= FLOOR_Z_M) & (p[:, 2] < CEILING_IGNORE_M)
    np.maximum.at(top, (index[obstacle, 0], index[obstacle, 1]), p[obstacle, 2])
    # Points are samples: one cell more around each sample of a furniture top or the floor, and
    # the gaps between a sparse floor's samples closed (a 2,048-point room has about 25 floor
    # points per square metre: without the closing 7-23 % of a procedural room's floor cells
    # were "outside the room").
    floor = close_gaps(dilate(floor, np.logical_or), FLOOR_GAP_CELLS)
    return HeightMap(origin=origin, floor=floor, top=dilate(top, np.maximum))


def dilate(grid: np.ndarray, combine) -> np.ndarray:
    """3x3 dilation of ``grid`` with ``combine`` (np.logical_or for masks, np.maximum for heights)."""
    fill = False if grid.dtype == bool else -np.inf
    padded = np.pad(grid, 1, constant_values=fill)
    X, Y = grid.shape
    return combine.reduce([padded[1 + dx: 1 + dx + X, 1 + dy: 1 + dy + Y] for dx in (-1, 0, 1) for dy in (-1, 0, 1)])


def close_gaps(mask: np.ndarray, steps: int) -> np.ndarray:
    """(X, Y) bool -> the same, with gaps up to 2 * ``steps`` cells wide filled (a morphological
    closing: ``steps`` 3x3 dilations, then as many erosions). The mask's outline stays where it
    was (a room's floor ends at its walls); only gaps and dents inside it close."""
    grown = np.pad(mask, steps, constant_values=False)
    for _ in range(steps):
        grown = dilate(grown, np.logical_or)
    for _ in range(steps):
        grown = ~dilate(~grown, np.logical_or)
    return grown[steps:-steps, steps:-steps] if steps else grown


def has_floor(points: np.ndarray) -> bool:
    """Whether the scene has floor points (z near 0) to stand on."""
    p = np.asarray(points, dtype=np.float64)
    return bool(len(p)) and int(np.count_nonzero(np.abs(p[:, 2]) < FLOOR_Z_M)) >= 10


def place_on_free_floor(joints: np.ndarray, points: np.ndarray) -> Placement:
    """The group shift for persons' joints (P, T, J, 3) world metres among scene ``points`` (N, 3).

    Zero when no person has MIN_BLOCKED_JOINTS or more blocked start-frame joints. Otherwise the candidate shifts on a
    CELL_M grid within SEARCH_RADIUS_M are scored: blocked start joints first (must be 0
    when possible), then blocked joints over a sample of the clip's frames, then distance.
    """
    joints = np.asarray(joints, dtype=np.float64)
    grid = height_map(points)
    start = joints[:, 0]  # (P, J, 3)
    per_person = grid.blocked(start).sum(axis=1)  # (P,)
    before = int(per_person.sum())
    if per_person.max() < MIN_BLOCKED_JOINTS:
        return Placement(np.zeros(3), before, before)
    steps = int(round(SEARCH_RADIUS_M / CELL_M))
    offsets = np.stack(np.meshgrid(np.arange(-steps, steps + 1), np.arange(-steps, steps + 1), indexing="ij"),
                       -1).reshape(-1, 2) * CELL_M
    offsets = offsets[np.linalg.norm(offsets, axis=1) <= SEARCH_RADIUS_M]
    shifts = np.column_stack([offsets, np.zeros(len(offsets))])  # (S, 3)
    frames = np.unique(np.linspace(0, joints.shape[1] - 1, CLIP_FRAMES_SAMPLED).round().astype(int))
    sampled = joints[:, frames]  # (P, F, J, 3)
    start_blocked = grid.blocked(start[None] + shifts[:, None, None]).sum((1, 2))  # (S,)
    clip_blocked = grid.blocked(sampled[None] + shifts[:, None, None, None]).sum((1, 2, 3))
    distance = np.linalg.norm(offsets, axis=1)
    score = start_blocked * 1e6 + clip_blocked * 1e2 + distance
    best = int(np.argmin(score))
    after = grid.blocked(start + shifts[best]).sum(axis=1)  # (P,)
    return Placement(shifts[best], before, int(after.sum()), bool(after.max() >= MIN_BLOCKED_JOINTS))
