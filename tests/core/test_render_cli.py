"""The render command line without rendering: shards, refusals and exit codes (no Blender)."""

import json

import pytest

from addon.batch.cli import EXIT_BAD_INPUT, EXIT_OK, clip_command, main
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
    finished = out / "clips" / "room-talk-v000-recorded"
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
