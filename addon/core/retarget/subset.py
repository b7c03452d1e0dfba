"""Solve only the bones the keys depend on: the plan, rig and rest cut down to them.

A generated Rigify rig has ~700 bones, a production avatar hundreds of face, finger and hair
bones; the action keys ~40 of them. Forward kinematics, the foot clean-up and the score
need the keyed bones and their ancestors (what places them), nothing below, so
:func:`restrict` re-indexes a plan built on the whole rig (:func:`.plan.build_plan`, which
needs every bone to find twist bones and a hand's fingers) onto those bones. Everything
downstream (:mod:`.solve`, :mod:`.feet`, :mod:`.quality`) works on the restricted plan as on
any other: its bone indices are positions in ``plan.bones``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .plan import Between, Leg, RetargetPlan
from .rig import TargetRig, WorldRest


def solved_bones(plan: RetargetPlan) -> np.ndarray:
    """(A,) the keyed bones and all their ancestors, parents first (the plan's own order)."""
    needed = np.zeros(len(plan.parents), dtype=bool)
    for b in plan.keyed:
        while b >= 0 and not needed[b]:
            needed[b] = True
            b = plan.parents[b]
    return plan.order[needed[plan.order]]


def restrict(plan: RetargetPlan, rig: TargetRig, rest: WorldRest) -> tuple[RetargetPlan, TargetRig, WorldRest]:
    """(plan, rig, rest) for :func:`solved_bones` only; ``plan.bones`` maps back to ``rig``.

    The bones are closed under "parent of" and kept parents first, so parents and the
    topological order carry over; a leg's bone chains keep only the solved bones.
    """
    bones = solved_bones(plan)
    slot = np.full(len(plan.parents) + 1, -1, dtype=np.int64)  # slot[-1] = -1 keeps "none"
    slot[bones] = np.arange(len(bones))

    def index(values) -> np.ndarray:
        return slot[np.asarray(values, dtype=np.int64)]

    def kept(values) -> np.ndarray:
        values = index(values)
        return values[values >= 0]

    def moved(item: Between) -> Between:
        return replace(item, bone=int(slot[item.bone]))

    def leg(item: Leg) -> Leg:
        return Leg(item.side, *(int(slot[b]) for b in (item.thigh, item.shin, item.foot, item.toe)),
                   kept(item.thigh_chain), kept(item.shin_chain))

    small = replace(
        plan,
        bone_of_joint=index(plan.bone_of_joint),
        order=np.arange(len(bones), dtype=np.int64),
        parents=index(plan.parents[bones]),
        between=tuple(moved(item) for item in plan.between),
        twists=tuple(moved(item) for item in plan.twists),
        rigid=kept(plan.rigid),
        keyed=np.sort(index(plan.keyed)),
        rest_keyed=index(plan.rest_keyed),
        root=int(slot[plan.root]),
        legs=tuple(leg(item) for item in plan.legs),
        leg_support=frozenset(int(slot[b]) for b in plan.leg_support),
        bones=plan.bones[bones],
    )
    return small, rig.subset(bones), rest.subset(bones)
