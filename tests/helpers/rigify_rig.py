"""A generated Rigify rig, as artists make them: Blender's Human meta-rig through Rigify."""

from __future__ import annotations


def generate_rigify(name: str = "rig"):
    """Generate the Human meta-rig into a Rigify rig called ``name`` in the current file and
    delete the meta-rig; returns the rig. Rigify is enabled only while generating."""
    import addon_utils
    import bpy

    addon_utils.enable("rigify", default_set=True)
    try:
        assert bpy.ops.object.armature_human_metarig_add() == {"FINISHED"}
        meta = bpy.context.view_layer.objects.active
        assert bpy.ops.pose.rigify_generate() == {"FINISHED"}
        rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o != meta)
        rig.name = name
        bpy.data.objects.remove(meta)
    finally:
        addon_utils.disable("rigify", default_set=True)
    return rig
