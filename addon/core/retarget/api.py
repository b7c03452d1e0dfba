"""The retarget entry point the operator (and headless scripts) call.

``retarget_people`` computes everything for all pairs before anything is written, so a bad
mapping or rig fails with the scene unchanged; the bridge then writes the results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .autodetect import describe_missing, detect_mapping, preset_for_rig
from .calibration import CALIBRATIONS, Calibration
from .channels import rotation_channels
from .mapping import BoneMapping, MappingError, check_against_rig, complete_by_mirror
from .mapping_file import load_mapping
from .plan import RetargetPlan, build_plan
from .presets import PRESETS
from .quality import RetargetScore, add_penetration, score, target_joints
from .rig import SourceMotion, TargetRig, WorldRest, world_rest
from .smpl_world import SmplWorld, smpl_world
from .solve import RootMotion, Solution, SolveOptions, solve

MAPPING_CHOICES: tuple[str, ...] = ("AUTO", *PRESETS, "FILE")


@dataclass(frozen=True)
class RetargetConfig:
    """How to retarget (one converter from the operator's properties builds it).

    mapping: "AUTO" (presets, then synonyms), a preset key of :data:`.presets.PRESETS`, or
        "FILE" (``mapping_file``, JSON of :mod:`.mapping_file`).
    mirror_fill: complete joints missing on one side from the other side's bone names.
    calibration, match_frame, root_motion, scale_root, foot_cleanup: see :class:`.solve.SolveOptions`.
    """

    mapping: str = "AUTO"
    mapping_file: str = ""
    mirror_fill: bool = True
    calibration: Calibration = "DIRECTIONS"
    match_frame: int | None = None
    root_motion: RootMotion = "FULL"
    scale_root: bool = True
    foot_cleanup: bool = True

    def __post_init__(self) -> None:
        if self.mapping not in MAPPING_CHOICES:
            raise ValueError(f"mapping: expected one of {MAPPING_CHOICES}, got {self.mapping!r}")
        if self.mapping == "FILE" and not self.mapping_file:
            raise ValueError("mapping FILE: no mapping file given")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration: expected one of {CALIBRATIONS}, got {self.calibration!r}")

    def options(self) -> SolveOptions:
        return SolveOptions(self.calibration, self.match_frame, self.root_motion, self.scale_root, self.foot_cleanup)


@dataclass(frozen=True)
class ChannelValues:
    """One pose channel to key: ``pose.bones[bone].<prop>[index]`` = values (T,)."""

    bone: str
    prop: str
    index: int
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class RetargetResult:
    """One source retargeted onto one target: what to key and how good it is.

    channels: every F-curve of the new action; frame_start / fps: where and how fast it plays;
    mapping: the mapping used; score: the quality score; solution / plan: the arrays behind it.
    """

    source: str
    target: str
    channels: tuple[ChannelValues, ...]
    frame_start: float
    fps: float
    mapping: BoneMapping
    score: RetargetScore
    solution: Solution
    plan: RetargetPlan
    smpl: SmplWorld
    rest: WorldRest

    @property
    def action_name(self) -> str:
        return f"{self.source} -> {self.target}"


def resolve_mapping(rig: TargetRig, config: RetargetConfig) -> BoneMapping:
    """The mapping for ``rig`` per ``config`` (MappingError naming the rig, preset or file)."""
    if config.mapping == "AUTO":
        mapping = detect_mapping(rig.bone_names, rig.parents, rig.name)
    elif config.mapping == "FILE":
        mapping = load_mapping(config.mapping_file)
    else:
        mapping = preset_for_rig(config.mapping, rig.bone_names, rig.name)
    check_against_rig(mapping, rig.bone_names, rig.name)
    if config.mirror_fill:
        mapping = complete_by_mirror(mapping, rig.bone_names)
    return mapping


def retarget_one(source: SourceMotion, rig: TargetRig, config: RetargetConfig) -> RetargetResult:
    """Retarget one SMPL motion onto one armature (no penetration score: see retarget_people)."""
    mapping = resolve_mapping(rig, config)
    smpl = smpl_world(source)
    rest = world_rest(rig)
    plan = build_plan(rig, rest, mapping, smpl.rest_joints)
    solution = solve(plan, rig, rest, smpl, config.options())
    channels = []
    for k, bone in enumerate(solution.keyed):
        prop, values = rotation_channels(solution.quaternions[:, k], rig.rotation_modes[bone])
        channels += [ChannelValues(rig.bone_names[bone], prop, i, values[:, i]) for i in range(values.shape[1])]
    channels += [ChannelValues(rig.bone_names[plan.root], "location", i, solution.root_location[:, i]) for i in range(3)]
    return RetargetResult(
        source=source.name,
        target=rig.name,
        channels=tuple(channels),
        frame_start=source.frame_start,
        fps=source.fps,
        mapping=mapping,
        score=score(plan, rest, smpl, solution, describe_missing(mapping)),
        solution=solution,
        plan=plan,
        smpl=smpl,
        rest=rest,
    )


def retarget_people(pairs: Sequence[tuple[SourceMotion, TargetRig]], config: RetargetConfig) -> list[RetargetResult]:
    """Retarget every (source, target) pair; with two or more, score their penetration too.

    ValueError (MappingError included) naming the object when a target appears twice or a
    pair cannot be retargeted; nothing is returned partially.
    """
    if not pairs:
        raise ValueError("retarget: no (source, target) pairs")
    seen: dict[str, str] = {}
    for source, rig in pairs:
        if rig.name in seen:
            raise ValueError(
                f"avatar {rig.name!r} is the target of both {seen[rig.name]!r} and {source.name!r}; "
                "give every person its own avatar"
            )
        seen[rig.name] = source.name
    results = [retarget_one(source, rig, config) for source, rig in pairs]
    targets = [target_joints(r.plan, r.smpl, r.solution) for r in results]
    sources = [r.smpl.joints[:, :22] for r in results]
    offsets = [int(round(r.frame_start)) for r in results]
    scores = add_penetration([r.score for r in results], targets, sources, offsets)
    return [replace(result, score=new) for result, new in zip(results, scores)]


__all__ = ["RetargetConfig", "RetargetResult", "ChannelValues", "resolve_mapping", "retarget_one",
           "retarget_people", "MappingError", "MAPPING_CHOICES"]
