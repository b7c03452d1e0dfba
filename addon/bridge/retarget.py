"""Retargeting in Blender: read rigs once as numpy, write the results as new actions in bulk.

Nothing here edits a target's rest pose, bone rolls, rotation modes or object transform:
keys go into a new action (the previous one is stashed on the NLA, see :mod:`.actions`),
each bone keyed in its own rotation mode. A linked (library) rig gets a library override
first, because linked data cannot be animated; its armature data stays linked.
"""

from __future__ import annotations

import json

import bpy
import numpy as np

from ..core.retarget.api import RetargetResult
from ..core.retarget.mapping_file import mapping_to_json
from ..core.retarget.rig import ROTATION_MODES, SourceMotion, TargetRig
from ..core.skeleton import JOINT_NAMES
from .actions import Channel, action_frames, write_action
from .people import rest_joints_of, smpl_local_rotations


def _matrix_world(obj: bpy.types.Object) -> np.ndarray:
    return np.array([list(row) for row in obj.matrix_world], dtype=np.float64)


def is_smpl_rig(obj) -> bool:
    """An armature with a bone for every SMPL joint (what this extension builds per person)."""
    if obj is None or obj.type != "ARMATURE":
        return False
    bones = obj.data.bones
    return all(bones.get(name) is not None for name in JOINT_NAMES)


def find_armature(name: str, role: str) -> bpy.types.Object:
    """The armature object called ``name``; ValueError naming it and its ``role`` otherwise."""
    obj = bpy.data.objects.get(name)
    if obj is None:
        raise ValueError(f"{role}: no object named {name!r}")
    if obj.type != "ARMATURE":
        raise ValueError(f"{role}: object {name!r} is a {obj.type.lower()}, not an armature")
    return obj


def read_source(obj: bpy.types.Object) -> SourceMotion:
    """The SMPL motion keyed on ``obj`` (its active action; ValueError if it has none)."""
    if not is_smpl_rig(obj):
        raise ValueError(f"source {obj.name!r} is not an SMPL rig (it needs bones named {', '.join(JOINT_NAMES[:4])} ...)")
    local, transl = smpl_local_rotations(obj)
    action = obj.animation_data.action
    fps = float(action.get("isynth_fps", 0.0)) or bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    frames = action_frames(obj)
    return SourceMotion(
        name=obj.name,
        local_rotations=local,
        transl=transl,
        rest_joints_y=rest_joints_of(obj),
        fps=fps,
        frame_start=float(frames[0]) if len(frames) else 1.0,
        object_matrix=_matrix_world(obj),
    )


def read_target(obj: bpy.types.Object, with_pose: bool = False) -> TargetRig:
    """The target's rest data (and, ``with_pose``, its current pose as the match pose)."""
    bones = obj.data.bones
    B = len(bones)
    if B == 0:
        raise ValueError(f"target {obj.name!r}: the armature has no bones")
    names = tuple(bone.name for bone in bones)
    parents = tuple(bones.find(bone.parent.name) if bone.parent else -1 for bone in bones)
    flat = np.empty(B * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", flat)
    # foreach_get gives each 4x4 column-major (RNA's layout): transpose to rows.
    rest = flat.reshape(B, 4, 4).transpose(0, 2, 1).astype(np.float64)
    tails = np.empty(B * 3, dtype=np.float32)
    bones.foreach_get("tail_local", tails)
    connected = np.zeros(B, dtype=bool)
    bones.foreach_get("use_connect", connected)
    pose_bones = [obj.pose.bones[name] for name in names]
    modes = tuple(pb.rotation_mode if pb.rotation_mode in ROTATION_MODES else "QUATERNION" for pb in pose_bones)
    pose = None
    if with_pose:
        pose = np.array([[list(row) for row in pb.matrix] for pb in pose_bones], dtype=np.float64)
    return TargetRig(
        name=obj.name,
        bone_names=names,
        parents=parents,
        rest_matrices=rest,
        tails=tails.reshape(B, 3).astype(np.float64),
        object_matrix=_matrix_world(obj),
        rotation_modes=modes,
        connected=tuple(bool(c) for c in connected),
        pose_matrices=pose,
    )


def writable(obj: bpy.types.Object) -> bpy.types.Object:
    """``obj``, or for a linked rig a library override of it that can be animated."""
    if obj.library is None or obj.override_library is not None:
        return obj
    override = obj.override_create(remap_local_usages=True)
    if override is None:
        raise ValueError(f"target {obj.name!r} is linked from {obj.library.filepath!r} and cannot be overridden")
    return override


def write_result(obj: bpy.types.Object, result: RetargetResult) -> tuple[bpy.types.Object, bpy.types.Action]:
    """Key ``result`` on ``obj`` (or its override) as a new action; returns (keyed object, action)."""
    target = writable(obj)
    channels = [
        Channel(f'pose.bones["{bpy.utils.escape_identifier(c.bone)}"].{c.prop}', c.index, c.values, c.bone)
        for c in result.channels
    ]
    action = write_action(target, result.action_name, channels, result.frame_start)
    action["isynth_fps"] = float(result.fps)
    action["isynth_retarget_source"] = result.source
    action["isynth_retarget_score"] = json.dumps(result.score.as_dict())
    action["isynth_retarget_mapping"] = mapping_to_json(result.mapping)
    return target, action


def stored_score(obj) -> dict | None:
    """The score saved with the object's active action by :func:`write_result`, or None."""
    anim = getattr(obj, "animation_data", None)
    action = anim.action if anim else None
    text = action.get("isynth_retarget_score") if action else None
    return json.loads(text) if text else None
