"""3D Viewport > Sidebar > Interaction > Retarget: SMPL persons onto the user's avatars.

The settings live on the scene (``scene.isynth_retarget``), so the pairs are saved with the
file (``addon/properties.py`` registers it).
"""

import bpy
from ..operators.retarget import copy_config


class ISYNTH_PT_retarget(bpy.types.Panel):
    bl_idname = "ISYNTH_PT_retarget"
    bl_label = "Retarget"
    bl_parent_id = "ISYNTH_PT_interaction"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Interaction"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.isynth_retarget
        col = layout.column(align=True)
        col.prop_search(settings, "source", bpy.data, "objects")
        col.prop_search(settings, "target", bpy.data, "objects")
        col = layout.column(align=True)
        col.prop(settings, "mapping")
        if settings.mapping == "FILE":
            col.prop(settings, "mapping_file", text="")
        col.prop(settings, "calibration")
        if settings.calibration == "MATCH_POSE":
            col.prop(settings, "match_frame")
        col.prop(settings, "root_motion")
        row = col.row(align=True)
        row.prop(settings, "scale_root", toggle=True)
        row.prop(settings, "foot_cleanup", toggle=True)
        row = col.row(align=True)
        row.active = settings.scale_root  # (spacing scales with the root path)
        row.prop(settings, "scale_spacing", toggle=True)
        row = col.row(align=True)
        row.prop(settings, "swap_sides", toggle=True)
        row.prop(settings, "mirror_fill", toggle=True)
        col.prop(settings, "through_constraints", toggle=True)
        row = layout.row(align=True)
        op = row.operator("isynth.retarget", icon="ARMATURE_DATA")
        copy_config(settings, op)
        op.source = settings.source
        op.target = settings.target
        export = row.operator("isynth.retarget_export_mapping", text="", icon="EXPORT")
        copy_config(settings, export)
        export.target = settings.target

        box = layout.box()
        box.label(text="All persons", icon="COMMUNITY")
        for index, pair in enumerate(settings.pairs):
            row = box.row(align=True)
            row.prop_search(pair, "source", bpy.data, "objects", text="")
            row.prop_search(pair, "target", bpy.data, "objects", text="")
            row.operator("isynth.retarget_pair_remove", text="", icon="X").index = index
        row = box.row(align=True)
        row.operator("isynth.retarget_pairs_from_scene", icon="ADD")
        op = row.operator("isynth.retarget", text="Retarget All", icon="PLAY")
        copy_config(settings, op)
        op.use_scene_pairs = True

        if settings.report:
            box = layout.box()
            box.label(text="Quality", icon="INFO")
            for line in settings.report.splitlines():
                for part in line.split("; "):
                    box.label(text=part, icon="ERROR" if part.startswith("WARNING") else "NONE")


classes = (ISYNTH_PT_retarget,)

