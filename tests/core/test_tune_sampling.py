"""`./run tune-sampling` (tools/tune_sampling.py) end to end on a tiny RANDOM-weight checkpoint and
a RANDOM-weight evaluator: every guidance scale and anchoring mode is scored, the best row is the
highest agreement, and both reports say so. The numbers mean nothing; the path is the shipped one
(DEV prompts, held-out test rooms, the default sampler, the evaluator's classifier)."""

from __future__ import annotations

import dataclasses
import json

import pytest

import eval as eval_tool
import tune_sampling
from addon.core.labels import ACTIONS, SCRIPTS
from addon.core.data.procedural.prompts import DEV
from addon.core.eval.evaluator import EvaluatorConfig, EvaluatorLabels, MotionTextEvaluator
from addon.core.eval.evaluator_file import save_evaluator
from addon.core.eval.run import REWORDED_FRAMES
from helpers.tiny_checkpoint import write_tiny_checkpoint

ANCHORS = [("a nurse helps the patient up from the floor", ("staff", "patient"), "help_up_from_floor"),
           ("a carer helps an old man get out of bed", ("staff", "patient"), "help_out_of_bed"),
           ("a patient walks into the room", ("patient",), "walk_in"),
           ("an elderly woman sits down on a chair", ("patient",), "sit_down_chair")]
TEST_ROOMS = 4


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The evaluation's folder as `./run eval --evaluator-only` leaves it, at toy sizes."""
    work = tmp_path_factory.mktemp("eval_work")
    config = EvaluatorConfig(d_model=32, layers=1, heads=2, ff=64, embed_dim=16, max_frames=REWORDED_FRAMES,
                             num_actions=len(ACTIONS), num_scripts=len(SCRIPTS), dropout=0.0)
    evaluator = MotionTextEvaluator(config, EvaluatorLabels(actions=ACTIONS, scripts=SCRIPTS)).eval()
    save_evaluator(work / eval_tool.data_version() / "evaluator.safetensors", evaluator)
    return work


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny"), fps=10.0, max_frames=REWORDED_FRAMES,
                                 anchors=ANCHORS, token_bank=True)


class _FewRooms(eval_tool.Sizes):
    def __init__(self):
        super().__init__(test=TEST_ROOMS)


@pytest.fixture
def few_rooms(monkeypatch):
    """Four held-out test rooms instead of the evaluation's 128 (a few seconds to make)."""
    monkeypatch.setattr(eval_tool, "Sizes", _FewRooms)


def test_every_scale_and_mode_is_scored_and_the_best_is_the_highest(work, checkpoint, few_rooms, tmp_path):
    code = tune_sampling.main(["--checkpoint", str(checkpoint), "--work", str(work), "--out", str(tmp_path),
                               "--guidance", "2", "5", "--seeds", "1", "--threads", "1"])
    assert code == 0
    result = json.loads((tmp_path / "tuning.json").read_text())
    assert result["prompts"] == len(DEV) and result["seeds"] == 1 and result["sampler"] == ["ddim", 25]
    assert result["data_version"] == eval_tool.data_version()
    rows = result["rows"]
    assert [(r["guidance"], r["anchors"]) for r in rows] == [
        (g, m) for g in (2.0, 5.0) for m in ("as written", "blended", "grouped")]
    clips = len(DEV)  # one seed: each agreement is a count of DEV prompts
    for row in rows:
        assert 0.0 <= row["agreement"] <= 1.0
        assert abs(row["agreement"] * clips - round(row["agreement"] * clips)) < 0.01
    assert result["best"]["agreement"] == max(r["agreement"] for r in rows)
    report = (tmp_path / "tuning.md").read_text()
    assert "| Guidance | Anchors: as written | Anchors: blended | Anchors: grouped |" in report
    assert f"Rooms and evaluator: procedural data `{eval_tool.data_version()}`." in report
    for row in rows:
        assert f"{row['agreement']:.3f}" in report
    best = result["best"]
    assert f"Best: guidance {best['guidance']:g}, anchors {best['anchors']} ({best['agreement']:.3f}" in report


def test_without_the_evaluator_it_says_what_to_run_first(tmp_path, checkpoint, capsys):
    code = tune_sampling.main(["--checkpoint", str(checkpoint), "--work", str(tmp_path / "empty"),
                               "--out", str(tmp_path / "reports")])
    assert code == 2
    assert "./run eval --evaluator-only" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_a_checkpoint_without_anchors_is_refused_by_name(work, few_rooms, tmp_path, capsys):
    bare = write_tiny_checkpoint(tmp_path, fps=10.0, max_frames=REWORDED_FRAMES)
    code = tune_sampling.main(["--checkpoint", str(bare), "--work", str(work), "--out", str(tmp_path / "reports")])
    assert code == 2
    assert f"{bare}: has no prompt anchors to tune" in capsys.readouterr().err
