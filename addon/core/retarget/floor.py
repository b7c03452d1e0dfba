"""Where the target stands at rest: the height of its floor in world space.

The root height and the foot clearances are measured from the avatar's floor
(:attr:`.rig.WorldRest.floor_z`): the armature's origin, which is where modelled characters
stand. A BVH import puts the origin where the file's root offset is, and motion-capture files
(CMU's among them) give the root a zero offset, their height living in the root's position
channels: the rest skeleton hangs from the origin, its feet about 0.9 m below it. Taken as the
floor, that origin sank the avatar by its hip height (all of it with Plant Feet off; with it on,
only the contact frames were lifted back, toes on the floor).

So when a mapped foot joint's rest head lies clearly below the origin, the floor is put where a
copy of SMPL scaled by the leg-length ratio s would stand: under the toe joints (else the ankles)
by s times their height when SMPL stands on flat feet (:func:`.smpl_world.standing_heights`;
3 cm for the toes). A rig standing on its origin is left as it is.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .plan import RetargetPlan
from .rig import WorldRest
from .smpl_world import FEET, SmplWorld, standing_heights
from .solve import leg_scale

BELOW_ORIGIN_M = 0.01  # a foot joint this far below the origin (world metres): the origin is no floor


def standing_floor(plan: RetargetPlan, rest: WorldRest, smpl: SmplWorld) -> WorldRest:
    """``rest`` with ``floor_z`` (world metres) moved under the rest feet when they hang below
    the armature's origin (module docstring); unchanged otherwise or without mapped feet."""
    toes = [side[3] for side in FEET.values() if plan.bone_of_joint[side[3]] >= 0]
    ankles = [side[2] for side in FEET.values() if plan.bone_of_joint[side[2]] >= 0]
    joints = toes or ankles
    if not joints:
        return rest
    heights = rest.heads[plan.bone_of_joint[joints], 2]
    if heights.min() >= rest.floor_z - BELOW_ORIGIN_M:
        return rest
    standing = standing_heights(smpl.rest_joints)[joints]
    floor = float(np.min(heights - leg_scale(plan, rest, smpl) * standing))
    return replace(rest, floor_z=floor)
