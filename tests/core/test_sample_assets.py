"""The shipped sample sequence reads cleanly and its bundle is what the pipeline makes of it."""

from pathlib import Path

import numpy as np

from addon.core.body.model import load_body_model
from addon.core.recon.bundle import read_bundle
from addon.core.recon.pipeline import ReconstructionConfig, reconstruct
from addon.core.recon.sequence import read_sequence

ASSETS = Path(__file__).resolve().parents[2] / "addon" / "assets"


def test_sample_bundle_is_the_reconstruction_of_the_sample_sequence():
    sequence = read_sequence(ASSETS / "sample_sequence")
    shipped = read_bundle(ASSETS / "sample_reconstruction.npz")
    fresh = reconstruct(sequence, load_body_model(None), ReconstructionConfig(point_budget=60_000))
    assert shipped.person_roles == fresh.person_roles and len(shipped.person_roles) == 2
    np.testing.assert_allclose(shipped.camera_to_world, fresh.camera_to_world, atol=1e-9)
    np.testing.assert_allclose(shipped.person_transl, fresh.person_transl, atol=1e-9)
    assert len(shipped.points) == len(fresh.points) and {"bed", "chair"} <= set(shipped.furniture_labels)
    assert sequence.ground_truth() is not None
