"""Reconstruction against ground truth (synthetic sequences): the numbers issue 4 accepts on."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..rotations import axis_angle_to_matrix
from ..skeleton import forward_kinematics
from .bundle import Bundle
from .pipeline import ReconstructionReport
from .sequence import Sequence
from .smoothing import joint_jitter
from .tracking import identity_switches


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _joints(orient, body_pose, transl, rest) -> np.ndarray:
    pose = np.concatenate([orient[:, None], body_pose], axis=1)
    return forward_kinematics(axis_angle_to_matrix(pose), rest, transl)[1]


def evaluate_reconstruction(sequence: Sequence, bundle: Bundle, details: ReconstructionReport, body) -> dict:
    """Errors of one reconstruction; the sequence must carry ground_truth.npz.

    Returns floor_normal_error_deg, camera_height_error_m, depth_scale_error (|median
    restored/true - 1|), depth_median_relative_error, id_switches, id_switches_per_100_frames,
    and per person: jitter (m/s^2) and mean joint error (m) before and after smoothing.
    """
    gt = sequence.ground_truth()
    if gt is None:
        raise ValueError(f"{sequence.folder}: no ground_truth.npz to evaluate against")
    meta, det = sequence.meta, sequence.detections
    result: dict = {}
    result["floor_normal_error_deg"] = _angle_deg(details.floor_normal_camera, gt["floor_normal_camera"])
    result["camera_height_error_m"] = abs(float(bundle.camera_to_world[2, 3]) - float(gt["camera_height"]))
    ratios = []
    for restored, true in zip(details.restored_depth, gt["true_depth"]):
        ok = np.isfinite(restored) & np.isfinite(true) & (true > 0)
        ratios.append(restored[ok] / true[ok])
    ratios = np.concatenate(ratios)
    result["depth_scale_error"] = abs(float(np.median(ratios)) - 1.0)
    result["depth_median_relative_error"] = float(np.median(np.abs(ratios - 1.0)))
    true_ids = np.where(gt["detection_duplicate"], -1, gt["detection_person"])
    switches = identity_switches(details.detection_tracks, true_ids, det.frame)
    result["id_switches"] = int(switches)
    result["id_switches_per_100_frames"] = 100.0 * switches / meta.num_frames
    # Our world shares gt's floor but not its yaw or origin: map gt through the camera.
    ours_from_gt = bundle.camera_to_world @ np.linalg.inv(gt["camera_to_world"])
    people = []
    for p, raw in enumerate(details.raw_people):
        truth = Counter(int(g) for g in true_ids[raw["rows"]] if g >= 0).most_common(1)
        if not truth:
            continue
        g = truth[0][0]
        frames = raw["valid"] & gt["person_visible"][g]
        gt_joints = _joints(gt["person_global_orient"][g], gt["person_body_pose"][g], gt["person_transl"][g],
                            body.rest_joints(gt["person_betas"][g]))
        gt_joints = gt_joints @ ours_from_gt[:3, :3].T + ours_from_gt[:3, 3]
        rest = body.rest_joints(raw["betas"])
        before = _joints(raw["global_orient"], raw["body_pose"], raw["transl"], rest)
        after = _joints(bundle.person_global_orient[p], bundle.person_body_pose[p], bundle.person_transl[p], rest)
        people.append(
            {
                "person": g,
                "role": bundle.person_roles[p],
                "true_role": str(gt["person_role"][g]),
                "frames": int(frames.sum()),
                "jitter_before": joint_jitter(before, meta.fps, frames),
                "jitter_after": joint_jitter(after, meta.fps, frames),
                "jitter_truth": joint_jitter(gt_joints, meta.fps, frames),
                "error_before_m": float(np.linalg.norm(before - gt_joints, axis=-1)[frames].mean()),
                "error_after_m": float(np.linalg.norm(after - gt_joints, axis=-1)[frames].mean()),
            }
        )
    result["people"] = people
    return result
