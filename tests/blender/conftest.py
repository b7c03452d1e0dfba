"""Blender-tier fixtures: a throwaway Blender user folder, factory settings per test,
and the extension enabled from this source tree through Blender's extension system."""

from throwaway_blender_user import use_throwaway_user_folder

# Before bpy loads: never read or write the developer's own Blender configuration.
use_throwaway_user_folder("isynth_test_user_")

import bpy  # noqa: E402
import pytest  # noqa: E402

import blender_session  # noqa: E402


@pytest.fixture(autouse=True)
def factory_settings():
    """Every test starts from Blender's factory startup file and preferences."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def extension():
    """The extension enabled from source; yields its module name, disables it afterwards."""
    module_name = blender_session.enable_from_source()
    yield module_name
    blender_session.disable(module_name)

