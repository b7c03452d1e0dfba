"""What the manifest and the annotations need to know about a scene, without Blender.

For a reconstruction bundle: the recorded camera (OpenCV pose, pinhole K at the recorded size),
the floor area and ceiling from the room's points, the points the model is conditioned on, and
the furniture boxes (occluders). For the procedural care room: the same from
:mod:`..room`. A ``.blend`` file is only known inside Blender: its camera and meshes are read
there (``bridge/render_scene.py``), and its floor area comes from the job file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np

from ..camera import OPENCV_TO_BLENDER_CAMERA
from ..room import RoomLayout, box, demo_room_scene
from .jobspec import SceneSpec
from .lens import Lens, pinhole_lens
from .visibility import Occluder, occluder_from_mesh

# The model learnt rooms whose corner sits at the origin (procedural data): points go in
# shifted by -corner and motions come back shifted by +corner (as tools/demo.py does).
GENERATION_POINTS = 20_000


@dataclass(frozen=True)
class SceneInfo:
    """A scene as numpy. camera_to_world: (4, 4) OpenCV, or None (a .blend: read in Blender);
    lens: the recorded camera's lens at its own size, or None; room_min/room_max: (2,) metres;
    ceiling_height: metres; corner: (3,) the room corner the model's frame starts at;
    points: (N, 3) world points for scene-aware generation, or None; occluders: furniture."""

    name: str
    camera_to_world: np.ndarray | None
    lens: Lens | None
    room_min: np.ndarray
    room_max: np.ndarray
    ceiling_height: float
    corner: np.ndarray
    points: np.ndarray | None = None
    occluders: list[Occluder] = field(default_factory=list)
    roles: tuple[str, ...] = ()

    @property
    def center(self) -> np.ndarray:
        """(2,) the middle of the floor area."""
        return (self.room_min + self.room_max) / 2.0


def scene_info(scene: SceneSpec) -> SceneInfo:
    """Read what a scene spec points at (bundles are read once per process)."""
    if scene.kind == "bundle":
        info = _bundle_info(scene.path)
    elif scene.kind == "procedural":
        info = _procedural_info()
    else:
        if scene.room_min is None or scene.room_max is None:
            low, high = np.array([-2.0, -2.0]), np.array([2.0, 2.0])
        else:
            low, high = np.array(scene.room_min), np.array(scene.room_max)
        info = SceneInfo(scene.name, None, None, low, high, scene.ceiling_height or 2.6, np.array([*low, 0.0]))
    overrides = {}
    if scene.room_min is not None and scene.room_max is not None:
        overrides.update(room_min=np.array(scene.room_min), room_max=np.array(scene.room_max))
    if scene.ceiling_height is not None:
        overrides["ceiling_height"] = float(scene.ceiling_height)
    return replace(info, name=scene.name, **overrides)


@functools.lru_cache(maxsize=8)
def _bundle_info(path: str) -> SceneInfo:
    from ..recon.bundle import read_bundle

    bundle = read_bundle(path)
    points = np.asarray(bundle.points, dtype=np.float64)
    # Percentiles, not extremes: stray points outside the walls must not move ceiling cameras out.
    low = np.percentile(points[:, :2], 2.0, axis=0)
    high = np.percentile(points[:, :2], 98.0, axis=0)
    ceiling = float(np.clip(np.percentile(points[:, 2], 99.0), 2.0, 6.0))
    width, height = (int(v) for v in bundle.image_size)
    lens = Lens("pinhole", width, height, K=tuple(tuple(float(v) for v in row) for row in bundle.K))
    occluders = []
    for index, label in enumerate(bundle.furniture_labels):
        vertices, faces = box(bundle.furniture_center[index], bundle.furniture_size[index],
                              float(bundle.furniture_yaw_deg[index]))
        occluders.append(occluder_from_mesh(f"{label}_{index}", vertices, faces))
    rng = np.random.default_rng(0)  # a fixed subsample: the same points for every job
    chosen = points if len(points) <= GENERATION_POINTS else points[rng.choice(len(points), GENERATION_POINTS, replace=False)]
    return SceneInfo(
        name="", camera_to_world=np.asarray(bundle.camera_to_world, dtype=np.float64), lens=lens,
        room_min=low, room_max=high, ceiling_height=ceiling, corner=np.array([low[0], low[1], 0.0]),
        points=chosen, occluders=occluders, roles=tuple(bundle.person_roles),
    )


@functools.lru_cache(maxsize=1)
def _procedural_info() -> SceneInfo:
    layout = RoomLayout()
    room = demo_room_scene(layout)
    occluders = [occluder_from_mesh(part.name, part.vertices, part.faces) for part in room.parts
                 if part.label not in ("floor", "wall")]
    return SceneInfo(
        name="", camera_to_world=room.camera_to_world @ OPENCV_TO_BLENDER_CAMERA,
        lens=pinhole_lens(640, 480, room.horizontal_fov_deg),
        room_min=np.zeros(2), room_max=np.array([layout.width, layout.depth]), ceiling_height=layout.height,
        corner=np.zeros(3), points=_surface_points(room.parts, np.random.default_rng(0)), occluders=occluders,
    )


def _surface_points(parts, rng: np.random.Generator, count: int = GENERATION_POINTS) -> np.ndarray:
    """(count, 3) points spread over the room's quads (area-weighted), for scene-aware generation."""
    quads = np.concatenate([part.vertices[part.faces].astype(np.float64) for part in parts])  # (F, 4, 3)
    a, b, d = quads[:, 0], quads[:, 1], quads[:, 3]
    area = np.linalg.norm(np.cross(b - a, d - a), axis=1)
    chosen = rng.choice(len(quads), count, p=area / area.sum())
    s, t = rng.random((2, count, 1))
    return a[chosen] + s * (b - a)[chosen] + t * (d - a)[chosen]


def depth_range(camera_to_world: np.ndarray, info: SceneInfo) -> tuple[float, float]:
    """(near, far) metres for the depth video: 0.3 m, and the distance from the camera to the
    farthest corner of the room's box (floor area ``room_min``..``room_max``, floor to
    ``ceiling_height``; at least 1 m). camera_to_world: (4, 4), its translation the camera centre."""
    corners = np.array([[x, y, z] for x in (info.room_min[0], info.room_max[0])
                        for y in (info.room_min[1], info.room_max[1]) for z in (0.0, info.ceiling_height)])
    far = float(np.linalg.norm(corners - np.asarray(camera_to_world)[:3, 3], axis=1).max())
    return 0.3, round(max(far, 1.0), 3)


def point_spacing(points: np.ndarray, samples: int = 4000) -> float:
    """Median distance (metres) from a point to its nearest neighbour, over a fixed subsample."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return 0.0
    rng = np.random.default_rng(0)
    chosen = points[rng.choice(len(points), min(samples, len(points)), replace=False)]
    distances, _ = cKDTree(points).query(chosen, k=2)
    return float(np.median(distances[:, 1]))
