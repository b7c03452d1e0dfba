"""Operators: read properties, build a frozen config, call one core.api function, hand arrays to bridge."""

import bpy

from .add_demo_room import ISYNTH_OT_add_demo_room
from .check_environment import ISYNTH_OT_check_environment

classes = (ISYNTH_OT_add_demo_room, ISYNTH_OT_check_environment)
register, unregister = bpy.utils.register_classes_factory(classes)
