"""3D Viewport > Sidebar > Interaction > Generate Interaction (draw only)."""

import textwrap

import bpy

from ..bridge.scene_time import scene_fps
from ..core import api, generation_runtime
from ..core.generation_settings import QUALITY_PRESETS
from ..preferences import preferences_of
from ..properties import panel_fps

# Label text in the sidebar: about 7 pixels per character at UI scale 1 (Blender's default
# font, mixed text), less the icon and the panel's margins. A label never wraps by itself:
# longer text is clipped with "...", so messages are split into lines this wide.
CHAR_PX = 7.0
LABEL_MARGIN_PX = 50.0
DEFAULT_CHARS = 40  # no region to measure (background, tests)

_STATE_ICONS = {"ERROR": "ERROR", "DONE": "CHECKMARK", "CANCELLED": "CANCEL", "RUNNING": "SORTTIME",
                "CANCELLING": "SORTTIME"}


class ISYNTH_PT_generate(bpy.types.Panel):
    bl_idname = "ISYNTH_PT_generate"
    bl_label = "Generate Interaction"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Interaction"
    bl_parent_id = "ISYNTH_PT_interaction"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.isynth_generation
        status = context.window_manager.isynth_status
        running = generation_runtime.active_job() is not None
        layout.enabled = True
        column = layout.column()
        column.enabled = not running
        column.prop(settings, "prompt", text="")
        _draw_persons(column, settings)
        column.prop_search(settings, "scene_collection", bpy.data, "collections", icon="SCENE_DATA")
        timing = column.column(align=True)
        timing.prop(settings, "seconds")
        timing.prop(settings, "fps_mode")
        if settings.fps_mode == "CUSTOM":
            timing.prop(settings, "custom_fps")
        timing.label(text=fps_line(settings, scene_fps(context.scene)), icon="TIME")
        seed = column.row(align=True)
        seed.prop(settings, "seed")
        seed.operator("isynth.randomize_seed", text="", icon="FILE_REFRESH")
        column.prop(settings, "guidance")
        column.row().prop(settings, "quality", expand=True)
        column.prop(settings, "show_advanced", icon="PREFERENCES")
        if settings.show_advanced:
            box = column.box()
            box.prop(settings, "sampler")
            box.prop(settings, "steps")
            sampler, steps = QUALITY_PRESETS[settings.quality]
            used_sampler = sampler if settings.sampler == "PRESET" else settings.sampler
            box.label(text=f"Runs {used_sampler}, {settings.steps or steps} steps")
            box.prop(settings, "anchor_prompt")
            box.prop(settings, "hand_contact")
            box.prop(settings, "smoothing_s")
        device = column.row()
        device.prop(settings, "device", expand=True)
        column.prop(settings, "variations")
        scene_changes = column.row(align=True)
        scene_changes.prop(settings, "set_frame_range", toggle=True)
        scene_changes.prop(settings, "set_scene_fps", toggle=True)
        summary, present = api.checkpoint_summary(preferences_of(context))
        column.label(text=summary, icon="CHECKMARK" if present else "ERROR")
        _draw_action(layout, status, running, label_chars(context))


def fps_line(settings, scene_rate: float) -> str:
    """What the panel says about the frame rate the keys will have."""
    wanted = panel_fps(settings, scene_rate)
    keys = "the checkpoint's fps" if wanted is None else f"{wanted:g} fps"
    if wanted is not None and abs(wanted - scene_rate) < 1e-3:
        return f"Keys at {keys} (the scene's)"
    if settings.set_scene_fps:
        return f"Keys at {keys}; the scene will play at it"
    return f"Keys at {keys}; the scene plays at {scene_rate:g}"


def label_chars(context) -> int:
    """How many characters fit on one label in the sidebar now."""
    region = getattr(context, "region", None)
    if region is None or region.width <= 0:
        return DEFAULT_CHARS
    scale = context.preferences.system.ui_scale
    return max(12, int((region.width - LABEL_MARGIN_PX * scale) / (CHAR_PX * scale)))


def wrap_text(text: str, chars: int) -> list[str]:
    """``text`` split at spaces into lines of at most ``chars`` characters (a longer word,
    e.g. a file path, is cut); [""] for empty text."""
    return textwrap.wrap(text, width=max(1, chars), break_long_words=True, break_on_hyphens=False) or [""]


def _draw_message(layout, text: str, icon: str, chars: int) -> None:
    """One message over as many labels as it needs; the icon on the first."""
    column = layout.column(align=True)
    for index, line in enumerate(wrap_text(text, chars)):
        column.label(text=line, icon=icon if index == 0 else "BLANK1")


def _draw_persons(layout, settings) -> None:
    box = layout.box()
    box.prop(settings, "persons")
    for index in range(settings.persons):
        row = box.row(align=True)
        row.prop(settings, f"role_{index + 1}", text="")
        row.prop_search(settings, f"target_{index + 1}", bpy.data, "objects", text="", icon="ARMATURE_DATA")


def _draw_action(layout, status, running: bool, chars: int) -> None:
    """The Generate button, or progress and Cancel while a generation runs; the last message."""
    if running:
        last = generation_runtime.last_status
        fraction = last.progress if last is not None else status.generation_progress
        message = last.message if last is not None else status.generation_message
        row = layout.row(align=True)
        row.progress(factor=fraction, type="BAR", text=message)
        row.operator("isynth.cancel_generation", text="", icon="CANCEL")
        return
    layout.operator("isynth.generate_interaction", icon="PLAY")
    if status.generation_message:
        _draw_message(layout, status.generation_message, _STATE_ICONS.get(status.generation_state, "INFO"), chars)
    if status.generation_warning:
        _draw_message(layout, status.generation_warning, "ERROR", chars)
    if status.generation_device:
        _draw_message(layout, f"Ran on {status.generation_device}", "MEMORY", chars)
