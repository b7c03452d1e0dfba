"""A procedural care room (floor, walls, bed, chair, bedside table) as box meshes.

World frame: metres, Z up, the floor is z = 0, the room spans
x in [0, width] and y in [0, depth]. The demo builds it; later the procedural
data set places people in rooms like it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .camera import look_at

# Quad faces of a unit box with corners indexed by bits (x, y, z); outward normals.
_BOX_FACES = np.array(
    [
        [0, 2, 3, 1],  # -z
        [4, 5, 7, 6],  # +z
        [0, 1, 5, 4],  # -y
        [2, 6, 7, 3],  # +y
        [0, 4, 6, 2],  # -x
        [1, 3, 7, 5],  # +x
    ],
    dtype=np.int32,
)
_BOX_CORNERS = np.array(
    [[(i >> 0) & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], dtype=np.float64
) - 0.5


@dataclass(frozen=True)
class MeshPart:
    """One named mesh. vertices: (V, 3) float32 metres; faces: (F, 4) int32 quads;
    color: (4,) RGBA in [0, 1]; label: the semantic class (floor, wall, bed, chair, table)."""

    name: str
    label: str
    vertices: np.ndarray
    faces: np.ndarray
    color: tuple[float, float, float, float]


@dataclass(frozen=True)
class RoomLayout:
    """Room size and furniture placement, metres and degrees."""

    width: float = 4.5
    depth: float = 4.0
    height: float = 2.6
    wall_thickness: float = 0.1
    bed_size: tuple[float, float, float] = (0.9, 2.0, 0.55)
    bed_position: tuple[float, float] = (1.0, 2.6)
    chair_position: tuple[float, float] = (3.3, 1.2)
    chair_yaw_deg: float = 200.0
    table_position: tuple[float, float] = (1.85, 3.6)

    def __post_init__(self) -> None:
        for name in ("width", "depth", "height"):
            if getattr(self, name) < 1.5:
                raise ValueError(f"RoomLayout.{name} must be at least 1.5 m, got {getattr(self, name)}")


@dataclass(frozen=True)
class RoomScene:
    """Everything the demo puts in Blender: meshes, one camera, one light.

    camera_to_world: (4, 4) Blender camera convention; horizontal_fov_deg: degrees;
    light_position: (3,) metres.
    """

    parts: list[MeshPart]
    camera_to_world: np.ndarray
    horizontal_fov_deg: float
    light_position: np.ndarray = field(default_factory=lambda: np.zeros(3))


def box(center, size, yaw_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """An oriented box: vertices (8, 3) float32 and quad faces (6, 4) int32.

    center: (3,) metres; size: (3,) full extents along the box's own x, y, z;
    yaw_deg: rotation about +Z, counter-clockwise seen from above.
    """
    yaw = np.radians(yaw_deg)
    rotation = np.array(
        [[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]]
    )
    vertices = (_BOX_CORNERS * np.asarray(size, dtype=np.float64)) @ rotation.T + np.asarray(center)
    return vertices.astype(np.float32), _BOX_FACES.copy()


def merge_boxes(boxes: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate several (vertices, faces) pairs into one mesh, offsetting indices."""
    vertices, faces, offset = [], [], 0
    for v, f in boxes:
        vertices.append(v)
        faces.append(f + offset)
        offset += len(v)
    return np.concatenate(vertices), np.concatenate(faces).astype(np.int32)


def _part(name, label, boxes, color) -> MeshPart:
    vertices, faces = merge_boxes(boxes)
    return MeshPart(name=name, label=label, vertices=vertices, faces=faces, color=color)


def _chair(x: float, y: float, yaw_deg: float) -> list[tuple[np.ndarray, np.ndarray]]:
    yaw = np.radians(yaw_deg)
    rotation = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])

    def at(local_x: float, local_y: float, z: float, size) -> tuple[np.ndarray, np.ndarray]:
        offset = rotation @ np.array([local_x, local_y])
        return box((x + offset[0], y + offset[1], z), size, yaw_deg)

    legs = [at(sx * 0.2, sy * 0.2, 0.22, (0.04, 0.04, 0.44)) for sx in (-1, 1) for sy in (-1, 1)]
    return [*legs, at(0.0, 0.0, 0.46, (0.46, 0.46, 0.04)), at(0.0, 0.21, 0.75, (0.46, 0.04, 0.55))]


def build_room(layout: RoomLayout = RoomLayout()) -> list[MeshPart]:
    """The room's meshes: floor, four walls, bed (frame, mattress, pillow), chair, table."""
    w, d, h, t = layout.width, layout.depth, layout.height, layout.wall_thickness
    floor = _part("Floor", "floor", [box((w / 2, d / 2, -0.025), (w, d, 0.05))], (0.55, 0.52, 0.48, 1.0))
    walls = _part(
        "Walls",
        "wall",
        [
            box((w / 2, -t / 2, h / 2), (w + 2 * t, t, h)),
            box((w / 2, d + t / 2, h / 2), (w + 2 * t, t, h)),
            box((-t / 2, d / 2, h / 2), (t, d, h)),
            box((w + t / 2, d / 2, h / 2), (t, d, h)),
        ],
        (0.85, 0.86, 0.82, 1.0),
    )
    bw, bl, bh = layout.bed_size
    bx, by = layout.bed_position
    bed = _part(
        "Bed",
        "bed",
        [
            box((bx, by, (bh - 0.15) / 2), (bw, bl, bh - 0.15)),
            box((bx, by, bh - 0.075), (bw - 0.04, bl - 0.04, 0.15)),
            box((bx, by + bl / 2 - 0.25, bh + 0.05), (0.6, 0.35, 0.1)),
        ],
        (0.72, 0.78, 0.88, 1.0),
    )
    chair = _part("Chair", "chair", _chair(*layout.chair_position, layout.chair_yaw_deg), (0.45, 0.32, 0.22, 1.0))
    tx, ty = layout.table_position
    table = _part("BedsideTable", "table", [box((tx, ty, 0.3), (0.45, 0.4, 0.6))], (0.6, 0.5, 0.4, 1.0))
    return [floor, walls, bed, chair, table]


def demo_room_scene(layout: RoomLayout = RoomLayout(), horizontal_fov_deg: float = 90.0) -> RoomScene:
    """The room with a monitoring camera in the ceiling corner at (0, 0) looking at the bed."""
    eye = np.array([0.25, 0.25, layout.height - 0.2])
    target = np.array([layout.width * 0.55, layout.depth * 0.55, 0.5])
    return RoomScene(
        parts=build_room(layout),
        camera_to_world=look_at(eye, target),
        horizontal_fov_deg=horizontal_fov_deg,
        light_position=np.array([layout.width / 2, layout.depth / 2, layout.height - 0.3]),
    )
