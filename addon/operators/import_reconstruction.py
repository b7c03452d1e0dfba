"""``isynth.import_reconstruction``: File > Import > Teton Reconstruction (.npz bundle)."""

from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..bridge.reconstruction import import_reconstruction
from ..core import api
from ..preferences import preferences_of


class ISYNTH_OT_import_reconstruction(bpy.types.Operator, ImportHelper):
    """Import a reconstructed room (points, floor, furniture, recorded camera) with its tracked people"""

    bl_idname = "isynth.import_reconstruction"
    bl_label = "Import Teton Reconstruction"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    with_body: BoolProperty(name="Skinned Bodies", description="Add a skinned body to each person's rig", default=True)

    def execute(self, context):
        try:
            bundle, builds = api.prepare_reconstruction_import(self.filepath, preferences_of(context), self.with_body)
        except (ValueError, OSError) as error:
            self.report({"ERROR"}, str(error))  # nothing was created
            return {"CANCELLED"}
        window_manager = context.window_manager
        window_manager.progress_begin(0, max(len(builds), 1))
        try:
            imported = import_reconstruction(
                context.scene, bundle, builds, Path(self.filepath).stem,
                progress=lambda done, total: window_manager.progress_update(done),
            )
        finally:
            window_manager.progress_end()
        self.report(
            {"INFO"},
            f"Imported {len(bundle.points)} points, {len(imported.furniture)} furniture items and "
            f"{len(imported.people)} people into '{imported.collection.name}'",
        )
        return {"FINISHED"}


def menu_import(self, context):
    self.layout.operator(ISYNTH_OT_import_reconstruction.bl_idname, text="Teton Reconstruction (.npz)")
