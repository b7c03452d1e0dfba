"""The few entry points the Blender side calls. Operators call exactly one of these."""

from __future__ import annotations

from .environment import (
    EnvironmentReport,
    probe_interpreter,
    select_interpreter,
)
from .room import RoomLayout, RoomScene, demo_room_scene
from .settings import Preferences


def demo_room(layout: RoomLayout) -> RoomScene:
    """The demo care room with its monitoring camera (see :mod:`.room`)."""
    return demo_room_scene(layout)


def check_environment(
    prefs: Preferences, blender_python: str, blender_paths: tuple[str, ...] = ()
) -> EnvironmentReport:
    """Probe the interpreter that the preferences choose for generation."""
    return probe_interpreter(select_interpreter(prefs, blender_python, blender_paths))
