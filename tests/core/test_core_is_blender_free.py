"""addon/core never imports Blender (STYLE.md rule 1), checked in a fresh interpreter."""

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CORE = REPO_ROOT / "addon" / "core"
BLENDER_MODULES = {"bpy", "mathutils", "bmesh", "gpu", "bpy_extras", "addon_utils", "bl_math"}


def core_module_names() -> list[str]:
    names = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_core_module_imports_without_loading_blender():
    modules = core_module_names()
    assert "addon.core.environment" in modules and "addon.core.room" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not loaded & BLENDER_MODULES, f"core pulled in {sorted(loaded & BLENDER_MODULES)}"


def test_no_core_source_mentions_a_blender_import():
    # The runtime check above misses imports inside functions that never ran.
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in BLENDER_MODULES]
    assert offenders == []


def test_the_guard_itself_notices_a_blender_import(tmp_path):
    # Negative control: the same subprocess check flags a module that imports bpy.
    (tmp_path / "leaky.py").write_text("import bpy\n")
    script = "import json, sys, leaky; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "bpy" in json.loads(result.stdout)
