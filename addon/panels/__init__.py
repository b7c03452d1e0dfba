"""Panels: draw() only."""

import bpy

from .interaction import ISYNTH_PT_interaction

classes = (ISYNTH_PT_interaction,)
register, unregister = bpy.utils.register_classes_factory(classes)
