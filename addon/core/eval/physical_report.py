"""The physical metrics of a whole test set: per-metric means with 95 % confidence bands over clips.

Each clip is a mapping or an object with

    joints       (P, T, 22, 3) metres, Z up (required)
    fps          frames per second (required)
    boxes        (K, 7) furniture rows, see :mod:`.geometry` (optional, default none)
    touch        bool, the caption implies that the persons touch (optional, default False)
    on_chair     bool, the script seats someone on a chair (optional, default False)
    on_bed_edge  bool, the script sits someone on a bed's edge (optional, default False)
    features     (P, T, 264) un-normalised features (optional: the self-consistency metrics)
    rest_joints  (24, 3) or (P, 24, 3) template-frame rest joints (optional: FK agreement)

A metric is averaged over the clips it applies to (:data:`METRICS` says which); the count is
reported with it. Depths are averaged over the clips that penetrate at all, so a model that
rarely penetrates is not rewarded twice (its fraction is already low).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from . import physical
from .confidence import mean_and_half_width

# name -> what it measures and which clips it is averaged over.
METRICS: dict[str, str] = {
    "foot_skating_ratio": "sliding planted foot-frames / foot-frames; all clips",
    "floor_penetration_m": "mean depth of the lowest joint below z = 0, m; all clips",
    "floor_float": "person-frames > 0.15 m above their support; all clips",
    "person_penetration_frames": "pair-frames whose capsules overlap > 2 cm; clips with P >= 2",
    "person_penetration_depth_m": "mean capsule overlap of penetrating pair-frames, m; clips that penetrate",
    "scene_penetration_frames": "person-frames with a bone point inside a box; clips with boxes",
    "scene_penetration_depth_m": "mean depth inside boxes of penetrating person-frames, m; clips that penetrate",
    "contact_rate": "frames with a hand within 0.15 m of another person; clips with P >= 2",
    "contact_recall": "clips with >= 3 consecutive contact frames; touch captions with P >= 2",
    "seated": "sitting person-frames with the pelvis on a chair's seat; sit-on-a-chair scripts with sitting frames",
    "seated_on_bed": "sitting person-frames with the pelvis on a bed; bed-edge scripts with sitting frames",
    "bone_length_std_m": "std over time of bone lengths, m; all clips",
    "fk_mpjpe_m": "stored positions vs FK of stored rotations, m; clips with features and rest joints",
    "velocity_error_m_s": "stored velocities vs differenced positions, m/s; clips with features",
}


@dataclass(frozen=True)
class PhysicalReport:
    """Per metric (keys of :data:`METRICS`): mean over the clips it applies to, the 95 % half-width
    1.96·σ/√n over those clips, and n. A metric no clip applies to has mean and half-width NaN, n 0.
    """

    means: dict[str, float]
    half_widths: dict[str, float]
    counts: dict[str, int]

    def to_json(self) -> dict[str, dict[str, float | int | None]]:
        """{metric: {"mean", "half_width", "n"}}, NaN as None (valid JSON)."""
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            name: {"mean": clean(self.means[name]), "half_width": clean(self.half_widths[name]), "n": self.counts[name]}
            for name in METRICS
        }


def physical_metrics(clips: Iterable[Any]) -> PhysicalReport:
    """Evaluate every clip (see the module docstring for the fields) and summarise."""
    values: dict[str, list[float]] = {name: [] for name in METRICS}
    for index, clip in enumerate(clips):
        try:
            for name, value in clip_metrics(clip).items():
                values[name].append(value)
        except ValueError as error:
            raise ValueError(f"clip {index}: {error}") from None
    means, half_widths, counts = {}, {}, {}
    for name, samples in values.items():
        counts[name] = len(samples)
        if samples:
            mean, half = mean_and_half_width(samples)
            means[name], half_widths[name] = float(mean), float(half)
        else:
            means[name] = half_widths[name] = math.nan
    return PhysicalReport(means=means, half_widths=half_widths, counts=counts)


def clip_metrics(clip: Any) -> dict[str, float]:
    """The metrics of :data:`METRICS` that apply to one clip, as {name: value}."""
    joints = np.asarray(_field(clip, "joints"), dtype=np.float64)
    fps = float(_field(clip, "fps"))
    boxes = _field(clip, "boxes", None)
    features = _field(clip, "features", None)
    rest_joints = _field(clip, "rest_joints", None)
    result = {
        "foot_skating_ratio": physical.foot_skating_ratio(joints, fps),
        "floor_penetration_m": physical.floor_penetration(joints),
        "floor_float": physical.floor_float(joints, boxes),
        "bone_length_std_m": physical.bone_length_std(joints),
    }
    if joints.shape[0] >= 2:
        persons = physical.person_penetration(joints)
        result["person_penetration_frames"] = persons["frames_fraction"]
        if persons["frames_fraction"] > 0:
            result["person_penetration_depth_m"] = persons["mean_depth_m"]
        result["contact_rate"] = physical.contact_rate(joints)
        if bool(_field(clip, "touch", False)):
            result["contact_recall"] = float(physical.has_contact(joints))
    if boxes is not None and np.size(boxes) > 0:
        scene = physical.scene_penetration(joints, boxes)
        result["scene_penetration_frames"] = scene["frames_fraction"]
        if scene["frames_fraction"] > 0:
            result["scene_penetration_depth_m"] = scene["mean_depth_m"]
    if bool(_field(clip, "on_chair", False)):
        seated = physical.seated_share(joints, boxes)
        if seated is not None:
            result["seated"] = seated
    if bool(_field(clip, "on_bed_edge", False)):
        seated = physical.seated_share(joints, boxes, on="bed")
        if seated is not None:
            result["seated_on_bed"] = seated
    if features is not None:
        result["velocity_error_m_s"] = physical.velocity_agreement(features, fps)
        if rest_joints is not None:
            result["fk_mpjpe_m"] = physical.fk_agreement(features, rest_joints)
    return result


_REQUIRED = object()


def _field(clip: Any, name: str, default: Any = _REQUIRED) -> Any:
    """clip[name] for mappings, clip.name otherwise; a missing required field raises ValueError naming it."""
    if isinstance(clip, Mapping):
        value = clip.get(name, default)
    else:
        value = getattr(clip, name, default)
    if value is _REQUIRED:
        raise ValueError(f"missing field '{name}'")
    return value
