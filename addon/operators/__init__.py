"""Operators: read properties, build a frozen config, call one core.api function, hand arrays to bridge."""

import atexit

import bpy

from ..core import worker_service
from .add_demo_room import ISYNTH_OT_add_demo_room
from .check_environment import ISYNTH_OT_check_environment
from .export_smpl_motion import ISYNTH_OT_export_smpl_motion, menu_export
from .generate_interaction import (
    ISYNTH_OT_cancel_generation,
    ISYNTH_OT_generate_interaction,
    ISYNTH_OT_randomize_seed,
    stop_running_generation,
)
from .import_reconstruction import ISYNTH_OT_import_reconstruction
from .import_reconstruction import menu_import as menu_import_reconstruction
from .import_smpl_motion import ISYNTH_OT_import_smpl_motion, menu_import
from .reconstruct_and_import import ISYNTH_OT_reconstruct_and_import
from .retarget import classes as retarget_classes

classes = (
    ISYNTH_OT_add_demo_room,
    ISYNTH_OT_check_environment,
    ISYNTH_OT_import_smpl_motion,
    ISYNTH_OT_export_smpl_motion,
    ISYNTH_OT_import_reconstruction,
    ISYNTH_OT_reconstruct_and_import,
    ISYNTH_OT_generate_interaction,
    ISYNTH_OT_cancel_generation,
    ISYNTH_OT_randomize_seed,
    *retarget_classes,
)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)
# (menu, draw function) pairs appended on register and removed on unregister.
_MENU_ENTRIES = (
    (bpy.types.TOPBAR_MT_file_import, menu_import),
    (bpy.types.TOPBAR_MT_file_import, menu_import_reconstruction),
    (bpy.types.TOPBAR_MT_file_export, menu_export),
)


def register() -> None:
    atexit.register(worker_service.stop_worker)  # Blender quits: the warm worker goes too
    _register_classes()
    for menu, draw in _MENU_ENTRIES:
        menu.append(draw)


def unregister() -> None:
    # A running generation ends first (Blender frees its modal operator without cancel()),
    # then the warm worker goes with the extension.
    stop_running_generation()
    worker_service.stop_worker()
    atexit.unregister(worker_service.stop_worker)
    for menu, draw in reversed(_MENU_ENTRIES):
        menu.remove(draw)
    _unregister_classes()
