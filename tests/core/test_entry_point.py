"""The extension's entry point (the checkout's __init__.py) imports in a checkout of any folder name."""

import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_point_imported_alone_gives_register_and_unregister_without_blender():
    # pytest imports it alone when the checkout's folder is no Python name ("interaction-synth").
    path = ROOT / "__init__.py"
    module = types.ModuleType("entry_point_alone")
    module.__file__, module.__package__ = str(path), ""  # no parent package to import relatively from
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    assert callable(module.register) and callable(module.unregister)
    assert "bpy" not in sys.modules  # Blender's modules load in register(), not on import
