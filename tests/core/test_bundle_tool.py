"""tools/bundle_checkpoint.py: what ships, and refreshing only its evaluation summary."""

import json

import numpy as np
import pytest

import bundle_checkpoint as tool
from addon.core.diffusion.checkpoint import CheckpointError, load_checkpoint_files
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


def test_grouped_anchors_without_a_token_bank_get_one_and_an_oversized_bundle_leaves_the_old_one(tmp_path, monkeypatch):
    grouped = [("a nurse kneels down", ("staff",), "kneel"), ("an old man falls forwards", ("patient",), "fall")]
    source = write_tiny_checkpoint(tmp_path / "run", anchors=grouped)
    assert load_checkpoint_files(source)[1].anchor_tokens is None
    target = tmp_path / "bundled" / "default.safetensors"
    tool.bundle(source, target, report=report(tmp_path / "r.json", 1))
    meta, arrays = load_checkpoint_files(target)
    assert arrays.anchor_tokens is not None and arrays.anchor_tokens.count == 2
    assert meta.anchor_groups == ("kneel", "fall")
    before = target.read_bytes(), target.with_suffix(".json").read_bytes()

    monkeypatch.setattr(tool, "LIMIT_BYTES", 1000)
    with pytest.raises(CheckpointError, match="MB, over the 0.000953674 MB"):
        tool.bundle(target, target, report=report(tmp_path / "r.json", 2))  # re-bundling the bundle in place
    assert (target.read_bytes(), target.with_suffix(".json").read_bytes()) == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["default.json", "default.safetensors"]
    monkeypatch.undo()

    ungrouped = write_tiny_checkpoint(tmp_path / "plain", anchors=[(t, r) for t, r, _ in grouped])
    tool.bundle(ungrouped, tmp_path / "plain_bundle" / "default.safetensors", report=report(tmp_path / "r.json", 1))
    assert load_checkpoint_files(tmp_path / "plain_bundle" / "default.safetensors")[1].anchor_tokens is None


def with_training_data(weights, data_version):
    """Rewrite a checkpoint's JSON as if its run had trained on procedural clips of ``data_version``."""
    path = weights.with_suffix(".json")
    document = json.loads(path.read_text())
    document["training"] = {"data": [{"kind": "procedural", "weight": 1.0, "count": 8, "split": "train",
                                      "data_seed": 0, "data_version": data_version}], "steps": 1}
    path.write_text(json.dumps(document))
    return weights


def test_the_bundle_records_the_data_version_its_run_trained_on_and_refuses_another(tmp_path):
    from addon.core.data.procedural.dataset import DATA_VERSION

    target = tmp_path / "bundled" / "default.safetensors"
    current = with_training_data(write_tiny_checkpoint(tmp_path / "now"), DATA_VERSION)
    tool.bundle(current, target, report=report(tmp_path / "r.json", 1))
    assert load_checkpoint_files(target)[0].training["procedural_data_version"] == f"data{DATA_VERSION}"
    before = target.read_bytes()

    stale = with_training_data(write_tiny_checkpoint(tmp_path / "old"), DATA_VERSION - 1)
    with pytest.raises(CheckpointError, match=f"trained on procedural data data{DATA_VERSION - 1}, but the "
                                              f"generator now makes data{DATA_VERSION}"):
        tool.bundle(stale, target, report=report(tmp_path / "r.json", 1))
    assert target.read_bytes() == before
