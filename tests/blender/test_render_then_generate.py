"""A render, then Generate Interaction, in one headless Blender process (core/triton_guard.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_generating_after_a_render_in_the_same_process_works(tmp_path):
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, str(HERE / "render_then_generate_check.py"), str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["room"] == ["FINISHED"] and seen["rendered"]
    assert seen["in_process"] == [2, 20, 22, 3]  # 2 persons x 2 s at the bundled 10 fps
    assert seen["generate"] == ["FINISHED"] and seen["new_rigs"] == ["Patient 2", "Staff 1"]
    assert seen["triton"] == "absent"  # marked missing before transformers loaded, inside Blender
