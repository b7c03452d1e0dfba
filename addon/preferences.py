"""Add-on preferences (Edit > Preferences > Add-ons > Interaction Synth).

Every default works with nothing set. :func:`preferences_of` is the one
converter from these Blender properties to core's frozen :class:`Preferences`.
"""

import bpy
from bpy.props import EnumProperty, StringProperty

from .core.settings import Preferences

# The extension's module name: "bl_ext.<repository>.interaction_synth" when
# installed as an extension, "interaction_synth" when loaded as a plain module.
ADDON_ID = __package__.rpartition(".")[0] or __package__


class ISYNTH_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    smpl_model_dir: StringProperty(
        name="SMPL Model Folder",
        description=(
            "Folder with your licensed SMPL_{NEUTRAL,MALE,FEMALE} .pkl/.npz files. "
            "Empty: the bundled stand-in body"
        ),
        subtype="DIR_PATH",
        default="",
    )
    checkpoint_path: StringProperty(
        name="Checkpoint",
        description="Generation checkpoint (.safetensors). Empty: the checkpoint bundled with the extension",
        subtype="FILE_PATH",
        default="",
    )
    compute_device: EnumProperty(
        name="Compute Device",
        description="Where the diffusion sampler runs",
        items=(
            ("AUTO", "Auto", "CUDA when the generation Python sees a GPU, otherwise CPU"),
            ("CUDA", "CUDA", "NVIDIA GPU; needs a Python environment with CUDA torch"),
            ("CPU", "CPU", "Always the CPU"),
        ),
        default="AUTO",
    )
    clip_weights_path: StringProperty(
        name="CLIP Weights",
        description="Local open_clip weights for CLIP-conditioned checkpoints (never downloaded unless you ask)",
        subtype="FILE_PATH",
        default="",
    )
    python_mode: EnumProperty(
        name="Generation Python",
        description="The Python environment that runs generation, in its own process",
        items=(
            ("BLENDER", "Blender's Own", "Blender's Python with the wheels bundled in the extension (CPU)"),
            ("EXTERNAL", "External", "Another Python 3 interpreter, e.g. a virtual environment with CUDA torch"),
        ),
        default="BLENDER",
    )
    python_executable: StringProperty(
        name="Interpreter",
        description="Path of the external Python interpreter (e.g. /path/to/venv/bin/python)",
        subtype="FILE_PATH",
        default="",
    )

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        body = layout.column(heading="Body")
        body.prop(self, "smpl_model_dir")
        generation = layout.column(heading="Generation")
        generation.prop(self, "checkpoint_path")
        generation.prop(self, "clip_weights_path")
        generation.prop(self, "compute_device")
        generation.prop(self, "python_mode")
        if self.python_mode == "EXTERNAL":
            generation.prop(self, "python_executable")
        for problem in preferences_of(context).problems():
            layout.label(text=problem, icon="ERROR")
        row = layout.row()
        row.operator("isynth.check_environment", icon="CHECKMARK")
        status = context.window_manager.isynth_status.environment
        if status:
            row.label(text=status)


def preferences_of(context) -> Preferences:
    """The add-on preferences as core's frozen :class:`Preferences` (defaults if not enabled)."""
    addon = context.preferences.addons.get(ADDON_ID)
    if addon is None or addon.preferences is None:
        return Preferences()
    prefs = addon.preferences
    return Preferences(
        smpl_model_dir=bpy.path.abspath(prefs.smpl_model_dir) if prefs.smpl_model_dir else "",
        checkpoint_path=bpy.path.abspath(prefs.checkpoint_path) if prefs.checkpoint_path else "",
        compute_device=prefs.compute_device,
        clip_weights_path=bpy.path.abspath(prefs.clip_weights_path) if prefs.clip_weights_path else "",
        python_mode=prefs.python_mode,
        python_executable=bpy.path.abspath(prefs.python_executable) if prefs.python_executable else "",
    )


classes = (ISYNTH_AP_preferences,)
register, unregister = bpy.utils.register_classes_factory(classes)
