"""The render command line without rendering: shards, refusals and exit codes (no Blender)."""

import json
import os
from pathlib import Path

import pytest

from addon.batch.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, clip_command, clip_threads, main
from addon.batch.progress import JsonLog, ProgressBar, read_log

JOBS = """
[[scenes]]
name = "room"
procedural = "care_room"
[[prompts]]
name = "talk"
text = "two people talk"
roles = ["staff", "patient"]
label = "talk"
variations = 4
[cameras]
jittered = 1
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "jobs.toml"
    path.write_text(JOBS)
    return path


def dry_run(config, out, shard, capsys) -> list[str]:
    assert main(["--config", str(config), "--out", str(out), "--dry-run", "--shard", shard]) == EXIT_OK
    return capsys.readouterr().out.split()


def test_shards_list_every_job_exactly_once(tmp_path, config, capsys):
    everything = dry_run(config, tmp_path / "out", "0/1", capsys)
    assert len(everything) == 8
    parts = [dry_run(config, tmp_path / "out", f"{i}/3", capsys) for i in range(3)]
    assert sorted(sum(parts, [])) == sorted(everything) and sum(map(len, parts)) == 8
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [job["key"] for job in manifest["jobs"]] == sorted(everything)


def test_bad_input_exits_2_with_the_key(tmp_path, config, capsys):
    config.write_text(JOBS.replace('label = "talk"', 'label = "sing"'))
    assert main(["--config", str(config), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "key 'prompts[0].label'" in capsys.readouterr().err
    assert main(["--config", str(config), "--out", str(tmp_path / "out"), "--shard", "4/2"]) == EXIT_BAD_INPUT
    assert main(["--out", str(tmp_path / "nowhere"), "--one-clip", "x"]) == EXIT_BAD_INPUT


def test_an_existing_data_set_needs_resume_and_the_same_jobs(tmp_path, config, capsys):
    out = tmp_path / "out"
    dry_run(config, out, "0/1", capsys)
    finished = out / "clips" / "room.talk.v000.recorded"
    finished.mkdir(parents=True)
    (finished / "annotations.json").write_text("{}")
    assert main(["--config", str(config), "--out", str(out)]) == EXIT_BAD_INPUT
    assert "pass --resume" in capsys.readouterr().err
    remaining = dry_run(config, out, "0/1", capsys)  # a dry run lists what a resume would render
    assert "room/talk/v000/recorded" not in remaining and len(remaining) == 7
    config.write_text(JOBS.replace("variations = 4", "variations = 5"))
    assert main(["--config", str(config), "--out", str(out), "--resume"]) == EXIT_BAD_INPUT
    assert "different jobs" in capsys.readouterr().err


def test_clip_commands_for_blender_and_the_bpy_module(tmp_path):
    job = {"key": "room/talk/v000/recorded"}
    blender = clip_command(job, tmp_path, 2, "/opt/blender/blender")
    assert blender[:5] == ["/opt/blender/blender", "-b", "--factory-startup", "--python-exit-code", "1"]
    assert blender[6].endswith("addon/batch/blender_render.py") and blender[7] == "--"
    assert blender[8:] == ["--out", str(tmp_path), "--one-clip", "room/talk/v000/recorded", "--threads", "2"]
    module = clip_command(job, tmp_path, 1, "")
    assert module[1].endswith("blender_render.py") and module[2] == "--"


def test_json_log_lines_and_progress_eta(tmp_path):
    log = JsonLog(tmp_path / "log.jsonl", shard="0/1")
    log("clip_done", clip="a", seconds=1.5)
    log("clip_failed", clip="b", error="boom\nline 2")
    with open(tmp_path / "log.jsonl", "a") as stream:
        stream.write('{"torn": ')  # a writer killed mid-line
    events = read_log(tmp_path / "log.jsonl")
    assert [e["event"] for e in events] == ["clip_done", "clip_failed"] and events[1]["error"] == "boom\nline 2"
    assert all(e["shard"] == "0/1" and e["time"].endswith("Z") for e in events)
    bar = ProgressBar()
    bar.started -= 30.0  # 30 s in, 3 of 10 clips done: 70 s to go
    line = bar.line(3, 10)
    assert "3/10 clips" in line and "30 s" in line and "ETA 70 s" in line


def test_an_unexpected_error_exits_1_with_one_line_and_a_logged_traceback(tmp_path, config, capsys):
    """Not only bad input: any failure must give a non-zero exit code (under ``blender -b --python``
    an escaping exception would end Blender with 0)."""
    out = tmp_path / "out"
    (out / "manifest.json").mkdir(parents=True)  # the manifest cannot be written: an OSError mid-run
    assert main(["--config", str(config), "--out", str(out)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("render: failed: IsADirectoryError") and err.count("\n") == 1 and "Traceback" not in err
    event = read_log(out / "log.jsonl")[-1]
    assert event["event"] == "run_failed" and event["error"].startswith("IsADirectoryError")
    assert "Traceback" in event["traceback"] and "write_manifest" in event["traceback"]
    assert main(["--config", str(config), "--out", str(out), "--debug"]) == EXIT_FAILED
    assert "Traceback" in capsys.readouterr().err


def test_an_unreadable_scene_bundle_is_bad_input_naming_the_key(tmp_path, capsys):
    sample = Path(__file__).resolve().parents[2] / "addon" / "assets" / "sample_reconstruction.npz"
    (tmp_path / "room.npz").write_bytes(sample.read_bytes()[:4096])  # truncated
    (tmp_path / "jobs.toml").write_text(JOBS.replace('procedural = "care_room"', 'bundle = "room.npz"'))
    assert main(["--config", str(tmp_path / "jobs.toml"), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "key 'scenes[0].bundle'" in capsys.readouterr().err


def test_a_missing_blender_binary_is_refused_before_anything_is_written(tmp_path, config, capsys):
    out = tmp_path / "out"
    assert main(["--config", str(config), "--out", str(out), "--blender", str(tmp_path / "no-blender")]) == EXIT_BAD_INPUT
    assert "--blender" in capsys.readouterr().err and not out.exists()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_render_threads_follow_the_cpu_affinity_not_the_node():
    """A Slurm job's cpuset, not os.cpu_count(), is what the clip processes share."""
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("needs 2 or more usable cores to restrict")
    try:
        os.sched_setaffinity(0, {min(allowed)})  # as a cpuset of one core on a bigger node
        assert clip_threads(0, 1) == 1 < os.cpu_count()
        assert clip_threads(0, 4) == 1 and clip_threads(3, 4) == 3
    finally:
        os.sched_setaffinity(0, allowed)
    assert clip_threads(0, 1) == len(allowed)


def test_without_png_frames_the_run_says_coco_file_names_are_not_written(tmp_path, config, capsys):
    assert main(["--config", str(config), "--out", str(tmp_path / "out"), "--dry-run"]) == EXIT_OK
    assert "render: warning: [outputs] png_frames is false" in capsys.readouterr().err
    config.write_text(JOBS + "[outputs]\npng_frames = true\n")
    assert main(["--config", str(config), "--out", str(tmp_path / "frames"), "--dry-run"]) == EXIT_OK
    assert "warning" not in capsys.readouterr().err
