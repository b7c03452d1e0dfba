"""A rendered person for label tests: the waving demo motion on the stand-in body."""

from __future__ import annotations

import numpy as np

from addon.core.body.model import load_body_model
from addon.core.demo_motion import waving_motion
from addon.core.render.annotations import PersonTrack


def waving_track(position, yaw: float = 0.0, action: int = 3) -> PersonTrack:
    """A staff member waving at ``position`` (x, y) metres, facing ``yaw`` degrees, 0.4 s at 10 fps."""
    body = load_body_model(None)
    motion = waving_motion(position_xy=position, facing_yaw_deg=yaw, seconds=0.4, fps=10.0)
    motion.role = "staff"
    return PersonTrack(motion=motion, rest_joints_y=body.rest_joints(), body=body, betas=np.zeros(body.num_betas),
                       actions=np.full(motion.num_frames, action, dtype=np.int32))
