"""The room frame the model was trained in, and the way back to the Blender scene's floor frame.

Procedural training rooms are axis-aligned with one corner at the origin: x in [0, W],
y in [0, D], floor z = 0 (``core/data/procedural/rooms.py``). A scene in Blender (a
reconstruction, the demo room, the user's own) has its floor at z = 0 too (DESIGN.md) but
any position and heading in the floor plane. :func:`canonical_frame` finds the rigid motion
of the floor plane that puts the scene's points the way training rooms lie:

1. yaw: the heading that minimises the area of the points' axis-aligned footprint
   (rooms are rectangles; their walls then run along x and y), searched on a 0.5° grid;
2. offset: the footprint's lower corner moves to the origin.

Generation sees the points in that frame; its motions come back through
:meth:`SceneFrame.motion_to_world`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .motion.motion import Motion
from .smpl_transform import transform_smpl

YAW_STEP_DEG = 0.5


@dataclass(frozen=True)
class SceneFrame:
    """world -> room:  p_room = Rz(-yaw) @ p_world - offset (floor plane only; z unchanged).

    yaw: radians about +z; offset: (3,) metres (z is always 0).
    """

    yaw: float = 0.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def rotation_to_room(self) -> np.ndarray:
        """(3, 3) Rz(-yaw)."""
        return _rz(-self.yaw)

    def to_room(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world metres -> (N, 3) room metres."""
        return np.asarray(points, dtype=np.float64) @ self.rotation_to_room.T - np.asarray(self.offset)

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) room metres -> world metres (the inverse of :meth:`to_room`)."""
        return (np.asarray(points, dtype=np.float64) + np.asarray(self.offset)) @ _rz(self.yaw).T

    def motion_to_world(self, motion: Motion, rest_pelvis: np.ndarray) -> Motion:
        """A Motion generated in the room frame, moved into the world.

        rest_pelvis: (3,) J_0 of the rig's body (template frame, metres), the point SMPL
        rotates about (``smpl_transform``).
        """
        rotation = _rz(self.yaw)
        orient, transl = transform_smpl(motion.global_orient, motion.transl, rest_pelvis, rotation,
                                        rotation @ np.asarray(self.offset))
        return _with_root(motion, orient, transl)


def canonical_frame(points: np.ndarray) -> SceneFrame:
    """The SceneFrame that lays ``points`` (N, 3) world metres out like a training room."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    if len(xy) == 0:
        return SceneFrame()
    centred = xy - xy.mean(axis=0)
    angles = np.deg2rad(np.arange(0.0, 90.0, YAW_STEP_DEG))
    c, s = np.cos(angles), np.sin(angles)
    # 1. Rotate by -yaw for every candidate at once: (A, N) coordinates.
    u = centred[:, 0][None] * c[:, None] + centred[:, 1][None] * s[:, None]
    v = -centred[:, 0][None] * s[:, None] + centred[:, 1][None] * c[:, None]
    area = (u.max(1) - u.min(1)) * (v.max(1) - v.min(1))
    # Prefer no turn at all when it is as good (axis-aligned scenes stay as they are).
    best = int(np.argmin(area - 1e-9 * (angles == 0)))
    yaw = float(angles[best])
    # 2. The lower corner of the footprint to the origin.
    rotated = xy @ _rz(-yaw)[:2, :2].T
    low = rotated.min(axis=0)
    return SceneFrame(yaw=yaw, offset=(float(low[0]), float(low[1]), 0.0))


def translate_motion(motion: Motion, shift: np.ndarray) -> Motion:
    """``motion`` moved by ``shift`` (3,) metres (translation only)."""
    return _with_root(motion, motion.global_orient, motion.transl + np.asarray(shift, dtype=np.float64))


def _with_root(motion: Motion, orient: np.ndarray, transl: np.ndarray) -> Motion:
    return Motion(global_orient=orient, body_pose=motion.body_pose, transl=transl, betas=motion.betas,
                  fps=motion.fps, role=motion.role, gender=motion.gender, hand_pose=motion.hand_pose,
                  labels=motion.labels, name=motion.name)


def _rz(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
