"""Generate Interaction smoke test for every supported Blender (``./run compat`` runs it on 4.2 and 4.5).

The compat environments carry bpy but no torch, as a user's Blender without the bundled wheels
would: generation then runs in an external interpreter chosen in the preferences, here the
project's own .venv (what `./run test` set up). Under bpy 5.0 the test's own Python has torch
and is Blender's Python.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import bpy
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.compat


def generation_python() -> str:
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    if not venv.is_file():
        pytest.skip("no Python with torch for the worker (run ./run setup)")
    return str(venv)


def test_generate_interaction_runs_and_keys_rigs(extension, tmp_path):
    python = generation_python()
    made = subprocess.run(
        [python, "-c", "import sys; from helpers.tiny_checkpoint import write_tiny_checkpoint; "
                       "print(write_tiny_checkpoint(sys.argv[1]))", str(tmp_path)],
        cwd=REPO_ROOT, env={"PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'tests'}", "HF_HUB_OFFLINE": "1",
                            "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=600, check=True,
    )
    prefs = bpy.context.preferences.addons[extension].preferences
    prefs.checkpoint_path = made.stdout.strip().splitlines()[-1]
    if python != sys.executable:
        prefs.python_mode, prefs.python_executable = "EXTERNAL", python
    bpy.ops.isynth.add_demo_room()
    room = next(c for c in bpy.data.collections if c.name.startswith("Care Room"))
    before = {o.name for o in bpy.data.objects}
    result = bpy.ops.isynth.generate_interaction(prompt="a nurse attends a patient", roles="staff,patient",
                                                 seconds=1.0, seed=0, scene=room.name)
    assert result == {"FINISHED"}
    rigs = sorted(o.name for o in bpy.data.objects if o.type == "ARMATURE" and o.name not in before)
    assert rigs == ["Patient 2", "Staff 1"]
    action = bpy.data.objects["Staff 1"].animation_data.action
    assert action.name == "a nurse attends a patient s0 Staff 1" and action["isynth_seed"] == 0
    assert bpy.context.window_manager.isynth_status.generation_state == "DONE"
