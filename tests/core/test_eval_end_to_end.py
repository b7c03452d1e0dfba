"""`./run eval` end to end on tiny sizes: real clips, evaluator, every row, report files, exit codes."""

import json
from dataclasses import replace

import numpy as np
import pytest

import eval as eval_tool
from addon.core.body.model import load_body_model
from addon.core.eval.run import evaluate
from helpers.tiny_checkpoint import write_tiny_checkpoint

TINY = replace(eval_tool.QUICK, train=24, val=16, test=16, evaluator_steps=4, reworded_seeds=1, mm_prompts=2,
               mm_generations=2, replications=2, batch=8)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    checkpoint = write_tiny_checkpoint(folder, fps=10.0, max_frames=100)
    rest = np.asarray(load_body_model(None).rest_joints(), dtype=np.float64)
    splits = {name: eval_tool.real_clips(name, count, folder / "work", rest)
              for name, count in (("test", TINY.test), ("val", TINY.val), ("train", TINY.train))}
    out = folder / "reports"
    return evaluate(str(checkpoint), splits, TINY, folder / "work", out, rest), out, folder


def test_every_row_of_both_tables_is_scored(result):
    data, out, _ = result
    for table, real in (("test_scenes", "Real test data"), ("reworded_prompts", "Real test data (reworded captions)")):
        rows = data["tables"][table]
        assert [r["name"] for r in rows][0] == real
        # real, default, fast, no scene, independent, nearest neighbour (+ the reworded prompts'
        # ablation), then the default row as the rigs show it
        assert len(rows) == (7 if table == "test_scenes" else 8)
        decoded = rows[-1]
        assert decoded["kind"] == "decoded" and decoded["name"].startswith("Model, DDIM 25 steps, as the rigs show it")
        assert decoded["clips"] == rows[1]["clips"]
        # Decoded features agree with themselves, whatever the model's rotations said.
        assert decoded["physical"]["fk_mpjpe_m"]["mean"] < 1e-3 < rows[1]["physical"]["fk_mpjpe_m"]["mean"]
        for row in rows:
            assert 0.0 <= row["r_precision"]["top1"] <= row["r_precision"]["top3"] <= 1.0
            assert np.isfinite(row["fid"]) and row["fid"] >= -1e-6
            assert 0.0 <= row["classifier_agreement"] <= 1.0
            # Per action: every clip counted once, and the counts make up the overall agreement.
            counts = np.array(list(row["classifier_by_script"].values()))
            assert counts[:, 1].sum() == row["clips"]
            assert counts[:, 0].sum() / row["clips"] == pytest.approx(row["classifier_agreement"])
    # Real procedural data is physically clean by construction (the generator's checks).
    real = data["tables"]["test_scenes"][0]["physical"]
    # Joints are FK on the one checkpoint skeleton, not each body's own shape: feet sink a few mm.
    assert real["floor_penetration_m"]["mean"] < 0.01
    assert real["bone_length_std_m"]["mean"] < 1e-4
    assert real["fk_mpjpe_m"]["mean"] < 1e-3
    # The random-weight tiny model is not: its stored positions disagree with its rotations.
    assert data["tables"]["test_scenes"][1]["physical"]["fk_mpjpe_m"]["mean"] > 0.01
    assert "multimodality" in data["tables"]["test_scenes"][2]
    ablation = data["tables"]["reworded_prompts"][-2]
    assert ablation["kind"] == "ablation" and "no anchors" in ablation["name"]


def test_the_report_files(result):
    data, out, _ = result
    text = (out / "eval.md").read_text()
    assert "## Held-out procedural test scenes" in text and "## Reworded prompts" in text
    assert text.count("| Model, DDIM 25 steps (default) |") == 2
    assert len(data["checks"]) == 7 and all(isinstance(c["passed"], bool) for c in data["checks"])
    assert json.loads((out / "eval.json").read_text())["checks"] == data["checks"]
    # The default rows' per-action sum, which the checkpoint ships, and its table.
    shipped = data["summary"]["script_agreement"]
    default_rows = [data["tables"][t][1]["classifier_by_script"] for t in ("test_scenes", "reworded_prompts")]
    for name, (agreed, clips) in shipped.items():
        assert clips == sum(row.get(name, [0, 0])[1] for row in default_rows)
        assert agreed == sum(row.get(name, [0, 0])[0] for row in default_rows)
    assert "### Which actions the clips are recognised as" in text
    first = next(iter(data["tables"]["test_scenes"][0]["classifier_by_script"]))
    assert any(line.startswith(f"| {first} | ") for line in text.splitlines())
    from PIL import Image

    with Image.open(out / "eval_contact_sheet.png") as image:
        assert image.size[0] == 5 * 320


def test_the_evaluator_is_cached_and_reused(result):
    _, _, folder = result
    assert (folder / "work" / "evaluator.safetensors").is_file()


def test_a_missing_checkpoint_is_exit_code_2(tmp_path, capsys):
    code = eval_tool.main(["--quick", "--checkpoint", str(tmp_path / "nope.safetensors"), "--work", str(tmp_path),
                           "--out", str(tmp_path / "r")])
    assert code == 2
    assert "nope.safetensors" in capsys.readouterr().err
