"""The points a generation request sees of a Blender scene, like the training rooms' points.

Training rooms give the model 2,048 points: 60 % on furniture surfaces, the rest on the floor
and the walls (``core/data/procedural/rooms.CareRoom.scene_points``). A scene in Blender is
either a reconstruction (its room points are already such a sample) or meshes (the demo room,
the user's own set): :func:`sample_surfaces` draws points on mesh triangles by area, with the
same furniture share where the meshes carry labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCENE_POINT_COUNT = 2048
FURNITURE_SHARE = 0.6
STRUCTURE_LABELS = ("floor", "wall", "ceiling")


@dataclass(frozen=True)
class SurfaceMesh:
    """One mesh in world coordinates. vertices: (V, 3) metres; triangles: (F, 3) int;
    label: its ``isynth_label`` ("floor", "wall", "bed", ...; "" when unlabelled)."""

    vertices: np.ndarray
    triangles: np.ndarray
    label: str = ""


def triangle_areas(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(F,) square metres."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def sample_triangles(vertices: np.ndarray, triangles: np.ndarray, count: int,
                     rng: np.random.Generator) -> np.ndarray:
    """(count, 3) points uniform over the triangles' area (metres)."""
    areas = triangle_areas(vertices, triangles)
    if count <= 0 or areas.sum() <= 0:
        return np.zeros((0, 3))
    chosen = rng.choice(len(triangles), size=count, p=areas / areas.sum())
    u, v = rng.uniform(size=count), rng.uniform(size=count)
    flip = u + v > 1  # fold the unit square onto the triangle
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    a, b, c = (vertices[triangles[chosen, k]] for k in range(3))
    return a + u[:, None] * (b - a) + v[:, None] * (c - a)


def sample_surfaces(meshes: list[SurfaceMesh], rng: np.random.Generator,
                    count: int = SCENE_POINT_COUNT) -> np.ndarray:
    """(count, 3) float64 points on ``meshes``: FURNITURE_SHARE of them on furniture (labels
    other than floor/wall/ceiling) when there is any, the rest on the structure, each by area.
    Ceilings get none (training rooms have no ceiling points)."""
    usable = [m for m in meshes if m.label != "ceiling" and len(m.triangles)]
    furniture = [m for m in usable if m.label and m.label not in STRUCTURE_LABELS]
    structure = [m for m in usable if not (m.label and m.label not in STRUCTURE_LABELS)]
    if not furniture or not structure:
        groups = [(usable, count)]
    else:
        share = int(round(FURNITURE_SHARE * count))
        groups = [(furniture, share), (structure, count - share)]
    points = []
    for group, wanted in groups:
        if not group:
            continue
        vertices = np.concatenate([m.vertices for m in group]).astype(np.float64)
        offsets = np.cumsum([0] + [len(m.vertices) for m in group[:-1]])
        triangles = np.concatenate([m.triangles + o for m, o in zip(group, offsets)])
        points.append(sample_triangles(vertices, triangles, wanted, rng))
    return np.concatenate(points) if points else np.zeros((0, 3))
