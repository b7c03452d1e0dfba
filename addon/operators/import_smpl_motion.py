"""``isynth.import_smpl_motion``: File > Import > SMPL Motion (.npz); one rig + body per file."""

import os

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..bridge import people
from ..bridge.collections import new_child_collection
from ..bridge.scene_time import scene_fps, set_scene_fps
from ..core import api
from ..preferences import preferences_of


class ISYNTH_OT_import_smpl_motion(bpy.types.Operator, ImportHelper):
    """Import AMASS-style SMPL motion files: one armature and skinned body per file"""

    bl_idname = "isynth.import_smpl_motion"
    bl_label = "Import SMPL Motion"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})

    fps_mode: EnumProperty(
        name="Frame Rate",
        items=(
            ("SCENE", "Resample to Scene", "Resample each motion to the scene's frame rate (slerp/lerp)"),
            ("MOTION", "Use the Motion's", "Set the scene's frame rate to the first file's"),
        ),
        default="SCENE",
    )
    with_body: BoolProperty(name="Skinned Body", description="Add a skinned body mesh to each rig", default=True)
    pose_correctives: BoolProperty(
        name="Pose Correctives",
        description=(
            "Add SMPL's 207 pose-corrective shape keys and key them per frame "
            "(only models that have them; slower, and usually not needed for training video)"
        ),
        default=False,
    )
    set_frame_range: BoolProperty(
        name="Set Frame Range", description="Extend the scene's frame range to the longest motion", default=True
    )

    def paths(self) -> list[str]:
        names = [f.name for f in self.files if f.name]
        if names:
            return [os.path.join(self.directory, name) for name in names]
        return [self.filepath] if self.filepath else []

    def execute(self, context):
        scene = context.scene
        try:
            builds, fps = api.prepare_motion_import(
                self.paths(),
                preferences_of(context),
                scene_fps(scene),
                self.fps_mode,
                self.with_body,
                self.pose_correctives,
            )
        except (ValueError, OSError) as error:
            # Nothing has been created yet: the scene is unchanged.
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if self.fps_mode == "MOTION":
            set_scene_fps(scene, fps)
        window_manager = context.window_manager
        window_manager.progress_begin(0, len(builds))
        collection = new_child_collection(scene, "SMPL Motions")
        try:
            for index, build in enumerate(builds):
                people.create_person_from_build(
                    collection, build, fps, scene.frame_start, f"{build.name} motion"
                )
                window_manager.progress_update(index + 1)
        finally:
            window_manager.progress_end()
        if self.set_frame_range:
            longest = max(build.motion.num_frames for build in builds)
            scene.frame_end = max(scene.frame_end, scene.frame_start + longest - 1)
        self.report({"INFO"}, f"Imported {len(builds)} motion(s) at {fps:g} fps")
        return {"FINISHED"}


def menu_import(self, context):
    self.layout.operator(ISYNTH_OT_import_smpl_motion.bl_idname, text="SMPL Motion (.npz)")
