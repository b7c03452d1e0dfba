"""``isynth.add_demo_room``: a procedural care room with its monitoring camera."""

import bpy
from bpy.props import BoolProperty, FloatProperty

from ..bridge.rooms import build_room_scene
from ..core import api
from ..core.room import RoomLayout


class ISYNTH_OT_add_demo_room(bpy.types.Operator):
    """Add a procedural care room (floor, walls, bed, chair, table) with a ceiling-corner camera"""

    bl_idname = "isynth.add_demo_room"
    bl_label = "Add Demo Room"
    bl_options = {"REGISTER", "UNDO"}

    width: FloatProperty(name="Width", default=4.5, min=1.5, max=30.0, unit="LENGTH")
    depth: FloatProperty(name="Depth", default=4.0, min=1.5, max=30.0, unit="LENGTH")
    height: FloatProperty(name="Height", default=2.6, min=1.5, max=10.0, unit="LENGTH")
    set_active_camera: BoolProperty(
        name="Make Active Camera",
        description="Make the room's monitoring camera the scene camera",
        default=True,
    )

    def execute(self, context):
        layout = RoomLayout(width=self.width, depth=self.depth, height=self.height)
        built = build_room_scene(context.scene, api.demo_room(layout))
        if self.set_active_camera:
            context.scene.camera = built.camera
        self.report({"INFO"}, f"Added '{built.collection.name}' with {len(built.objects)} meshes")
        return {"FINISHED"}
