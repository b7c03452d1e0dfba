"""A clip that fails is logged and retried once while the others go on; the exit code says so,
also from the shipped script when the run itself fails."""

import json
import subprocess
import sys
from pathlib import Path

from addon.batch.cli import EXIT_BAD_INPUT, EXIT_FAILED, main
from addon.batch.progress import read_log

SCRIPT = Path(__file__).resolve().parents[2] / "addon" / "batch" / "blender_render.py"


def test_a_broken_scene_fails_twice_and_the_rest_is_delivered(tmp_path):
    (tmp_path / "broken.blend").write_bytes(b"BLENDER-v500 but not really a .blend file")
    from helpers.tiny_checkpoint import write_tiny_checkpoint  # torch: not in the compat envs
    checkpoint = write_tiny_checkpoint(tmp_path)
    (tmp_path / "jobs.toml").write_text(f"""
[[scenes]]
name = "room"
procedural = "care_room"
[[scenes]]
name = "broken"
blend = "broken.blend"
[[prompts]]
name = "stand"
text = "a patient stands"
roles = ["patient"]
label = "stand"
[clip]
seconds = 0.3
width = 32
height = 24
[generation]
checkpoint = "{checkpoint}"
steps = 1
device = "cpu"
""")
    out = tmp_path / "out"
    assert main(["--config", str(tmp_path / "jobs.toml"), "--out", str(out), "--workers", "2"]) == EXIT_FAILED
    events = read_log(out / "log.jsonl")
    by_clip = {}
    for event in events:
        if event["event"].startswith("clip_"):
            by_clip.setdefault(event.get("clip"), []).append(event["event"])
    assert by_clip["broken.stand.v000.recorded"] == ["clip_start", "clip_retry", "clip_start", "clip_failed"]
    assert by_clip["room.stand.v000.recorded"] == ["clip_start", "clip_done"]
    failed = next(e for e in events if e["event"] == "clip_failed")
    assert failed["exit_code"] == 1 and "broken.blend" in failed["error"]
    assert [p.name for p in (out / "clips").iterdir()] == ["room.stand.v000.recorded"]
    assert not any((out / ".partial").iterdir())  # the failed clip left nothing half-written
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["clips"] == 1 and summary["missing"] == ["broken.stand.v000.recorded"]
    assert events[-1]["event"] == "run_done" and events[-1]["failed"] == ["broken/stand/v000/recorded"]


def test_the_shipped_script_exits_with_renders_code(tmp_path):
    """``blender -b --python blender_render.py`` without ``--python-exit-code`` exits 0 when an
    exception escapes the script; the script's own sys.exit(code) is what reaches the shell."""
    (tmp_path / "room.npz").write_bytes(b"PK\x03\x04 not really a bundle")
    (tmp_path / "jobs.toml").write_text('[[scenes]]\nname = "room"\nbundle = "room.npz"\n[[prompts]]\nname = "stand"\n'
                                        'text = "a patient stands"\nroles = ["patient"]\nlabel = "stand"\n')

    def script(out):
        return subprocess.run([sys.executable, str(SCRIPT), "--", "--config", str(tmp_path / "jobs.toml"), "--out",
                               str(out)], capture_output=True, text=True, timeout=300)

    broken = script(tmp_path / "out")  # a corrupt bundle: bad input, named by its key
    assert broken.returncode == EXIT_BAD_INPUT, broken.stderr
    assert "key 'scenes[0].bundle'" in broken.stderr and "Traceback" not in broken.stderr
    (tmp_path / "jobs.toml").write_text((tmp_path / "jobs.toml").read_text().replace('bundle = "room.npz"',
                                                                                     'procedural = "care_room"'))
    (tmp_path / "taken" / "manifest.json").mkdir(parents=True)  # an OSError while writing the data set
    failed = script(tmp_path / "taken")
    assert failed.returncode == EXIT_FAILED, failed.stderr
    assert failed.stderr.splitlines()[-1].startswith("render: failed: IsADirectoryError")
    assert "Traceback" not in failed.stderr
