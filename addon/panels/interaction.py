"""3D Viewport > Sidebar > Interaction."""

import bpy

from ..core import api
from ..core.version import extension_version
from ..preferences import preferences_of


class ISYNTH_PT_interaction(bpy.types.Panel):
    bl_idname = "ISYNTH_PT_interaction"
    bl_label = "Interaction Synth"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Interaction"

    def draw(self, context):
        layout = self.layout
        layout.label(text=f"Version {extension_version()}")
        layout.operator("isynth.add_demo_room", icon="HOME")
        room = layout.row(align=True)
        room.operator("isynth.import_reconstruction", text="Import Room", icon="SCENE_DATA")
        room.operator("isynth.reconstruct_and_import", text="Reconstruct", icon="FILE_FOLDER")
        row = layout.row(align=True)
        row.operator("isynth.import_smpl_motion", text="Import Motion", icon="IMPORT")
        row.operator("isynth.export_smpl_motion", text="Export", icon="EXPORT")
        box = layout.box()
        box.label(text="Generation environment")
        summary, present = api.checkpoint_summary(preferences_of(context))
        box.label(text=summary, icon="CHECKMARK" if present else "ERROR")
        status = context.window_manager.isynth_status.environment
        box.label(text=status or "Not checked yet", icon="INFO" if status else "QUESTION")
        box.operator("isynth.check_environment", icon="CHECKMARK")
