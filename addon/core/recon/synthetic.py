"""Synthetic Teton-like sequences with ground truth, for testing reconstruction by value.

A Teton recording (thesis ch. 4.3): a monitoring camera in a ceiling corner of a care
room, ~100 frames at ~10 fps, people annotated per frame (class, box, COCO keypoints,
action), key frames with segmentation masks, HMR2.0 poses and Depth Anything depth
(metric at low resolution, relative disparity at full resolution). Here every one of
those is made from a known world:

  1. a procedural room (:mod:`..room` boxes, layout sampled) plus a ceiling;
  2. a ceiling-corner camera looking down at the room centre (OpenCV convention);
  3. people walking between free floor points, standing and turning (SMPL, AMASS
     convention, grounded with the body model);
  4. numpy ray casting of the key frames: true z-depth and the label of the nearest
     hit (room boxes; people as capsules along the SMPL bones);
  5. Depth Anything-like depth: metric depth area-averaged to low resolution, disparity
     an unknown affine map of inverse depth, both with noise and outliers;
  6. per-frame detections: HMR2.0-like predictions (ground truth moved into the camera
     frame, jittered most along the viewing ray), boxes, COCO-17 keypoints, and the
     annotation slips of the ``noisy`` preset (missed people, the occluder predicted
     twice as in the thesis' occlusion case, wrong classes, unknown tracks).

Everything is drawn from one ``numpy.random.Generator``: the same seed gives the same arrays.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, get_args

import numpy as np

from ..camera import intrinsics_from_fov, look_at
from ..motion.motion import ROLES, Motion, Role
from ..room import RoomLayout, build_room
from ..rotations import axis_angle_to_matrix, matrix_to_axis_angle
from ..skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, forward_kinematics
from ..smpl_transform import transform_smpl
from .keypoints import COCO_NAMES, SMPL_FOR_COCO
from .sequence import FORMAT, VERSION, Detections, Intrinsics, KeyFrameDepth, SequenceMeta, write_sequence

NoisePreset = Literal["clean", "noisy"]
NOISE_PRESET_NAMES: tuple[str, ...] = get_args(NoisePreset)

CLASS_NAMES: tuple[str, ...] = ("person", "staff", "patient")
MASK_LABELS: tuple[str, ...] = ("background", "floor", "wall", "ceiling", "bed", "chair", "table", "person")
ACTION_NAMES: tuple[str, ...] = ("stand", "walk", "turn")
STAND, WALK, TURN = range(3)

# Blender camera (x right, y up, -z forward) -> OpenCV camera (x right, y down, z forward).
BLENDER_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])


# ---------------------------------------------------------------------------
# 0. Configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NoiseLevels:
    """How far the synthetic off-the-shelf outputs and annotations stray from the truth.

    Depth: metric_white, metric_smooth: relative per-pixel and low-frequency errors of the
    metric depth; disparity_white: relative per-pixel disparity error; outlier_fraction:
    share of pixels replaced by wild values (each map).
    HMR-like (scaled by SyntheticConfig.jitter): orient_deg, pose_deg: std of the root and
    per-joint rotation errors, degrees; cam_t_xy: metres across the image plane; cam_t_depth:
    relative error along the viewing ray (monocular depth ambiguity); betas: std.
    Annotations: keypoint_px: std in pixels at 640 px image width; keypoint_drop: share
    of in-image keypoints left unannotated. Probabilities per detection: missed_detection,
    duplicate (an occluded person's HMR pose is the occluder's), wrong_class,
    unknown_track (track_id -1), unknown_action (action_id -1).
    """

    metric_white: float
    metric_smooth: float
    disparity_white: float
    outlier_fraction: float
    orient_deg: float
    pose_deg: float
    cam_t_xy: float
    cam_t_depth: float
    betas: float
    keypoint_px: float
    keypoint_drop: float
    missed_detection: float
    duplicate: float
    wrong_class: float
    unknown_track: float
    unknown_action: float


NOISE_PRESETS: dict[str, NoiseLevels] = {
    "clean": NoiseLevels(
        metric_white=0.01, metric_smooth=0.0, disparity_white=0.002, outlier_fraction=0.0,
        orient_deg=2.0, pose_deg=2.0, cam_t_xy=0.02, cam_t_depth=0.03, betas=0.05,
        keypoint_px=0.0, keypoint_drop=0.0, missed_detection=0.0, duplicate=0.0,
        wrong_class=0.0, unknown_track=0.0, unknown_action=0.0,
    ),
    "noisy": NoiseLevels(
        metric_white=0.03, metric_smooth=0.05, disparity_white=0.01, outlier_fraction=0.005,
        orient_deg=6.0, pose_deg=6.0, cam_t_xy=0.05, cam_t_depth=0.10, betas=0.2,
        keypoint_px=3.0, keypoint_drop=0.05, missed_detection=0.05, duplicate=0.7,
        wrong_class=0.03, unknown_track=0.05, unknown_action=0.05,
    ),
}


@dataclass(frozen=True)
class SyntheticConfig:
    """What to draw. Ranges are inclusive (low, high); lengths metres, angles degrees.

    image_size: (W, H) pixels; metric depth is (H / metric_downsample, W / metric_downsample).
    key_frame_every: frames 0, n, 2n, ... are key frames. num_people: (low, high) in 1..2;
    person i gets roles[i]. noise: the preset of :data:`NOISE_PRESETS`; jitter scales its
    HMR-like errors (0: predictions are the ground truth exactly, up to float32).
    intrinsics_known: write K into sequence.json (else ``null``: the reader assumes 90 deg).
    """

    room_width: tuple[float, float] = (3.5, 6.0)
    room_depth: tuple[float, float] = (3.2, 5.0)
    room_height: tuple[float, float] = (2.6, 3.0)
    camera_height: tuple[float, float] = (2.3, 2.7)
    horizontal_fov_deg: tuple[float, float] = (70.0, 100.0)
    image_size: tuple[int, int] = (640, 480)
    metric_downsample: int = 4
    fps: float = 10.0
    num_frames: int = 100
    key_frame_every: int = 10
    num_people: tuple[int, int] = (1, 2)
    roles: tuple[Role, ...] = ("patient", "staff")
    walk_speed: tuple[float, float] = (0.8, 1.2)
    noise: NoisePreset = "clean"
    jitter: float = 1.0
    intrinsics_known: bool = True

    def __post_init__(self) -> None:
        for name in ("room_width", "room_depth", "room_height", "camera_height", "horizontal_fov_deg", "walk_speed"):
            low, high = getattr(self, name)
            if not (0 < low <= high):
                raise ValueError(f"SyntheticConfig.{name} must be (low, high) with 0 < low <= high, got {(low, high)}")
        if self.room_width[0] < 3.0 or self.room_depth[0] < 3.0:
            raise ValueError("SyntheticConfig.room_width/room_depth must start at 3 m or more (bed, table, chair and walking room)")
        if self.camera_height[0] > self.room_height[0] - 0.1:
            raise ValueError("SyntheticConfig.camera_height must start at least 0.1 m below the lowest ceiling")
        if not self.horizontal_fov_deg[1] < 170:
            raise ValueError(f"SyntheticConfig.horizontal_fov_deg must stay below 170, got {self.horizontal_fov_deg}")
        width, height = self.image_size
        if self.metric_downsample < 1 or width % self.metric_downsample or height % self.metric_downsample:
            raise ValueError(f"SyntheticConfig.image_size {self.image_size} must be divisible by metric_downsample {self.metric_downsample}")
        if self.num_frames < 1 or self.key_frame_every < 1 or not self.fps > 0:
            raise ValueError("SyntheticConfig.num_frames, key_frame_every and fps must be positive")
        low, high = self.num_people
        if not 1 <= low <= high <= 2:
            raise ValueError(f"SyntheticConfig.num_people must be within 1..2, got {self.num_people}")
        if len(self.roles) < high or any(role not in ROLES for role in self.roles):
            raise ValueError(f"SyntheticConfig.roles needs {high} roles from {ROLES}, got {self.roles}")
        if self.noise not in NOISE_PRESET_NAMES:
            raise ValueError(f"SyntheticConfig.noise must be one of {NOISE_PRESET_NAMES}, got {self.noise!r}")
        if not self.jitter >= 0:
            raise ValueError(f"SyntheticConfig.jitter must be >= 0, got {self.jitter}")


class PoseableBody(Protocol):
    """What the generator needs of a body model (:class:`..body.model.BodyModel` is one).

    rest_joints: (24, 3) template-frame joints for betas. forward: an object with
    ``joints`` (T, 24, 3) and ``vertices`` (T, V, 3) metres.
    """

    def rest_joints(self, betas: np.ndarray | None = None) -> np.ndarray: ...

    def forward(self, global_orient: np.ndarray, body_pose: np.ndarray, transl: np.ndarray | None, betas: np.ndarray | None = None) -> Any: ...


def default_body() -> PoseableBody:
    """The bundled stand-in body, ``load_body_model(None)``."""
    if importlib.util.find_spec(f"{__package__.rsplit('.', 1)[0]}.body.standin") is None:
        raise RuntimeError("the bundled stand-in body (addon/core/body/standin.py) is not available: pass body=")
    from ..body.model import load_body_model

    return load_body_model(None)


# ---------------------------------------------------------------------------
# 1. Room: a sampled layout as oriented boxes
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Box:
    """An oriented box: label, centre (3,) and full size (3,) metres, yaw about +Z degrees."""

    label: str
    center: np.ndarray
    size: np.ndarray
    yaw_deg: float

    def rotation(self) -> np.ndarray:
        """(3, 3) box -> world rotation."""
        yaw = math.radians(self.yaw_deg)
        return np.array([[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0], [0.0, 0.0, 1.0]])

    def footprint_contains(self, xy: np.ndarray, margin: float) -> np.ndarray:
        """(...,) bool: floor points xy (..., 2) within ``margin`` metres of the box's footprint."""
        local = (np.asarray(xy) - self.center[:2]) @ self.rotation()[:2, :2]
        return (np.abs(local[..., 0]) <= self.size[0] / 2 + margin) & (np.abs(local[..., 1]) <= self.size[1] / 2 + margin)


def boxes_from_room(layout: RoomLayout) -> list[Box]:
    """Every box of :func:`..room.build_room` (re-derived from its 8-corner groups) plus a ceiling.

    room.box puts corner i at bits (x, y, z) of i, so corners 1, 2, 4 minus corner 0 are the
    box's scaled x, y, z axes.
    """
    boxes = []
    for part in build_room(layout):
        for corners in part.vertices.astype(np.float64).reshape(-1, 8, 3):
            axes = corners[[1, 2, 4]] - corners[0]
            yaw = math.degrees(math.atan2(axes[0, 1], axes[0, 0]))
            boxes.append(Box(part.label, corners.mean(axis=0), np.linalg.norm(axes, axis=1), yaw))
    w, d, h, t = layout.width, layout.depth, layout.height, layout.wall_thickness
    boxes.append(Box("ceiling", np.array([w / 2, d / 2, h + 0.025]), np.array([w + 2 * t, d + 2 * t, 0.05]), 0.0))
    return boxes


def sample_layout(config: SyntheticConfig, rng: np.random.Generator) -> RoomLayout:
    """A care room: bed with its head against the back wall (y = depth), bedside table, chair."""
    width = rng.uniform(*config.room_width)
    depth = rng.uniform(*config.room_depth)
    height = rng.uniform(*config.room_height)
    bed = (rng.uniform(0.85, 1.0), rng.uniform(1.95, 2.15), rng.uniform(0.5, 0.62))
    bed_x = rng.uniform(0.1 + bed[0] / 2, width - 0.1 - bed[0] / 2)
    bed_y = depth - bed[1] / 2 - 0.05
    # Bedside table (0.45 x 0.4) beside the bed head, on a side where it fits.
    spots = [bed_x + side * (bed[0] / 2 + 0.3) for side in (-1.0, 1.0)]
    spots = [x for x in spots if 0.35 <= x <= width - 0.35] or [min(max(spots[1], 0.35), width - 0.35)]
    table = (spots[int(rng.integers(len(spots)))], depth - 0.25)
    draft = RoomLayout(width=width, depth=depth, height=height, bed_size=bed, bed_position=(bed_x, bed_y), table_position=table)
    taken = [b for b in boxes_from_room(draft) if b.label in ("bed", "table")]
    # Chair anywhere free: 0.45 m from the walls, 0.5 m from the bed and table.
    for _ in range(200):
        chair = np.array([rng.uniform(0.45, width - 0.45), rng.uniform(0.45, depth - 0.45)])
        if not any(b.footprint_contains(chair, 0.5) for b in taken):
            break
    return RoomLayout(
        width=width, depth=depth, height=height, bed_size=bed, bed_position=(bed_x, bed_y),
        chair_position=(float(chair[0]), float(chair[1])), chair_yaw_deg=float(rng.uniform(0.0, 360.0)),
        table_position=table,
    )


# ---------------------------------------------------------------------------
# 2. Camera: a ceiling corner, looking down at the room centre
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Camera:
    """camera_to_world: (4, 4) OpenCV camera -> world. K: (3, 3) pixels. image_size: (W, H)."""

    camera_to_world: np.ndarray
    K: np.ndarray
    image_size: tuple[int, int]

    @property
    def world_to_camera(self) -> tuple[np.ndarray, np.ndarray]:
        """(R (3, 3), t (3,)): x_camera = R x_world + t."""
        R = self.camera_to_world[:3, :3].T
        return R, -R @ self.camera_to_world[:3, 3]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> camera frame (..., 3)."""
        R, t = self.world_to_camera
        return points @ R.T + t

    def project(self, camera_points: np.ndarray) -> np.ndarray:
        """Camera-frame points (..., 3) -> pixels (..., 2); only meaningful for z > 0."""
        z = np.where(camera_points[..., 2:3] > 1e-9, camera_points[..., 2:3], 1e-9)
        return (camera_points @ self.K.T)[..., :2] / z

    def in_image(self, camera_points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(...,) bool: in front (z > 5 cm) and inside the image shrunk by ``margin`` (fraction)."""
        uv = self.project(camera_points)
        W, H = self.image_size
        return (
            (camera_points[..., 2] > 0.05)
            & (uv[..., 0] >= margin * W) & (uv[..., 0] < (1 - margin) * W)
            & (uv[..., 1] >= margin * H) & (uv[..., 1] < (1 - margin) * H)
        )


def sample_camera(config: SyntheticConfig, layout: RoomLayout, rng: np.random.Generator) -> Camera:
    """A monitoring camera in a random ceiling corner, 2.3-2.7 m up, aimed near (centre, 0.8 m)."""
    corner = int(rng.integers(4))
    inset = rng.uniform(0.15, 0.3)
    x = inset if corner & 1 == 0 else layout.width - inset
    y = inset if corner & 2 == 0 else layout.depth - inset
    z = rng.uniform(config.camera_height[0], min(config.camera_height[1], layout.height - 0.1))
    target = np.array([layout.width / 2 + rng.uniform(-0.3, 0.3), layout.depth / 2 + rng.uniform(-0.3, 0.3), rng.uniform(0.6, 1.0)])
    # look_at is Blender's convention (columns right, up, -forward); flip y and z for OpenCV.
    camera_to_world = look_at(np.array([x, y, z]), target) @ BLENDER_TO_OPENCV
    K = intrinsics_from_fov(*config.image_size, rng.uniform(*config.horizontal_fov_deg))
    return Camera(camera_to_world=camera_to_world, K=K, image_size=tuple(config.image_size))


# ---------------------------------------------------------------------------
# 3. People: walking, standing and turning as SMPL motions
# ---------------------------------------------------------------------------

_BODY_CLEARANCE = 0.35  # metres kept from walls and furniture footprints
_STRIDE = 1.3  # metres per gait cycle (two steps)
_TURN_RATE = math.radians(150.0)  # radians per second
_PERSONAL_SPACE = 0.6  # metres between two people's pelvis paths


class _FreeSpace:
    """Floor points a person can stand on and the camera sees, head to toe."""

    def __init__(self, layout: RoomLayout, boxes: list[Box], camera: Camera) -> None:
        self.layout = layout
        self.obstacles = [b for b in boxes if b.label not in ("floor", "wall", "ceiling")]
        self.camera = camera

    def free(self, xy: np.ndarray) -> np.ndarray:
        """(...,) bool for floor points xy (..., 2)."""
        c = _BODY_CLEARANCE
        inside = (xy[..., 0] > c) & (xy[..., 0] < self.layout.width - c) & (xy[..., 1] > c) & (xy[..., 1] < self.layout.depth - c)
        for b in self.obstacles:
            inside &= ~b.footprint_contains(xy, c)
        return inside

    def seen(self, xy: np.ndarray) -> np.ndarray:
        """(...,) bool: the feet and the head top above xy are both in the image (5 % margin)."""
        feet = np.concatenate([xy, np.full((*xy.shape[:-1], 1), 0.05)], axis=-1)
        head = np.concatenate([xy, np.full((*xy.shape[:-1], 1), 1.8)], axis=-1)
        return self.camera.in_image(self.camera.to_camera(feet), 0.05) & self.camera.in_image(self.camera.to_camera(head), 0.05)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A free, seen point (2,); the constraints relax if none turns up."""
        for test in (lambda p: self.free(p) & self.seen(p), self.free):
            points = np.stack([rng.uniform(0, self.layout.width, 400), rng.uniform(0, self.layout.depth, 400)], axis=1)
            good = np.flatnonzero(test(points))
            if len(good):
                return points[good[0]]
        raise RuntimeError("synthetic room has no free floor")

    def clear_path(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether the straight walk a -> b stays free (sampled every 5 cm)."""
        steps = max(2, int(np.linalg.norm(b - a) / 0.05) + 1)
        return bool(self.free(a + np.linspace(0, 1, steps)[:, None] * (b - a)).all())


def _plan(space: _FreeSpace, num_frames: int, fps: float, speed_range: tuple[float, float], rng: np.random.Generator):
    """A walk plan: positions (T, 2) metres, headings (T,) radians (0 = +X), actions (T,) int32.

    Alternates standing (1-3 s), turning towards the next free point, and walking
    to it in a straight line at a constant speed.
    """
    dt = 1.0 / fps
    position = space.sample(rng)
    heading = rng.uniform(-math.pi, math.pi)
    xy, headings, actions = [], [], []

    def emit(p: np.ndarray, h: float, action: int) -> None:
        xy.append(p.copy())
        headings.append(h)
        actions.append(action)

    while len(xy) < num_frames:
        goal = None
        if rng.random() > 0.3:
            for _ in range(30):
                candidate = space.sample(rng)
                if np.linalg.norm(candidate - position) > 1.0 and space.clear_path(position, candidate):
                    goal = candidate
                    break
        if goal is None:
            for _ in range(max(1, int(rng.uniform(1.0, 3.0) * fps))):
                emit(position, heading, STAND)
            continue
        # Turn on the spot, then walk.
        wanted = math.atan2(goal[1] - position[1], goal[0] - position[0])
        turn = (wanted - heading + math.pi) % (2 * math.pi) - math.pi
        steps = int(math.ceil(abs(turn) / (_TURN_RATE * dt)))
        for i in range(1, steps + 1):
            emit(position, heading + turn * i / steps, TURN)
        heading = wanted
        distance = float(np.linalg.norm(goal - position))
        steps = max(1, int(math.ceil(distance / (rng.uniform(*speed_range) * dt))))
        start = position
        for i in range(1, steps + 1):
            emit(start + (goal - start) * i / steps, heading, WALK)
        position = goal
    return np.array(xy[:num_frames]), np.array(headings[:num_frames]), np.array(actions[:num_frames], dtype=np.int32)


def _rot(axis: str, radians: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about a template axis."""
    aa = np.zeros((np.size(radians), 3))
    aa[:, "xyz".index(axis)] = radians
    return axis_angle_to_matrix(aa)


def gait_pose(phase: np.ndarray, amplitude: np.ndarray, look: np.ndarray) -> np.ndarray:
    """A swinging-gait body pose: (T, 23, 3) axis-angle radians.

    phase: (T,) radians of the gait cycle; amplitude: (T,) 0 (standing) .. 1 (walking);
    look: (T,) radians the head turns. Template axes: x left, y up, z forward; a negative
    rotation about x swings a hanging limb forward.
    """
    T = len(phase)
    deg = np.radians
    s, c, a = np.sin(phase), np.cos(phase), amplitude
    local = np.tile(np.eye(3), (T, 24, 1, 1))
    local[:, JOINT_INDEX["left_hip"]] = _rot("x", -a * deg(22) * s)
    local[:, JOINT_INDEX["right_hip"]] = _rot("x", a * deg(22) * s)
    # The knee bends in the swing phase (the hip moving forward).
    local[:, JOINT_INDEX["left_knee"]] = _rot("x", a * deg(5 + 35 * np.maximum(0, c)) + deg(3))
    local[:, JOINT_INDEX["right_knee"]] = _rot("x", a * deg(5 + 35 * np.maximum(0, -c)) + deg(3))
    # Arms down from the T-pose, swinging against the legs.
    local[:, JOINT_INDEX["left_shoulder"]] = _rot("x", a * deg(20) * s) @ _rot("z", np.full(T, -deg(75)))
    local[:, JOINT_INDEX["right_shoulder"]] = _rot("x", -a * deg(20) * s) @ _rot("z", np.full(T, deg(75)))
    local[:, JOINT_INDEX["left_elbow"]] = _rot("y", -deg(12) - a * deg(10))
    local[:, JOINT_INDEX["right_elbow"]] = _rot("y", deg(12) + a * deg(10))
    local[:, JOINT_INDEX["spine1"]] = _rot("y", a * deg(5) * s)
    local[:, JOINT_INDEX["neck"]] = _rot("y", look)
    return matrix_to_axis_angle(local[:, 1:])


def person_motion(
    space: _FreeSpace, body: PoseableBody, betas: np.ndarray, role: Role, config: SyntheticConfig,
    rng: np.random.Generator, name: str, others: tuple[np.ndarray, ...] = (),
) -> tuple[Motion, np.ndarray, np.ndarray]:
    """One person's grounded motion (AMASS convention) with its world joints and rotations.

    others: (T, 2) floor paths of the people already placed, to keep clear of.

    Returns (motion, joints (T, 24, 3) metres, world rotations (T, 24, 3, 3)); motion.labels
    are ids into :data:`ACTION_NAMES`.
    """
    T, fps = config.num_frames, config.fps
    # 0. A plan keeping _PERSONAL_SPACE from the people already placed (redrawn a few times).
    for _ in range(20):
        xy, heading, actions = _plan(space, T, fps, config.walk_speed, rng)
        if all(np.linalg.norm(xy - other, axis=1).min() >= _PERSONAL_SPACE for other in others):
            break
    # 1. Gait phase from the distance walked; amplitude eased over three frames.
    walked = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
    phase = 2 * math.pi * walked / _STRIDE + rng.uniform(0, 2 * math.pi)
    amplitude = np.convolve(np.pad((actions == WALK).astype(float), 1, mode="edge"), np.ones(3) / 3, mode="valid")
    look = np.radians(15.0) * np.sin(2 * math.pi * 0.15 * np.arange(T) / fps + rng.uniform(0, 2 * math.pi))
    body_pose = gait_pose(phase, amplitude, look)
    # 2. Root: the Y-up template turned upright (demo_motion), then to the heading.
    #    A body facing -Y has yaw 0, so heading h needs yaw h + 90 degrees.
    upright = axis_angle_to_matrix(np.array([math.pi / 2, 0.0, 0.0]))
    global_orient = matrix_to_axis_angle(_rot("z", heading + math.pi / 2) @ upright)
    # 3. The pelvis (J_0 + transl) over the path; grounded so the lowest vertex touches z = 0.
    rest = body.rest_joints(betas)
    transl = np.concatenate([xy, np.zeros((T, 1))], axis=1) - rest[0]
    posed = body.forward(global_orient, body_pose, transl, betas)
    lowest = posed.vertices[..., 2].min(axis=1)
    transl[:, 2] -= lowest
    joints = posed.joints - np.concatenate([np.zeros((T, 2)), lowest[:, None]], axis=1)[:, None]
    motion = Motion(global_orient=global_orient, body_pose=body_pose, transl=transl, betas=betas, fps=fps,
                    role=role, labels=actions, name=name)
    rotations, _ = forward_kinematics(motion.local_rotations(), rest)
    return motion, joints, rotations


# ---------------------------------------------------------------------------
# 4. Ray casting: boxes and capsules, vectorised over pixels x primitives
# ---------------------------------------------------------------------------

_CHUNK = 16384  # pixels per vectorised block

# Capsule radius (metres) of the bone ending at each joint (index = child joint).
_BONE_RADIUS = {
    "left_hip": 0.09, "right_hip": 0.09, "spine1": 0.12, "spine2": 0.12, "spine3": 0.12,
    "left_knee": 0.075, "right_knee": 0.075, "left_ankle": 0.055, "right_ankle": 0.055,
    "left_foot": 0.045, "right_foot": 0.045, "neck": 0.06, "left_collar": 0.06, "right_collar": 0.06,
    "head": 0.06, "left_shoulder": 0.06, "right_shoulder": 0.06, "left_elbow": 0.05, "right_elbow": 0.05,
    "left_wrist": 0.04, "right_wrist": 0.04, "left_hand": 0.035, "right_hand": 0.035,
}
_CHILDREN = np.arange(1, NUM_JOINTS)
_RADII = np.array([_BONE_RADIUS[JOINT_NAMES[j]] for j in range(1, NUM_JOINTS)])
_HEAD_RADIUS = 0.09
_HEAD_UP = 0.04  # metres from the head joint to the top sphere's centre
_CUBE_SIGNS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)


def pixel_rays(camera: Camera) -> np.ndarray:
    """(H*W, 3) camera-frame ray directions through the pixel centres, z = 1 (so t is z-depth)."""
    W, H = camera.image_size
    u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    K = camera.K
    x = (u.ravel() - K[0, 2]) / K[0, 0]
    y = (v.ravel() - K[1, 2]) / K[1, 1]
    return np.stack([x, y, np.ones_like(x)], axis=1)


def cast_boxes(origin: np.ndarray, directions: np.ndarray, boxes: list[Box]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest box hit per ray by the slab method. origin: (3,) outside every box;
    directions: (P, 3). Returns (t (P,), box index (P,)); t = inf and index -1 on a miss.

    In box b's frame the ray is o_b + t d_b with o_b = R_b^T (origin - c_b), d_b = R_b^T d;
    it enters the box at the largest of the three slab entries, if before every slab exit.
    """
    centers = np.stack([b.center for b in boxes])
    halves = np.stack([b.size for b in boxes]) / 2  # (B, 3)
    rotations = np.stack([b.rotation() for b in boxes])  # (B, 3, 3) box -> world
    origins = np.einsum("bji,bj->bi", rotations, origin - centers)  # (B, 3) in box frames
    t_best = np.full(len(directions), np.inf)
    index = np.full(len(directions), -1)
    chunk = 4 * _CHUNK
    for start in range(0, len(directions), chunk):
        d = directions[start : start + chunk]
        near = np.zeros((len(d), len(boxes)))
        far = np.full((len(d), len(boxes)), np.inf)
        for i in range(3):
            local = d @ rotations[:, :, i].T  # (P, B): component i of every ray in every box frame
            inverse = 1.0 / np.where(np.abs(local) < 1e-12, 1e-12, local)
            t1 = (-halves[:, i] - origins[:, i]) * inverse
            t2 = (halves[:, i] - origins[:, i]) * inverse
            near = np.maximum(near, np.minimum(t1, t2))
            far = np.minimum(far, np.maximum(t1, t2))
        # near starts at 0: an origin inside a box would report t = 0 (never happens here).
        t = np.where(near <= far, near, np.inf)
        best = t.argmin(axis=1)
        t_min = t[np.arange(len(t)), best]
        t_best[start : start + chunk] = t_min
        index[start : start + chunk] = np.where(np.isfinite(t_min), best, -1)
    return t_best, index


def cast_capsules(directions: np.ndarray, a: np.ndarray, b: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Nearest capsule entry per ray from the origin (the camera, outside every capsule).

    directions: (P, 3); a, b: (S, 3) segment ends; radius: (S,) metres. Returns t (P,), inf on
    a miss. A capsule is the union of a finite cylinder and two end spheres; each entry solves
    |t d - x|^2 = r^2 (spheres) or its part perpendicular to the axis (cylinder).
    """
    axis = b - a
    length = np.linalg.norm(axis, axis=1)
    n = axis / np.maximum(length, 1e-12)[:, None]
    an = (a * n).sum(1)
    aa, bb = (a * a).sum(1), (b * b).sum(1)
    r2 = radius**2
    result = np.full(len(directions), np.inf)
    for start in range(0, len(directions), _CHUNK):
        d = directions[start : start + _CHUNK]
        dd = (d * d).sum(1)[:, None]
        dn, da, db = d @ n.T, d @ a.T, d @ b.T  # (P, S)
        with np.errstate(invalid="ignore", divide="ignore"):
            # Cylinder: A t^2 + B t + C = 0 with the axial components removed.
            A = dd - dn**2
            half_B = -(da - dn * an)
            C = aa - an**2 - r2
            disc = half_B**2 - A * C
            t_cyl = (-half_B - np.sqrt(disc)) / A
            y = t_cyl * dn - an
            t_cyl = np.where((disc >= 0) & (A > 1e-12) & (y >= 0) & (y <= length) & (t_cyl > 0), t_cyl, np.inf)
            # End spheres: dd t^2 - 2 (d.c) t + |c|^2 - r^2 = 0.
            t_a = (da - np.sqrt(da**2 - dd * (aa - r2))) / dd
            t_b = (db - np.sqrt(db**2 - dd * (bb - r2))) / dd
        t_a = np.where(np.isfinite(t_a) & (t_a > 0), t_a, np.inf)
        t_b = np.where(np.isfinite(t_b) & (t_b > 0), t_b, np.inf)
        result[start : start + _CHUNK] = np.minimum(np.minimum(t_cyl, t_a), t_b).min(axis=1)
    return result


def person_capsules(joints: np.ndarray, rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A posed person as 24 capsules: the 23 SMPL bones plus the head.

    joints: (24, 3) and rotations (24, 3, 3) in one frame (world or camera). Returns
    (a (24, 3), b (24, 3), radius (24,)) metres.
    """
    head = joints[JOINT_INDEX["head"]]
    top = head + rotations[JOINT_INDEX["head"]] @ np.array([0.0, _HEAD_UP, 0.0])
    a = np.concatenate([joints[list(PARENTS[1:])], head[None]])
    b = np.concatenate([joints[_CHILDREN], top[None]])
    return a, b, np.append(_RADII, _HEAD_RADIUS)


def capsule_bbox(camera: Camera, a: np.ndarray, b: np.ndarray, radius: np.ndarray, clip: bool = True) -> np.ndarray | None:
    """Pixel box (x0, y0, x1, y1) around camera-frame capsules, or None when entirely behind.

    A capsule lies in the convex hull of the cubes (side 2r) around its end spheres, and
    the projection of a convex set in front of the camera is the hull of its projected
    corners: so the 16 cube corners' pixels bound the capsule, off-axis stretching included.
    A corner closer than 5 cm to the camera plane gives the whole image.
    """
    W, H = camera.image_size
    ends = np.concatenate([a, b])
    corners = (ends[:, None, :] + np.concatenate([radius, radius])[:, None, None] * _CUBE_SIGNS).reshape(-1, 3)
    if (corners[:, 2] < 0.05).any():
        return np.array([0.0, 0.0, W, H]) if (corners[:, 2] > 0).any() else None
    uv = camera.project(corners)
    box = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
    if clip:
        box = np.clip(box, 0.0, [W, H, W, H])
    return box


@dataclass(frozen=True, eq=False)
class RoomRender:
    """The static room seen by the camera: z-depth (H, W) metres and box index (H, W)."""

    depth: np.ndarray
    box_index: np.ndarray


def render_room(camera: Camera, boxes: list[Box], rays: np.ndarray) -> RoomRender:
    """Ray cast the room once (the camera does not move). rays: (H*W, 3) from :func:`pixel_rays`."""
    W, H = camera.image_size
    directions = rays @ camera.camera_to_world[:3, :3].T  # world frame, still 1 along the camera z
    t, index = cast_boxes(camera.camera_to_world[:3, 3], directions, boxes)
    if not np.isfinite(t).all():
        raise RuntimeError("synthetic room is not closed: a pixel ray escaped")
    return RoomRender(depth=t.reshape(H, W), box_index=index.reshape(H, W))


def render_key_frame(
    camera: Camera, room: RoomRender, boxes: list[Box], rays: np.ndarray,
    people: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """True z-depth (H, W) float64 metres and labels (H, W) uint8 (ids of :data:`MASK_LABELS`).

    rays: (H*W, 3) from :func:`pixel_rays`. people: camera-frame capsules (a, b, radius)
    of every person in the frame. Each capsule is cast only through the pixels of its own
    screen box, so the cost follows the people's image area.
    """
    W, H = camera.image_size
    depth = room.depth.copy()
    label_of_box = np.array([MASK_LABELS.index(b.label) for b in boxes], dtype=np.uint8)
    labels = label_of_box[room.box_index]
    grid = rays.reshape(H, W, 3)
    person = MASK_LABELS.index("person")
    for a, b, radius in people:
        for s in range(len(radius)):
            box = capsule_bbox(camera, a[s : s + 1], b[s : s + 1], radius[s : s + 1])
            if box is None:
                continue
            x0, y0 = int(math.floor(box[0])), int(math.floor(box[1]))
            x1, y1 = int(math.ceil(box[2])), int(math.ceil(box[3]))
            if x1 <= x0 or y1 <= y0:
                continue
            t = cast_capsules(grid[y0:y1, x0:x1].reshape(-1, 3), a[s : s + 1], b[s : s + 1], radius[s : s + 1])
            window = depth[y0:y1, x0:x1]
            nearer = t.reshape(window.shape) < window
            window[nearer] = t.reshape(window.shape)[nearer]
            labels[y0:y1, x0:x1][nearer] = person
    return depth, labels


# ---------------------------------------------------------------------------
# 5. Depth Anything-like depth maps (thesis 5.1, "Restoring scene depth")
# ---------------------------------------------------------------------------


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A zero-mean, unit-scale low-frequency field (H, W): three random long waves."""
    H, W = shape
    y, x = np.mgrid[0:H, 0:W]
    waves = np.zeros(shape)
    for _ in range(3):
        kx, ky = rng.uniform(-1.5, 1.5, 2)
        waves += np.cos(2 * math.pi * (kx * x / W + ky * y / H) + rng.uniform(0, 2 * math.pi))
    return waves / math.sqrt(1.5)


def _outliers(shape: tuple[int, ...], fraction: float, rng: np.random.Generator) -> np.ndarray:
    return rng.random(shape) < fraction if fraction > 0 else np.zeros(shape, dtype=bool)


def metric_depth_map(true_depth: np.ndarray, factor: int, noise: NoiseLevels, rng: np.random.Generator) -> np.ndarray:
    """(H / factor, W / factor) float32 metres: the area average of the true depth, with noise.

    m = mean(z) (1 + metric_smooth * field + metric_white * n), outliers scaled by 0.5-2.
    """
    H, W = true_depth.shape
    clean = true_depth.reshape(H // factor, factor, W // factor, factor).mean(axis=(1, 3))
    factor_map = 1 + noise.metric_smooth * _smooth_field(clean.shape, rng) + noise.metric_white * rng.standard_normal(clean.shape)
    metric = clean * factor_map
    wild = _outliers(clean.shape, noise.outlier_fraction, rng)
    metric[wild] = clean[wild] * rng.uniform(0.5, 2.0, int(wild.sum()))
    return np.maximum(metric, 0.05).astype(np.float32)


def disparity_map(true_depth: np.ndarray, scale: float, offset: float, noise: NoiseLevels, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32: scale / z + offset, with relative noise and outliers (uniform over the range)."""
    clean = scale / true_depth
    disparity = clean * (1 + noise.disparity_white * rng.standard_normal(clean.shape)) + offset
    wild = _outliers(clean.shape, noise.outlier_fraction, rng)
    disparity[wild] = rng.uniform(clean.min(), clean.max(), int(wild.sum())) + offset
    return disparity.astype(np.float32)


# ---------------------------------------------------------------------------
# 6. Detections: HMR2.0-like predictions and annotations
# ---------------------------------------------------------------------------

# Face keypoints in the head joint's frame (template axes: x left, y up, z forward), metres.
_FACE = {
    "nose": (0.0, 0.02, 0.10),
    "left_eye": (0.032, 0.055, 0.085), "right_eye": (-0.032, 0.055, 0.085),
    "left_ear": (0.075, 0.03, 0.0), "right_ear": (-0.075, 0.03, 0.0),
}
_FACE_OFFSETS = np.array([_FACE[name] for name in COCO_NAMES[:5]])  # COCO lists the face first


def coco17_points(joints: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """COCO-17 points (..., 17, 3) from SMPL joints (..., 24, 3) and world rotations (..., 24, 3, 3).

    The 12 body points are SMPL joints (:data:`.keypoints.SMPL_FOR_COCO`); the face points
    sit at small offsets from the head joint, turned with the head.
    """
    head = JOINT_INDEX["head"]
    face = joints[..., head, None, :] + np.einsum("...ij,kj->...ki", rotations[..., head, :, :], _FACE_OFFSETS)
    return np.concatenate([face, joints[..., list(SMPL_FOR_COCO[5:]), :]], axis=-2)


def _random_rotations(shape: tuple[int, ...], sigma_rad: float, rng: np.random.Generator) -> np.ndarray:
    """(*shape, 3, 3) rotations with axis-angle components ~ N(0, sigma^2)."""
    return axis_angle_to_matrix(rng.normal(0.0, sigma_rad, (*shape, 3)) if sigma_rad > 0 else np.zeros((*shape, 3)))


def hmr_predictions(
    motion: Motion, rest_pelvis: np.ndarray, camera: Camera, noise: NoiseLevels, jitter: float, rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per-frame HMR2.0-like SMPL (T rows): the truth moved into the camera frame, jittered.

    global_orient' = R_wc global_orient; cam_t = R_wc (J_0 + transl) + t_wc - J_0
    (:func:`..smpl_transform.transform_smpl`). The pelvis then moves along its viewing ray
    by a relative cam_t_depth error and across it by cam_t_xy, like a monocular estimator.
    """
    T = motion.num_frames
    R, t = camera.world_to_camera
    orient, cam_t = transform_smpl(motion.global_orient, motion.transl, rest_pelvis, R, t)
    deg = math.radians(1.0) * jitter
    orient = matrix_to_axis_angle(_random_rotations((T,), noise.orient_deg * deg, rng) @ axis_angle_to_matrix(orient))
    pose = matrix_to_axis_angle(axis_angle_to_matrix(motion.body_pose) @ _random_rotations((T, 23), noise.pose_deg * deg, rng))
    pelvis = cam_t + rest_pelvis
    pelvis = pelvis * (1 + noise.cam_t_depth * jitter * rng.standard_normal((T, 1)))
    pelvis[:, :2] += noise.cam_t_xy * jitter * rng.standard_normal((T, 2))
    betas = np.zeros((T, 10))
    betas[:, : min(10, len(motion.betas))] = motion.betas[:10]
    betas += noise.betas * jitter * rng.standard_normal((T, 10))
    return {"global_orient": orient, "body_pose": pose, "cam_t": pelvis - rest_pelvis, "betas": betas}


@dataclass(eq=False)
class _Rows:
    """Detection rows under construction (lists of per-row values)."""

    values: dict[str, list] = field(default_factory=dict)

    def add(self, **row: Any) -> None:
        for key, value in row.items():
            self.values.setdefault(key, []).append(value)

    def array(self, key: str, dtype, shape: tuple[int, ...]) -> np.ndarray:
        items = self.values.get(key, [])
        return np.array(items, dtype=dtype).reshape(len(items), *shape) if items else np.zeros((0, *shape), dtype)


def _intersection(box: np.ndarray, other: np.ndarray) -> float:
    w = min(box[2], other[2]) - max(box[0], other[0])
    h = min(box[3], other[3]) - max(box[1], other[1])
    return max(w, 0.0) * max(h, 0.0)


# ---------------------------------------------------------------------------
# 7. The whole sequence
# ---------------------------------------------------------------------------


class SyntheticSequence(NamedTuple):
    """What :func:`generate_sequence` returns: the arguments of :func:`.sequence.write_sequence`."""

    meta: SequenceMeta
    detections: Detections
    depth: dict[int, KeyFrameDepth]
    masks: dict[int, np.ndarray]
    ground_truth: dict[str, np.ndarray]


def generate_sequence(config: SyntheticConfig, rng: np.random.Generator, body: PoseableBody | None = None) -> SyntheticSequence:
    """A synthetic Teton-like sequence and its ground truth (``docs/teton_sequence.md``).

    body: the body model posing the people (None: :func:`default_body`).
    """
    body = default_body() if body is None else body
    noise = NOISE_PRESETS[config.noise]
    W, H = config.image_size
    T = config.num_frames
    key_frames = tuple(range(0, T, config.key_frame_every))

    # 1. Room and camera.
    layout = sample_layout(config, rng)
    boxes = boxes_from_room(layout)
    camera = sample_camera(config, layout, rng)
    R_wc, _ = camera.world_to_camera

    # 2. People (AMASS-convention motions, grounded with the body model).
    space = _FreeSpace(layout, boxes, camera)
    num_people = int(rng.integers(config.num_people[0], config.num_people[1] + 1))
    tracks = np.sort(rng.choice(np.arange(1, 100), num_people, replace=False)).astype(np.int32)
    people = []
    for p in range(num_people):
        betas = np.clip(rng.normal(0.0, 0.6, 10), -1.5, 1.5)
        others = tuple(joints[:, 0, :2] for _, joints, _, _ in people)
        motion, joints, rotations = person_motion(space, body, betas, config.roles[p], config, rng, f"synthetic_person_{p}", others)
        people.append((motion, joints, rotations, body.rest_joints(betas)[0]))

    # 3. Key frames: ray-cast truth, then Depth Anything-like maps.
    rays = pixel_rays(camera)
    room = render_room(camera, boxes, rays)
    scale = float(np.exp(rng.uniform(np.log(0.2), np.log(5.0))))
    offset = float(scale * rng.uniform(0.0, 0.15))
    depth, masks, true_depth = {}, {}, []
    for k in key_frames:
        capsules = []
        for _, joints, rotations, _ in people:
            a, b, radius = person_capsules(joints[k], rotations[k])
            capsules.append((camera.to_camera(a), camera.to_camera(b), radius))
        z, labels = render_key_frame(camera, room, boxes, rays, capsules)
        true_depth.append(z.astype(np.float32))
        masks[k] = labels
        depth[k] = KeyFrameDepth(
            metric=metric_depth_map(z, config.metric_downsample, noise, rng),
            disparity=disparity_map(z, scale, offset, noise, rng),
        )

    # 4. Detections per frame and person.
    rows = _Rows()
    keypoint_sigma = noise.keypoint_px * W / 640.0
    hmr = [hmr_predictions(m, pelvis, camera, noise, config.jitter, rng) for m, _, _, pelvis in people]
    for t in range(T):
        for p, (motion, joints, rotations, _) in enumerate(people):
            cam_joints = camera.to_camera(joints[t])
            cam_rot = R_wc @ rotations[t]
            points = coco17_points(cam_joints, cam_rot)
            inside = camera.in_image(points)
            if inside.sum() < 4:
                continue
            a, b, radius = person_capsules(cam_joints, cam_rot)
            bbox = capsule_bbox(camera, a, b, radius)
            if bbox is None or bbox[2] - bbox[0] < 2 or bbox[3] - bbox[1] < 2:
                continue
            uv = camera.project(points) + keypoint_sigma * rng.standard_normal((17, 2))
            confidence = np.where(inside & ~_outliers((17,), noise.keypoint_drop, rng), 1.0, 0.0)
            if noise.keypoint_px > 0:
                confidence *= rng.uniform(0.5, 1.0, 17)
            keypoints = np.concatenate([np.where(confidence[:, None] > 0, uv, 0.0), confidence[:, None]], axis=1)
            rows.add(
                frame=t, person=p, track_id=int(tracks[p]), class_id=CLASS_NAMES.index(motion.role),
                bbox=bbox, keypoints=keypoints, action_id=int(motion.labels[t]), depth=float(cam_joints[0, 2]),
                duplicate=False, **{key: value[t] for key, value in hmr[p].items()},
            )

    # 5. Annotation and prediction slips ("noisy"): the thesis' occlusion duplicates first.
    frame = rows.array("frame", np.int64, ())
    for t in np.unique(frame):
        here = np.flatnonzero(frame == t)
        for i in here:
            for j in here:
                box_i, box_j = rows.values["bbox"][i], rows.values["bbox"][j]
                area = max((box_i[2] - box_i[0]) * (box_i[3] - box_i[1]), 1e-9)
                occluded = rows.values["depth"][j] < rows.values["depth"][i] and _intersection(box_i, box_j) > 0.3 * area
                if i != j and occluded and not rows.values["duplicate"][i] and rng.random() < noise.duplicate:
                    for key in ("global_orient", "body_pose", "cam_t", "betas"):
                        rows.values[key][i] = rows.values[key][j]
                    rows.values["duplicate"][i] = True
    n = len(frame)
    keep = ~_outliers((n,), noise.missed_detection, rng)
    class_id = rows.array("class_id", np.int32, ())
    wrong = _outliers((n,), noise.wrong_class, rng)
    class_id[wrong] = (class_id[wrong] + rng.integers(1, len(CLASS_NAMES), int(wrong.sum()))) % len(CLASS_NAMES)
    track_id = rows.array("track_id", np.int32, ())
    track_id[_outliers((n,), noise.unknown_track, rng)] = -1
    action_id = rows.array("action_id", np.int32, ())
    action_id[_outliers((n,), noise.unknown_action, rng)] = -1

    detections = Detections(
        frame=frame.astype(np.int32), track_id=track_id, class_id=class_id,
        bbox=rows.array("bbox", np.float32, (4,)), keypoints=rows.array("keypoints", np.float32, (17, 3)),
        action_id=action_id, global_orient=rows.array("global_orient", np.float32, (3,)),
        body_pose=rows.array("body_pose", np.float32, (23, 3)), betas=rows.array("betas", np.float32, (10,)),
        cam_t=rows.array("cam_t", np.float32, (3,)),
    ).select(keep)

    # 6. Metadata and ground truth.
    K = camera.K
    meta = SequenceMeta(
        format=FORMAT, version=VERSION, fps=float(config.fps), num_frames=T, image_size=(W, H),
        intrinsics=Intrinsics(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])) if config.intrinsics_known else None,
        key_frames=key_frames, class_names=CLASS_NAMES, mask_labels=MASK_LABELS, action_names=ACTION_NAMES,
    )
    furniture = [b for b in boxes if b.label in ("bed", "chair", "table")]
    ground_truth = {
        "camera_to_world": camera.camera_to_world,
        "K": K,
        "disparity_scale": np.float64(scale),
        "disparity_offset": np.float64(offset),
        "floor_normal_camera": R_wc @ np.array([0.0, 0.0, 1.0]),
        "camera_height": np.float64(camera.camera_to_world[2, 3]),
        "person_track": tracks,
        "person_role": np.array([m.role for m, _, _, _ in people], dtype=str),
        "person_betas": np.stack([m.betas for m, _, _, _ in people]),
        "person_global_orient": np.stack([m.global_orient for m, _, _, _ in people]),
        "person_body_pose": np.stack([m.body_pose for m, _, _, _ in people]),
        "person_transl": np.stack([m.transl for m, _, _, _ in people]),
        "person_visible": np.ones((num_people, T), dtype=bool),
        "detection_person": rows.array("person", np.int32, ())[keep],
        "detection_duplicate": rows.array("duplicate", bool, ())[keep],
        "furniture_labels": np.array([b.label for b in furniture], dtype=str),
        "furniture_center": np.stack([b.center for b in furniture]),
        "furniture_size": np.stack([b.size for b in furniture]),
        "furniture_yaw_deg": np.array([b.yaw_deg for b in furniture]),
        "true_depth": np.stack(true_depth),
    }
    return SyntheticSequence(meta, detections, depth, masks, ground_truth)


def write_synthetic_sequence(
    folder: str | Path, config: SyntheticConfig = SyntheticConfig(), seed: int = 0,
    body: PoseableBody | None = None, *, overwrite: bool = False,
) -> Path:
    """Generate a sequence from ``numpy.random.default_rng(seed)`` and write it (with ground_truth.npz)."""
    generated = generate_sequence(config, np.random.default_rng(seed), body)
    return write_sequence(folder, generated.meta, generated.detections, generated.depth, generated.masks,
                          generated.ground_truth, overwrite=overwrite)
