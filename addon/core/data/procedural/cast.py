"""What every script gets: the room, a seeded generator, bodies of varied shape, and room geometry helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...body.model import BodyModel
from . import poses
from .kinematics import Body
from .rooms import CareRoom, Seat, heading, yaw_towards
from .track import Track


@dataclass(frozen=True)
class Outcome:
    """A script's result: its tracks (finalised by the clip builder), the script name and the
    facts its caption may use (e.g. {"fall": "forwards"}); anchor: keep the "start" or the
    "end" of a script longer than the clip limit."""

    script: str
    tracks: list[Track]
    facts: dict = field(default_factory=dict)
    anchor: str = "end"


class Cast:
    """Scene context for scripts: room, rng, fps, and the body model for rest skeletons."""

    def __init__(self, room: CareRoom, rng: np.random.Generator, fps: float, model: BodyModel) -> None:
        self.room, self.rng, self.fps, self.model = room, rng, fps, model

    def body(self, role: str) -> Body:
        """A body of random shape (betas ~ N(0, 0.7), clipped to +-2; patients a little shorter
        on average and heavier-set)."""
        betas = np.clip(self.rng.normal(0.0, 0.7, 10), -2.0, 2.0)
        if role == "patient":
            betas[0] -= 0.3
            betas[1] += 0.3
        return Body(np.asarray(self.model.rest_joints(betas), dtype=np.float64), betas)

    def track(self, role: str, xy, yaw: float, pose: poses.Pose | None = None, name: str = "") -> Track:
        return Track(self.body(role), self.fps, role, xy, yaw, pose or poses.stand(self.rng), self.rng, name)

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    # -- geometry -----------------------------------------------------------------------------
    def door_inside(self) -> np.ndarray:
        """A floor point 0.5 m inside the door."""
        room = self.room
        door = np.array(room.door)
        gaps = [door[0], room.width - door[0], door[1], room.depth - door[1]]
        inward = [np.array([1.0, 0]), np.array([-1.0, 0]), np.array([0, 1.0]), np.array([0, -1.0])]
        return door + 0.5 * inward[int(np.argmin(gaps))]

    def free_point(self, margin: float = 0.5, near: np.ndarray | None = None, within: float = 9.0) -> np.ndarray:
        for _ in range(300):
            p = self.room.random_free_point(self.rng, margin)
            if near is None or np.linalg.norm(p - near) <= within:
                return p
        raise RuntimeError("no free floor point near the requested place")

    def path(self, start, goal, margin: float = 0.35) -> np.ndarray:
        return self.room.plan_path(np.asarray(start, float), np.asarray(goal, float), margin)

    def chair(self) -> Seat:
        if not self.room.chairs:
            raise RuntimeError("the room has no chair")
        return self.choice(self.room.chairs)

    def bed_outward_yaw(self) -> float:
        """Yaw of someone sitting on the bed edge facing the room."""
        bed = self.room.bed
        outward = bed.world_xy(np.array([self.room.bed_side_sign, 0.0])) - (bed.cx, bed.cy)
        return yaw_towards(outward)

    def lying_in_bed_yaw(self) -> float:
        """Yaw of someone lying on the bed with the head at the head end (supine: the head
        lies towards -heading(yaw))."""
        return self.room.bed.yaw + math.pi

    def facing(self, source, target) -> float:
        return yaw_towards(np.asarray(target, float)[:2] - np.asarray(source, float)[:2])


def offset_point(xy, yaw: float, forward: float, left: float) -> np.ndarray:
    """A floor point ``forward`` m ahead of and ``left`` m to the left of a person at xy facing yaw."""
    h = heading(yaw)
    left_dir = np.array([-h[1], h[0]])  # heading turned +90 degrees about z
    return np.asarray(xy, float)[:2] + forward * h + left * left_dir
