"""Preferences convert to core's frozen config; the environment check reports the real probe."""

import sys

import bpy
import pytest

pytestmark = pytest.mark.compat


def addon_preferences(extension):
    return bpy.context.preferences.addons[extension].preferences


def preferences_module(extension):
    return sys.modules[f"{extension}.addon.preferences"]


def test_defaults_convert_to_core_defaults(extension):
    core_prefs = preferences_module(extension).preferences_of(bpy.context)
    assert core_prefs == type(core_prefs)()
    assert core_prefs.problems() == []


def test_set_values_reach_core(extension, tmp_path):
    prefs = addon_preferences(extension)
    prefs.compute_device = "CPU"
    prefs.smpl_model_dir = str(tmp_path)
    prefs.python_mode = "EXTERNAL"
    prefs.python_executable = sys.executable
    core_prefs = preferences_module(extension).preferences_of(bpy.context)
    assert core_prefs.compute_device == "CPU"
    assert core_prefs.smpl_model_dir == str(tmp_path)
    assert core_prefs.python_executable == sys.executable
    assert core_prefs.problems() == []


def test_check_environment_reports_what_the_interpreter_has(extension):
    assert bpy.ops.isynth.check_environment() == {"FINISHED"}
    status = bpy.context.window_manager.isynth_status.environment
    assert status.startswith(f"Python {'.'.join(map(str, sys.version_info[:3]))}")
    try:
        import torch
    except ImportError:
        assert "torch missing" in status
    else:
        assert f"torch {torch.__version__}" in status


def test_check_environment_with_a_missing_external_python_fails_clearly(extension, tmp_path):
    prefs = addon_preferences(extension)
    prefs.python_mode = "EXTERNAL"
    prefs.python_executable = str(tmp_path / "venv" / "bin" / "python")
    with pytest.raises(RuntimeError, match="external Python interpreter not found"):
        bpy.ops.isynth.check_environment()
    assert "not found" in bpy.context.window_manager.isynth_status.environment
