"""Panels: draw() only."""

import bpy

from .generate import ISYNTH_PT_generate
from .interaction import ISYNTH_PT_interaction
from .retarget import ISYNTH_PT_retarget

# Parents before their sub-panels.
classes = (ISYNTH_PT_interaction, ISYNTH_PT_generate, ISYNTH_PT_retarget)
register, unregister = bpy.utils.register_classes_factory(classes)
