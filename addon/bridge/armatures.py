"""SMPL armatures: bones named after SMPL joints, built from core's rest bones."""

import bpy
import numpy as np

from ..core.rig_pose import RigRest
from ..core.skeleton import PARENTS


def build_armature(name: str, rest: RigRest, collection: bpy.types.Collection) -> bpy.types.Object:
    """An armature object at the world origin with one bone per SMPL joint.

    Heads and tails come from ``rest`` (armature space = world, metres, Z up);
    rolls align each bone's local Z with ``rest.roll_axes``. Pose bones use
    quaternion rotation (SMPL data is never keyed as Euler).
    """
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    # Bones can only be created in edit mode, which needs the armature active
    # (this works in background mode too). The previous active object is restored.
    view_layer = bpy.context.view_layer
    previous = view_layer.objects.active
    if bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        created = []
        for j, bone_name in enumerate(rest.names):
            bone = data.edit_bones.new(bone_name)
            bone.head = rest.heads[j].tolist()
            bone.tail = rest.tails[j].tolist()
            bone.align_roll(rest.roll_axes[j].tolist())
            created.append(bone)
        for j, parent in enumerate(PARENTS):
            if parent >= 0:
                created[j].parent = created[parent]
                created[j].use_connect = False
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    data.display_type = "STICK"
    return obj


def bone_rest_rotations(obj: bpy.types.Object, names: tuple[str, ...]) -> np.ndarray:
    """(J, 3, 3) rest rotations of the named bones in armature space (``bone.matrix_local``)."""
    bones = obj.data.bones
    flat = np.empty(len(bones) * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", flat)
    # foreach_get gives each 4x4 column-major (RNA's layout): transpose to rows.
    matrices = flat.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
    order = [bones.find(name) for name in names]
    if min(order) < 0:
        missing = [n for n, i in zip(names, order) if i < 0]
        raise ValueError(f"armature {obj.name!r} lacks bones {missing}")
    rotations = matrices[order, :3, :3]
    # matrix_local is orthonormal up to float32 rounding; re-orthonormalise for exact inverses.
    u, _, vt = np.linalg.svd(rotations)
    return u @ vt
