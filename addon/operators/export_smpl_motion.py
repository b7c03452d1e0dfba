"""``isynth.export_smpl_motion``: File > Export > SMPL Motion (.npz) from the selected SMPL rigs."""

import os

import bpy
from bpy.props import StringProperty
from bpy_extras.io_utils import ExportHelper

from ..bridge import people
from ..core import api
from ..core.motion.motion import Motion
from ..core.skeleton import JOINT_NAMES


def is_smpl_rig(obj) -> bool:
    return obj.type == "ARMATURE" and all(name in obj.data.bones for name in JOINT_NAMES)


def motion_of(obj, scene) -> Motion:
    """The rig's active action as a Motion (betas, gender and role from its isynth_* properties)."""
    global_orient, body_pose, transl = people.read_smpl_poses(obj)
    action = obj.animation_data.action
    fps = float(action.get("isynth_fps", scene.render.fps / scene.render.fps_base))
    return Motion(
        global_orient=global_orient,
        body_pose=body_pose,
        transl=transl,
        betas=list(obj.get("isynth_betas", [0.0] * 10)),
        fps=fps,
        role=obj.get("isynth_role", "person"),
        gender=obj.get("isynth_gender", "neutral"),
        name=obj.name,
    )


class ISYNTH_OT_export_smpl_motion(bpy.types.Operator, ExportHelper):
    """Export the selected SMPL rigs' animation as AMASS-style .npz (one file per rig)"""

    bl_idname = "isynth.export_smpl_motion"
    bl_label = "Export SMPL Motion"
    bl_options = {"REGISTER"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return any(is_smpl_rig(obj) for obj in context.selected_objects)

    def execute(self, context):
        rigs = [obj for obj in context.selected_objects if is_smpl_rig(obj)]
        if not rigs:
            self.report({"ERROR"}, "Select at least one SMPL rig (an armature with the 24 SMPL bones)")
            return {"CANCELLED"}
        stem, extension = os.path.splitext(self.filepath)
        written = []
        try:
            motions = [motion_of(rig, context.scene) for rig in rigs]
            for rig, motion in zip(rigs, motions):
                path = self.filepath if len(rigs) == 1 else f"{stem}_{bpy.path.clean_name(rig.name)}{extension}"
                api.export_motion(path, motion)
                written.append(path)
        except (ValueError, OSError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote {', '.join(written)}")
        return {"FINISHED"}


def menu_export(self, context):
    self.layout.operator(ISYNTH_OT_export_smpl_motion.bl_idname, text="SMPL Motion (.npz)")
