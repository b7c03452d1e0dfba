"""Triton is marked absent inside Blender only (core/triton_guard.py), in fresh interpreters."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, types
if {in_blender}:
    sys.modules["bpy"] = types.ModuleType("bpy")  # what Blender's process has; nothing is imported
from addon.core.triton_guard import keep_triton_out_of_blender
marked = keep_triton_out_of_blender()
try:
    import triton
    importable = True
except ImportError:
    importable = False
from torch.utils._triton import has_triton_package
print(marked, importable, has_triton_package(), keep_triton_out_of_blender())
"""


def run(in_blender: bool) -> list[str]:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(in_blender=in_blender)], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True, timeout=300)
    return out.stdout.split()


def test_inside_blender_triton_is_marked_absent_and_torch_sees_it_missing():
    assert run(True) == ["True", "False", "False", "False"]  # the second call has nothing left to do


def test_outside_blender_nothing_changes():
    marked, importable, has_triton, again = run(False)
    assert marked == again == "False"
    assert importable == has_triton  # whatever this environment has
