"""The extension's entry point (the checkout's __init__.py) imports in a checkout of any folder name."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_point_imported_alone_gives_register_and_unregister_without_blender():
    # pytest imports it alone when the checkout's folder is no Python name ("interaction-synth").
    spec = importlib.util.spec_from_file_location("entry_point_alone", ROOT / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not module.__package__
    assert callable(module.register) and callable(module.unregister)
    assert "bpy" not in sys.modules  # Blender's modules load in register(), not on import
