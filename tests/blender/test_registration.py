"""Enable, register cycles and clean unregistering (the Foundation's leak test)."""

import json
import subprocess
import sys
from pathlib import Path

import bpy
import pytest

import blender_session
from blender_session import registered_classes as registered_isynth_classes

pytestmark = pytest.mark.compat

EXPECTED_CLASSES = {
    "ISYNTH_AP_preferences",
    "ISYNTH_PG_status",
    "ISYNTH_OT_add_demo_room",
    "ISYNTH_OT_check_environment",
    "ISYNTH_OT_import_smpl_motion",
    "ISYNTH_OT_export_smpl_motion",
    "ISYNTH_OT_import_reconstruction",
    "ISYNTH_OT_reconstruct_and_import",
    "ISYNTH_PT_interaction",
    "ISYNTH_PG_generation",
    "ISYNTH_OT_generate_interaction",
    "ISYNTH_OT_cancel_generation",
    "ISYNTH_OT_randomize_seed",
    "ISYNTH_PT_generate",
    "ISYNTH_OT_retarget",
    "ISYNTH_OT_retarget_pairs_from_scene",
    "ISYNTH_OT_retarget_pair_remove",
    "ISYNTH_OT_retarget_export_mapping",
    "ISYNTH_PG_retarget_pair",
    "ISYNTH_PG_retarget_settings",
    "ISYNTH_PT_retarget",
}


def global_state() -> dict:
    """What an add-on can leak: classes, RNA properties, handlers, timers."""
    handlers = bpy.app.handlers
    return {
        "classes": registered_isynth_classes(),
        "wm_property": hasattr(bpy.types.WindowManager, "isynth_status"),
        "scene_property": hasattr(bpy.types.Scene, "isynth_generation"),
        "handlers": {
            name: len(getattr(handlers, name))
            for name in dir(handlers)
            if isinstance(getattr(handlers, name), list)
        },
        "operators": sorted(dir(bpy.ops.isynth)),
        # Menu entries appended to File > Import / Export.
        "menus": {
            menu.__name__: len(menu._dyn_ui_initialize())
            for menu in (bpy.types.TOPBAR_MT_file_import, bpy.types.TOPBAR_MT_file_export)
        },
    }


def test_enable_registers_operators_panel_and_preferences(extension):
    assert registered_isynth_classes() == EXPECTED_CLASSES
    prefs = bpy.context.preferences.addons[extension].preferences
    assert prefs.compute_device == "AUTO" and prefs.python_mode == "BLENDER"
    assert bpy.types.ISYNTH_PT_interaction.bl_category == "Interaction"


def test_register_unregister_register_leaks_nothing(extension):
    module = sys.modules[extension]
    enabled = global_state()
    blender_session.disable(extension)
    disabled = global_state()
    assert disabled["classes"] == set()
    assert disabled["wm_property"] is False and disabled["scene_property"] is False
    added = {m: enabled["menus"][m] - disabled["menus"][m] for m in enabled["menus"]}
    assert added == {"TOPBAR_MT_file_import": 2, "TOPBAR_MT_file_export": 1}
    for _ in range(2):
        module.register()
        assert global_state()["classes"] == EXPECTED_CLASSES
        module.unregister()
        assert global_state() == disabled
    again = blender_session.enable_from_source()
    assert again == extension and global_state() == enabled


def test_enabling_does_not_import_heavy_modules():
    # Light imports (STYLE.md 11): Blender starts fast; torch loads when the user generates.
    # A fresh process, so nothing another test imported can hide a regression.
    script = (
        "import json, sys, blender_session; blender_session.enable_from_source(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    tools = Path(blender_session.__file__).parent
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tools, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert any(name.endswith("interaction_synth.addon.operators") for name in loaded)
    assert not {"torch", "transformers", "open_clip", "smplx", "scipy"} & loaded
