"""Reconstruction end to end on synthetic sequences with ground truth (issue 4's acceptance numbers)."""

import shutil

import numpy as np
import pytest

from addon.core.body.model import BodyModel
from addon.core.recon.evaluate import evaluate_reconstruction
from addon.core.recon.pipeline import ReconstructionConfig, ReconstructionError, ReconstructionReport, reconstruct
from addon.core.recon.sequence import read_sequence
from addon.core.recon.synthetic import SyntheticConfig, write_synthetic_sequence
from helpers.tiny_smpl import tiny_smpl_arrays


@pytest.fixture(scope="module")
def body():
    return BodyModel(tiny_smpl_arrays(pose_correctives=False), kind="smpl")


def small(noise: str) -> SyntheticConfig:
    return SyntheticConfig(image_size=(320, 240), num_frames=60, key_frame_every=10, num_people=(2, 2), noise=noise)


@pytest.fixture(scope="module")
def clean_run(body, tmp_path_factory):
    folder = write_synthetic_sequence(tmp_path_factory.mktemp("clean") / "seq", small("clean"), seed=3, body=body)
    sequence = read_sequence(folder)
    details = ReconstructionReport()
    bundle = reconstruct(sequence, body, ReconstructionConfig(point_budget=50_000), details=details)
    return sequence, bundle, details


def test_clean_sequence_meets_the_geometry_targets(clean_run, body):
    sequence, bundle, details = clean_run
    scores = evaluate_reconstruction(sequence, bundle, details, body)
    assert scores["floor_normal_error_deg"] < 1.0
    assert scores["camera_height_error_m"] < 0.03
    assert scores["depth_scale_error"] < 0.02
    assert scores["id_switches"] == 0
    assert len(bundle.points) <= 50_000 and {"bed", "chair"} <= set(bundle.furniture_labels)
    floor = bundle.points[bundle.point_labels == bundle.mask_labels.index("floor")]
    assert np.abs(np.median(floor[:, 2])) < 0.01, "the floor is the plane z = 0"


def test_people_are_tracked_with_roles_and_smoothing_helps(clean_run, body):
    sequence, bundle, details = clean_run
    scores = evaluate_reconstruction(sequence, bundle, details, body)
    assert sorted(bundle.person_roles) == ["patient", "staff"]
    for person in scores["people"]:
        assert person["role"] == person["true_role"]
        assert person["jitter_after"] <= 0.5 * person["jitter_before"]
        assert person["error_after_m"] <= person["error_before_m"]


def test_noisy_sequence_keeps_identities(body, tmp_path):
    folder = write_synthetic_sequence(tmp_path / "seq", small("noisy"), seed=5, body=body)
    sequence = read_sequence(folder)
    details = ReconstructionReport()
    bundle = reconstruct(sequence, body, ReconstructionConfig(point_budget=30_000), details=details)
    scores = evaluate_reconstruction(sequence, bundle, details, body)
    assert scores["id_switches_per_100_frames"] < 1.0
    assert scores["floor_normal_error_deg"] < 2.0


def test_no_floor_in_the_masks_is_a_clear_error(clean_run, body, tmp_path):
    sequence, _, _ = clean_run
    copy = tmp_path / "no_floor"
    shutil.copytree(sequence.folder, copy)
    floor = sequence.meta.mask_labels.index("floor")
    for k in sequence.meta.key_frames:
        mask = np.load(copy / "masks" / f"{k}.npy")
        mask[mask == floor] = 0
        np.save(copy / "masks" / f"{k}.npy", mask)
    with pytest.raises(ReconstructionError, match="no floor points"):
        reconstruct(read_sequence(copy), body)
