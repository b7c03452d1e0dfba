"""Window-manager state the panel shows (not saved in .blend files)."""

import bpy
from bpy.props import PointerProperty, StringProperty


class ISYNTH_PG_status(bpy.types.PropertyGroup):
    environment: StringProperty(
        name="Environment",
        description="What the last environment check found",
        default="",
    )


classes = (ISYNTH_PG_status,)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.WindowManager.isynth_status = PointerProperty(type=ISYNTH_PG_status)


def unregister() -> None:
    del bpy.types.WindowManager.isynth_status
    _unregister_classes()
