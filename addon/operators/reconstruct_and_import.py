"""``isynth.reconstruct_and_import``: reconstruct a Teton sequence folder, then import the result."""

from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from ..bridge.reconstruction import import_reconstruction
from ..core import api
from ..preferences import preferences_of


class ISYNTH_OT_reconstruct_and_import(bpy.types.Operator):
    """Reconstruct a Teton sequence folder (depth, floor, tracks) and import the room and people"""

    bl_idname = "isynth.reconstruct_and_import"
    bl_label = "Reconstruct & Import"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(name="Sequence Folder", subtype="DIR_PATH")
    bundle_path: StringProperty(
        name="Save Bundle", description="Also write the reconstruction bundle here (.npz); empty: do not save",
        subtype="FILE_PATH", default="",
    )
    with_body: BoolProperty(name="Skinned Bodies", default=True)
    refine: BoolProperty(name="Refine to Keypoints", description="SMPLify-style refinement (slow)", default=False)

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        window_manager = context.window_manager
        window_manager.progress_begin(0, 100)
        prefs = preferences_of(context)
        try:
            bundle = api.reconstruct_sequence(
                self.directory, prefs, refine=self.refine,
                progress=lambda stage, fraction: window_manager.progress_update(int(fraction * 100)),
            )
            if self.bundle_path:
                from ..core.recon.bundle import write_bundle

                write_bundle(bpy.path.abspath(self.bundle_path), bundle)
            builds = api.person_builds_for_bundle(bundle, prefs, self.with_body)
        except (ValueError, OSError) as error:
            self.report({"ERROR"}, str(error))  # nothing was created
            return {"CANCELLED"}
        finally:
            window_manager.progress_end()
        imported = import_reconstruction(context.scene, bundle, builds, Path(self.directory.rstrip("/\\")).name)
        self.report({"INFO"}, f"Reconstructed and imported {len(imported.people)} people into '{imported.collection.name}'")
        return {"FINISHED"}
