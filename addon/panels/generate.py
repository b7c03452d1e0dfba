"""3D Viewport > Sidebar > Interaction > Generate Interaction (draw only)."""

import bpy

from ..core import api, generation_runtime
from ..core.generation_settings import QUALITY_PRESETS
from ..preferences import preferences_of

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
        timing.prop(settings, "use_scene_fps")
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
        column.prop(settings, "set_frame_range")
        summary, present = api.checkpoint_summary(preferences_of(context))
        column.label(text=summary, icon="CHECKMARK" if present else "ERROR")
        _draw_action(layout, status, running)



def _draw_persons(layout, settings) -> None:
    box = layout.box()
    box.prop(settings, "persons")
    for index in range(settings.persons):
        row = box.row(align=True)
        row.prop(settings, f"role_{index + 1}", text="")
        row.prop_search(settings, f"target_{index + 1}", bpy.data, "objects", text="", icon="ARMATURE_DATA")


def _draw_action(layout, status, running: bool) -> None:
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
        layout.label(text=status.generation_message, icon=_STATE_ICONS.get(status.generation_state, "INFO"))
    if status.generation_device:
        layout.label(text=f"Ran on {status.generation_device}", icon="MEMORY")
