"""What a Generate Interaction click could add or change in the open Blender scene, for before/after checks."""

import bpy


def scene_state() -> dict:
    """Object, action and collection names, each object's NLA track names, the scene's fps and frame range."""
    scene = bpy.context.scene
    return {
        "objects": sorted(o.name for o in bpy.data.objects),
        "actions": sorted(a.name for a in bpy.data.actions),
        "collections": sorted(c.name for c in bpy.data.collections),
        "tracks": {o.name: [t.name for t in o.animation_data.nla_tracks] for o in bpy.data.objects
                   if o.animation_data},
        "fps": (scene.render.fps, scene.render.fps_base),
        "frames": (scene.frame_start, scene.frame_end),
    }
