"""A scene's frame rate, read and set in one place (Blender keeps it as fps / fps_base)."""

import bpy


def scene_fps(scene: bpy.types.Scene) -> float:
    """Frames per second of ``scene`` (e.g. 29.97 for 30 / 1.001)."""
    return scene.render.fps / scene.render.fps_base


def set_scene_fps(scene: bpy.types.Scene, fps: float) -> None:
    """Make ``scene`` play at ``fps`` (non-integer rates through fps_base)."""
    whole = max(1, round(fps))
    scene.render.fps, scene.render.fps_base = whole, whole / fps
