"""``isynth.check_environment``: probe the Python that will run generation."""

import sys

import bpy

from ..core import api
from ..core.environment import GenerationEnvironmentError
from ..preferences import preferences_of


class ISYNTH_OT_check_environment(bpy.types.Operator):
    """Start the generation Python once and report its torch version and GPUs"""

    bl_idname = "isynth.check_environment"
    bl_label = "Check Environment"
    bl_options = {"REGISTER"}

    def execute(self, context):
        status = context.window_manager.isynth_status
        try:
            report = api.check_environment(preferences_of(context), sys.executable, tuple(sys.path))
        except GenerationEnvironmentError as error:
            status.environment = f"Error: {error}"
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        status.environment = report.summary()
        self.report({"INFO"} if report.can_generate else {"WARNING"}, report.summary())
        return {"FINISHED"}
