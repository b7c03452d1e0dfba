"""Procedural care rooms: walls, a bed, chairs and a bedside table; free-floor queries and paths.

World frame: metres, Z up, floor z = 0, the room spans x in [0, width], y in [0, depth].
Furniture is boxes; :meth:`CareRoom.boxes_array` gives them as (K, 7) rows
``[cx, cy, yaw_rad, sx, sy, z_bottom, z_top]`` (the evaluator's scene format).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from ...motion.gait import yaw_towards

GRID_M = 0.1  # path-planning cell size
BODY_CLEARANCE_M = 0.35  # a walking person's centre keeps this far from furniture and walls
AVOID_EXTRA_M = 0.2  # and this much farther from another person's body points


@dataclass(frozen=True)
class Box:
    """A furniture box. cx, cy: centre (m); yaw: radians about +z; sx, sy: extents along its
    local x and y (m); z0, z1: bottom and top (m). label: bed, chair, chair_back, table."""

    label: str
    cx: float
    cy: float
    yaw: float
    sx: float
    sy: float
    z0: float
    z1: float

    def local_xy(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) world xy -> (..., 2) in the box frame (centre origin, unrotated)."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        d = np.asarray(points, dtype=np.float64)[..., :2] - (self.cx, self.cy)
        return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], -1)

    def world_xy(self, local: np.ndarray) -> np.ndarray:
        """(..., 2) box-frame xy -> world xy."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        local = np.asarray(local, dtype=np.float64)
        return np.stack([c * local[..., 0] - s * local[..., 1] + self.cx,
                         s * local[..., 0] + c * local[..., 1] + self.cy], -1)

    def footprint_distance(self, points: np.ndarray) -> np.ndarray:
        """(..., 2|3) -> (...,) distance in the floor plane from the footprint (0 inside)."""
        local = np.abs(self.local_xy(points)) - (self.sx / 2, self.sy / 2)
        return np.linalg.norm(np.maximum(local, 0.0), axis=-1)


@dataclass(frozen=True)
class Seat:
    """Somewhere to sit. xy: where the hips go (m); yaw: the direction the sitter faces
    (radians, :func:`heading` convention); height: seat top (m); kind: chair or bed."""

    xy: tuple[float, float]
    yaw: float
    height: float
    kind: str


@dataclass(frozen=True)
class CareRoom:
    """A room: size (m), furniture boxes, the door (a point on a wall, m) and seats.

    bed: the bed box (its local +y runs from head to foot); bed_side_sign: which long side
    of the bed faces the room (+1: local +x, -1: local -x).
    """

    width: float
    depth: float
    height: float
    boxes: tuple[Box, ...]
    door: tuple[float, float]
    bed: Box
    bed_side_sign: float
    chairs: tuple[Seat, ...]

    def boxes_array(self) -> np.ndarray:
        """(K, 7) float64 rows [cx, cy, yaw, sx, sy, z0, z1]."""
        return np.array([[b.cx, b.cy, b.yaw, b.sx, b.sy, b.z0, b.z1] for b in self.boxes], dtype=np.float64)

    def clearance(self, points: np.ndarray) -> np.ndarray:
        """(..., 2|3) -> (...,) floor-plane distance to the nearest wall or furniture footprint."""
        p = np.asarray(points, dtype=np.float64)[..., :2]
        walls = np.minimum.reduce([p[..., 0], self.width - p[..., 0], p[..., 1], self.depth - p[..., 1]])
        furniture = [box.footprint_distance(p) for box in self.boxes]
        return np.minimum(walls, np.minimum.reduce(furniture)) if furniture else walls

    def is_free(self, points: np.ndarray, margin: float = BODY_CLEARANCE_M) -> np.ndarray:
        return self.clearance(points) >= margin

    def bed_side_point(self, along: float, offset: float) -> np.ndarray:
        """A floor point beside the bed: ``along`` in [-1, 1] from head to foot, ``offset`` m
        out from the room-facing long side."""
        b = self.bed
        local = np.array([self.bed_side_sign * (b.sx / 2 + offset), along * b.sy / 2])
        return self.bed.world_xy(local)

    def bed_surface_point(self, along: float, across: float) -> np.ndarray:
        """A point on the mattress: along in [-1, 1] head to foot, across in [-1, 1] over the
        width towards the room side."""
        b = self.bed
        return b.world_xy(np.array([self.bed_side_sign * across * b.sx / 2, along * b.sy / 2]))

    def support_height(self, points: np.ndarray) -> np.ndarray:
        """(..., 2|3) -> (...,) height (m) of what is under each point: the top of the highest
        bed or chair seat whose footprint holds it, or the floor (0)."""
        p = np.asarray(points, dtype=np.float64)[..., :2]
        height = np.zeros(p.shape[:-1])
        for box in self.boxes:
            if box.label not in ("bed", "chair"):
                continue  # a table or a chair's back is nothing to rest on
            inside = (np.abs(box.local_xy(p)) <= (box.sx / 2, box.sy / 2)).all(-1)
            height = np.where(inside, np.maximum(height, box.z1), height)
        return height

    @property
    def bed_top(self) -> float:
        return self.bed.z1

    def scene_points(self, rng: np.random.Generator, count: int = 2048) -> np.ndarray:
        """(count, 3) float32 points on the furniture surfaces, the walls and the floor."""
        parts = [(box, box.sx * box.sy + 2 * (box.sx + box.sy) * (box.z1 - box.z0)) for box in self.boxes]
        furniture_share = 0.6
        areas = np.array([a for _, a in parts], dtype=np.float64)
        counts = np.floor(furniture_share * count * areas / areas.sum()).astype(int)
        points = [_box_surface_points(box, n, rng) for (box, _), n in zip(parts, counts)]
        rest = count - int(counts.sum())
        walls = rest // 2
        floor = rest - walls
        points.append(np.column_stack([rng.uniform(0, self.width, floor), rng.uniform(0, self.depth, floor),
                                       np.zeros(floor)]))
        side = rng.integers(0, 4, walls)
        t = rng.uniform(0, 1, walls)
        z = rng.uniform(0, self.height, walls)
        x = np.select([side == 0, side == 1, side == 2], [t * self.width, t * self.width, 0.0], self.width)
        y = np.select([side == 0, side == 1, side == 2], [0.0, self.depth, t * self.depth], t * self.depth)
        points.append(np.column_stack([x, y, z]))
        return np.concatenate(points).astype(np.float32)

    # -- paths ------------------------------------------------------------------------------

    def random_free_point(self, rng: np.random.Generator, margin: float = BODY_CLEARANCE_M + 0.1,
                          tries: int = 200) -> np.ndarray:
        for _ in range(tries):
            p = np.array([rng.uniform(0, self.width), rng.uniform(0, self.depth)])
            if self.is_free(p, margin):
                return p
        raise RuntimeError("no free floor point in the room")

    def plan_path(self, start: np.ndarray, goal: np.ndarray, margin: float = BODY_CLEARANCE_M,
                  avoid: np.ndarray | None = None) -> np.ndarray:
        """(K, 2) waypoints from start to goal on free floor; see :func:`plan_path`."""
        return plan_path(self, start, goal, margin, avoid)


def plan_path(room: CareRoom, start: np.ndarray, goal: np.ndarray, margin: float = BODY_CLEARANCE_M,
              avoid: np.ndarray | None = None) -> np.ndarray:
    """(K, 2) waypoints from start to goal (both included) on free floor.

    A* on a GRID_M grid of cells with clearance >= margin, where ``avoid`` (M, 2) are extra
    obstacle points (another person's body); cells within 0.5 m of the start or the goal only
    need 0.12 m, so a walk can end right at a chair or the bed. Then shortcut: a waypoint is
    dropped when the straight segment to a later one stays free. Raises RuntimeError when no
    path exists.
    """
    start, goal = np.asarray(start, float)[:2], np.asarray(goal, float)[:2]
    avoid = None if avoid is None else np.asarray(avoid, dtype=np.float64).reshape(-1, 2)

    def clearance(points: np.ndarray) -> np.ndarray:
        c = room.clearance(points)
        if avoid is not None and len(avoid):
            c = np.minimum(c, np.linalg.norm(points[..., None, :] - avoid, axis=-1).min(-1) - AVOID_EXTRA_M)
        return c

    def needed(points: np.ndarray) -> np.ndarray:
        ends = np.minimum(np.linalg.norm(points - start, axis=-1), np.linalg.norm(points - goal, axis=-1))
        return np.where(ends < 0.5, 0.12, margin)

    nx, ny = int(math.ceil(room.width / GRID_M)), int(math.ceil(room.depth / GRID_M))
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) * GRID_M, (np.arange(ny) + 0.5) * GRID_M, indexing="ij")
    grid = np.stack([gx, gy], -1)
    free = clearance(grid) >= needed(grid)
    cell = lambda p: (min(max(int(p[0] / GRID_M), 0), nx - 1), min(max(int(p[1] / GRID_M), 0), ny - 1))  # noqa: E731
    s, g = cell(start), cell(goal)
    free[s] = free[g] = True
    came: dict[tuple[int, int], tuple[int, int]] = {}
    cost = {s: 0.0}
    queue = [(0.0, s)]
    steps = [(dx, dy, math.hypot(dx, dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
    while queue:
        _, c = heapq.heappop(queue)
        if c == g:
            break
        for dx, dy, length in steps:
            n = (c[0] + dx, c[1] + dy)
            if not (0 <= n[0] < nx and 0 <= n[1] < ny) or not free[n]:
                continue
            new = cost[c] + length
            if new < cost.get(n, math.inf):
                cost[n] = new
                came[n] = c
                heapq.heappush(queue, (new + math.hypot(n[0] - g[0], n[1] - g[1]), n))
    if g not in cost:
        raise RuntimeError("no free path between the two points")
    cells = [g]
    while cells[-1] != s:
        cells.append(came[cells[-1]])
    points = np.array([start] + [(np.array(c) + 0.5) * GRID_M for c in reversed(cells[1:-1])] + [goal])

    def segment_free(a: np.ndarray, b: np.ndarray) -> bool:
        n = max(2, int(np.linalg.norm(b - a) / 0.05) + 1)
        samples = a + np.linspace(0, 1, n)[:, None] * (b - a)
        return bool((clearance(samples) >= needed(samples) - 0.05).all())

    kept, i = [points[0]], 0
    while i < len(points) - 1:
        j = len(points) - 1
        while j > i + 1 and not segment_free(points[i], points[j]):
            j -= 1
        kept.append(points[j])
        i = j
    return np.array(kept)


def heading(yaw: float) -> np.ndarray:
    """(2,) the floor direction a person with root yaw ``yaw`` faces. The SMPL template faces
    +z; after the Y-up -> Z-up turn that is world -y, then the yaw turns it about +z."""
    return np.array([math.sin(yaw), -math.cos(yaw)])


def random_room(rng: np.random.Generator) -> CareRoom:
    """A care room of random size with a bed against a wall, one or two chairs and a table."""
    width, depth = rng.uniform(3.6, 6.0), rng.uniform(3.6, 5.5)
    height = rng.uniform(2.5, 3.0)
    bed_w, bed_l, bed_h = rng.uniform(0.85, 1.05), rng.uniform(1.95, 2.15), rng.uniform(0.45, 0.65)
    wall = int(rng.integers(4))  # the bed's head is against this wall: 0 y=0, 1 x=W, 2 y=D, 3 x=0
    bed_yaw = wall * math.pi / 2  # local +y (head -> foot) points away from the wall
    span = width if wall in (0, 2) else depth
    along = rng.uniform(0.4 + bed_w / 2, span - 0.4 - bed_w / 2)
    inset = bed_l / 2 + 0.02
    centre = {0: (along, inset), 1: (width - inset, along), 2: (along, depth - inset), 3: (inset, along)}[wall]
    bed = Box("bed", centre[0], centre[1], bed_yaw, bed_w, bed_l, 0.0, bed_h)
    # The room-facing long side: the one farther from a side wall.
    side_points = [bed.world_xy(np.array([sign * (bed_w / 2 + 0.5), 0.0])) for sign in (1.0, -1.0)]
    room_probe = CareRoom(width, depth, height, (bed,), (0.0, 0.0), bed, 1.0, ())
    side_sign = 1.0 if room_probe.clearance(side_points[0]) >= room_probe.clearance(side_points[1]) else -1.0
    boxes = [bed]
    # A bedside table at the head, on the wall side when there is room for it (else none), so
    # the room side stays free for carers.
    table_xy = bed.world_xy(np.array([-side_sign * (bed_w / 2 + 0.26), -bed_l / 2 + 0.25]))
    if room_probe.clearance(table_xy) >= 0.25 + 0.05:
        boxes.append(Box("table", *table_xy, bed_yaw, 0.45, 0.4, 0.0, rng.uniform(0.5, 0.7)))
    # Door on a wall other than the bed's.
    door_wall = int(rng.choice([w for w in range(4) if w != wall]))
    door_span = width if door_wall in (0, 2) else depth
    t = rng.uniform(0.5, door_span - 0.5)
    door = {0: (t, 0.05), 1: (width - 0.05, t), 2: (t, depth - 0.05), 3: (0.05, t)}[door_wall]
    chairs: list[Seat] = []
    for _ in range(int(rng.integers(1, 3))):
        probe = CareRoom(width, depth, height, tuple(boxes), door, bed, side_sign, ())
        for _try in range(60):
            xy = np.array([rng.uniform(0.5, width - 0.5), rng.uniform(0.5, depth - 0.5)])
            if probe.clearance(xy) < 0.9 or np.hypot(xy[0] - door[0], xy[1] - door[1]) < 1.3:
                continue
            seat_h = rng.uniform(0.42, 0.5)
            facing = np.array([width / 2, depth / 2]) - xy + rng.normal(0, 0.4, 2)
            yaw = yaw_towards(facing)
            # Chair frame: seat box centred at xy, backrest behind the sitter.
            back = xy - 0.24 * heading(yaw)
            size = rng.uniform(0.45, 0.52)
            boxes.append(Box("chair", xy[0], xy[1], yaw, size, size, 0.0, seat_h))
            boxes.append(Box("chair_back", back[0], back[1], yaw, size, 0.06, seat_h, seat_h + rng.uniform(0.4, 0.5)))
            sit_xy = xy + 0.02 * heading(yaw)
            chairs.append(Seat((float(sit_xy[0]), float(sit_xy[1])), yaw, seat_h, "chair"))
            break
    return CareRoom(width, depth, height, tuple(boxes), door, bed, side_sign, tuple(chairs))


def _box_surface_points(box: Box, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 3) points on the top and the four sides of a box, by area."""
    if count <= 0:
        return np.zeros((0, 3))
    h = box.z1 - box.z0
    areas = np.array([box.sx * box.sy, box.sx * h, box.sx * h, box.sy * h, box.sy * h])
    face = rng.choice(5, size=count, p=areas / areas.sum())
    u, v = rng.uniform(-0.5, 0.5, count), rng.uniform(0, 1, count)
    lx = np.select([face == 0, face <= 2, face == 3], [u * box.sx, u * box.sx, -box.sx / 2], box.sx / 2)
    ly = np.select([face == 0, face == 1, face == 2], [rng.uniform(-0.5, 0.5, count) * box.sy, -box.sy / 2,
                                                       box.sy / 2], u * box.sy)
    z = np.where(face == 0, box.z1, box.z0 + v * h)
    xy = box.world_xy(np.column_stack([lx, ly]))
    return np.column_stack([xy, z])
