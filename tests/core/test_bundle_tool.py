"""tools/bundle_checkpoint.py: what ships, and refreshing only its evaluation summary."""

import json

import numpy as np

import bundle_checkpoint as tool
from addon.core.diffusion.checkpoint import load_checkpoint_files
from helpers.tiny_checkpoint import write_tiny_checkpoint


def report(path, passed: int):
    path.write_text(json.dumps({"checks": [{"check": "c", "measured": "m", "passed": True}] * passed,
                                "summary": {"checks_passed": passed}}))
    return path


def test_bundle_ships_one_set_of_weights_and_refresh_changes_only_the_summary(tmp_path):
    source = write_tiny_checkpoint(tmp_path / "run", anchors=[("a nurse kneels down", ("staff",)),
                                                             ("an old man falls forwards", ("patient",))])
    target = tmp_path / "bundled" / "default.safetensors"
    tool.bundle(source, target, report=report(tmp_path / "first.json", 1))
    meta, arrays = load_checkpoint_files(target)
    assert arrays.ema is None and meta.training["weights"] == "EMA"
    assert meta.evaluation["summary"] == {"checks_passed": 1} and meta.evaluation["default_sampler"]["steps"] == 25
    assert meta.anchor_texts == ("a nurse kneels down", "an old man falls forwards")  # the source's own anchors
    weights = target.read_bytes()

    tool.refresh_evaluation(target, report(tmp_path / "second.json", 2))
    after, after_arrays = load_checkpoint_files(target)
    assert after.evaluation["summary"] == {"checks_passed": 2} and len(after.evaluation["checks"]) == 2
    assert after.evaluation["default_sampler"] == meta.evaluation["default_sampler"]
    assert after.training == meta.training and after.anchor_texts == meta.anchor_texts
    assert target.read_bytes() == weights
    np.testing.assert_array_equal(after_arrays.anchor_embeddings, arrays.anchor_embeddings)
