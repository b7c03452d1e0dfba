"""The retarget entry point the operator (and headless scripts) call.

``retarget_people`` computes everything for all pairs before anything is written, so a bad
mapping or rig fails with the scene unchanged; the bridge then writes the results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .autodetect import describe_missing, detect_mapping, preset_for_rig, resolve_names
from .calibration import CALIBRATIONS, Calibration
from .channels import rest_channels, rotation_channels
from .floor import standing_floor
from .mapping import BoneMapping, MappingError, check_against_rig, complete_by_mirror, mirrored
from .mapping_file import load_mapping
from .plan import RetargetPlan, build_plan
from .presets import PRESETS
from .quality import RetargetScore, add_penetration, score, target_joints
from .rig import SourceMotion, TargetRig, WorldRest, world_rest
from .smpl_world import HIPS, SmplWorld, smpl_world
from .solve import RootMotion, Solution, SolveOptions, solve
from .subset import restrict
from .switches import FK_SWITCH_PROPERTY, FK_VALUE, switch_data_path

MAPPING_CHOICES: tuple[str, ...] = ("AUTO", *PRESETS, "FILE")


@dataclass(frozen=True)
class RetargetConfig:
    """How to retarget (one converter from the operator's properties builds it).

    mapping: "AUTO" (presets, then synonyms), a preset key of :data:`.presets.PRESETS`, or
        "FILE" (``mapping_file``, JSON of :mod:`.mapping_file`; its bone names are matched
        to the rig's ignoring namespaces and case when not found exactly).
    swap_sides: exchange left and right (a rig whose sides are named from the viewer's side).
    mirror_fill: complete joints missing on one side from the other side's bone names.
    calibration, match_frame, root_motion, scale_root, foot_cleanup: see :class:`.solve.SolveOptions`.
    scale_spacing: with two or more people (and ``scale_root``), scale their root paths about
        their common starting centre, so the space between them grows and shrinks with the
        avatars and hands that reached the other person still do; off: each about its own start.
    """

    mapping: str = "AUTO"
    mapping_file: str = ""
    swap_sides: bool = False
    mirror_fill: bool = True
    calibration: Calibration = "DIRECTIONS"
    match_frame: int | None = None
    root_motion: RootMotion = "FULL"
    scale_root: bool = True
    foot_cleanup: bool = True
    scale_spacing: bool = True

    def __post_init__(self) -> None:
        if self.mapping not in MAPPING_CHOICES:
            raise ValueError(f"mapping: expected one of {MAPPING_CHOICES}, got {self.mapping!r}")
        if self.mapping == "FILE" and not self.mapping_file:
            raise ValueError("mapping FILE: no mapping file given")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration: expected one of {CALIBRATIONS}, got {self.calibration!r}")

    def options(self, pivot: tuple[float, float] | None = None) -> SolveOptions:
        return SolveOptions(self.calibration, self.match_frame, self.root_motion, self.scale_root, self.foot_cleanup,
                            pivot)


@dataclass(frozen=True)
class ChannelValues:
    """One pose channel to key: ``pose.bones[bone].<prop>[index]`` = values (T,); a ``prop``
    in brackets (``["IK_FK"]``) is a custom property (``pose.bones[bone]["IK_FK"]``)."""

    bone: str
    prop: str
    index: int
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class RetargetResult:
    """One source retargeted onto one target: what to key and how good it is.

    channels: every F-curve of the new action; frame_start / fps: where and how fast it plays;
    mapping: the mapping used; score: the quality score; solution / plan: the arrays behind it;
    rig / rest: the solved bones only (:mod:`.subset`), whose indices the plan and solution use.
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
    rig: TargetRig

    @property
    def action_name(self) -> str:
        return f"{self.source} -> {self.target}"

    def bone(self, name: str) -> int:
        """The plan/solution index of the rig's bone ``name`` (ValueError if it was not solved)."""
        return self.rig.index(name)


def resolve_mapping(rig: TargetRig, config: RetargetConfig) -> BoneMapping:
    """The mapping for ``rig`` per ``config`` (MappingError naming the rig, preset or file)."""
    if config.mapping == "AUTO":
        mapping = detect_mapping(rig.bone_names, rig.parents, rig.name)
    elif config.mapping == "FILE":
        mapping = resolve_names(load_mapping(config.mapping_file), rig.bone_names)
    else:
        mapping = preset_for_rig(config.mapping, rig.bone_names, rig.name)
    if config.swap_sides:
        mapping = mirrored(mapping)
    check_against_rig(mapping, rig.bone_names, rig.name)
    if config.mirror_fill:
        mapping = complete_by_mirror(mapping, rig.bone_names)
    return mapping


def retarget_one(source: SourceMotion, rig: TargetRig, config: RetargetConfig,
                 pivot: tuple[float, float] | None = None) -> RetargetResult:
    """Retarget one SMPL motion onto one armature (no penetration score: see retarget_people);
    ``pivot``: the world (x, y) its root path is scaled about (None: its own start)."""
    mapping = resolve_mapping(rig, config)
    smpl = smpl_world(source)
    whole = world_rest(rig)
    plan, solved, rest = restrict(build_plan(rig, whole, mapping, smpl.rest_joints), rig, whole)
    rest = standing_floor(plan, rest, smpl)  # a BVH import's origin is at its hips, not its floor
    solution = solve(plan, solved, rest, smpl, config.options(pivot))
    return RetargetResult(
        source=source.name,
        target=rig.name,
        channels=action_channels(plan, solved, solution),
        frame_start=source.frame_start,
        fps=source.fps,
        mapping=mapping,
        score=score(plan, rest, smpl, solution, describe_missing(mapping)),
        solution=solution,
        plan=plan,
        smpl=smpl,
        rest=rest,
        rig=solved,
    )


def action_channels(plan: RetargetPlan, rig: TargetRig, solution: Solution) -> tuple[ChannelValues, ...]:
    """Every F-curve of the new action: the keyed bones' rotations, the root's location, rest
    values for the unmapped bones above them (the solve assumes them at rest, whatever pose
    they had) and the rig's IK/FK switches set to FK (:mod:`.switches`)."""
    T = solution.quaternions.shape[0]
    channels = []
    for k, bone in enumerate(solution.keyed):
        prop, values = rotation_channels(solution.quaternions[:, k], rig.rotation_modes[bone])
        channels += [ChannelValues(rig.bone_names[bone], prop, i, values[:, i]) for i in range(values.shape[1])]
    channels += [ChannelValues(rig.bone_names[plan.root], "location", i, solution.root_location[:, i]) for i in range(3)]
    for bone in plan.rest_keyed:
        channels += [ChannelValues(rig.bone_names[bone], prop, i, values)
                     for prop, i, values in rest_channels(rig.rotation_modes[bone], T)]
    channels += [ChannelValues(name, switch_data_path(FK_SWITCH_PROPERTY), 0, np.full(T, FK_VALUE))
                 for name in rig.fk_switches]
    return tuple(channels)


def retarget_people(pairs: Sequence[tuple[SourceMotion, TargetRig]], config: RetargetConfig,
                    pivot: tuple[float, float] | None = None) -> list[RetargetResult]:
    """Retarget every (source, target) pair; with two or more, score their penetration too and
    (``config.scale_spacing``) scale their root paths about their common centre,
    :func:`group_centre` of the sources, or ``pivot`` when given (a caller retargeting one group
    of people in several calls).

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
    if not config.scale_spacing:
        pivot = None
    elif pivot is None and len(pairs) > 1:
        pivot = group_centre([source for source, _ in pairs])
    results = [retarget_one(source, rig, config, pivot) for source, rig in pairs]
    targets = [target_joints(r.plan, r.smpl, r.solution) for r in results]
    sources = [r.smpl.joints[:, :22] for r in results]
    offsets = [int(round(r.frame_start)) for r in results]
    scores = add_penetration([r.score for r in results], targets, sources, offsets)
    return [replace(result, score=new) for result, new in zip(results, scores)]


def group_centre(sources: Sequence[SourceMotion]) -> tuple[float, float]:
    """The mean world (x, y) of the sources' hip midpoints on their first frames, metres."""
    starts = []
    for source in sources:
        first = replace(source, local_rotations=np.asarray(source.local_rotations)[:1],
                        transl=np.asarray(source.transl)[:1])
        starts.append(smpl_world(first).joints[0, list(HIPS), :2].mean(axis=0))
    centre = np.mean(starts, axis=0)
    return float(centre[0]), float(centre[1])


__all__ = ["RetargetConfig", "group_centre", "RetargetResult", "ChannelValues", "resolve_mapping", "retarget_one",
           "retarget_people", "action_channels", "MappingError", "MAPPING_CHOICES"]
