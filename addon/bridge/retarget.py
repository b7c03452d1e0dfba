"""Retargeting in Blender: read rigs once as numpy, write the results as new actions in bulk.

Nothing here edits a target's rest pose, bone rolls, rotation modes or object transform:
keys go into a new action (the previous one is stashed on the NLA, see :mod:`.actions`),
each bone keyed in its own rotation mode. A linked (library) rig gets a library override
first, because linked data cannot be animated: a hierarchy override, so the meshes it
deforms are overridden with it and follow the override (an override of the armature alone
leaves a linked mesh's Armature modifier on the linked, unanimated armature). The operator
makes every override (:func:`writable`) before it writes anything.
"""

from __future__ import annotations

import json

import bpy
import numpy as np

from ..core.retarget.api import RetargetResult
from ..core.retarget.mapping_file import mapping_to_json
from ..core.retarget.rig import ROTATION_MODES, SourceMotion, TargetRig
from ..core.retarget.switches import FK_SWITCH_PROPERTY
from ..core.skeleton import JOINT_NAMES
from .actions import Channel, action_frames, write_action
from .people import rest_joints_of, smpl_local_rotations


def _matrix_world(obj: bpy.types.Object) -> np.ndarray:
    """The object's world matrix as shown: through the collection instance that shows a
    linked object which is not in the scene itself."""
    matrix = np.array([list(row) for row in obj.matrix_world], dtype=np.float64)
    instancer = _instancer(obj)
    if instancer is None:
        return matrix
    offset = np.eye(4)
    offset[:3, 3] = -np.array(instancer.instance_collection.instance_offset)
    return np.array([list(row) for row in instancer.matrix_world], dtype=np.float64) @ offset @ matrix


def _instancer(obj: bpy.types.Object):
    """The scene's empty that instances a linked collection holding ``obj``, when ``obj``
    itself is not in the scene (None otherwise)."""
    scene = bpy.context.scene
    if obj.library is None or any(o == obj for o in scene.objects):
        return None
    for candidate in scene.objects:
        collection = candidate.instance_collection if candidate.instance_type == "COLLECTION" else None
        if collection is not None and any(o == obj for o in collection.all_objects):
            return candidate
    return None


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
    switches = tuple(pb.name for pb in obj.pose.bones if pb.get(FK_SWITCH_PROPERTY) is not None)
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
        fk_switches=switches,
    )


def writable(obj: bpy.types.Object) -> bpy.types.Object:
    """``obj``, or for a linked rig a library override of it that can be animated.

    A hierarchy override (:meth:`bpy.types.ID.override_hierarchy_create`) from the linked
    collection that shows the rig (instanced by an empty, or linked into the scene), else
    from the rig itself: the meshes it deforms get overrides pointing at the overridden
    armature. The override replaces the linked data in the scene (linked copies are unlinked
    from the scene's collections, an instancing empty is removed), keeping where the rig
    stood, and the rig's own override is made user-editable (a hierarchy makes system
    overrides, greyed out in the UI). ValueError naming the rig when Blender refuses the
    override (nothing has changed then).
    """
    if obj.library is None or obj.override_library is not None:
        return obj
    scene, view_layer = bpy.context.scene, bpy.context.view_layer
    instancer = _instancer(obj)
    shown = _matrix_world(obj)
    root, reference = _override_root(obj, scene, instancer)
    try:
        root.override_hierarchy_create(scene, view_layer, reference=reference)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"target {obj.name!r} is linked from {obj.library.filepath!r} and cannot be overridden "
                         f"({error})") from error
    override = next((o for o in scene.objects if o.override_library is not None
                     and o.override_library.reference == obj), None)
    if override is None:
        raise ValueError(f"target {obj.name!r} is linked from {obj.library.filepath!r} and cannot be overridden")
    _unlink_overridden(scene)
    if instancer is not None:
        # The instance placed the linked collection; the overridden copy must stand there too
        # (the retarget was computed for that placement).
        members = set(instancer.instance_collection.all_objects)
        for top in [o for o in scene.objects if o.override_library is not None and o.parent is None
                    and o.override_library.reference in members]:
            top.matrix_world = _to_matrix(_matrix_world(top.override_library.reference))
        for collection in list(instancer.users_collection):
            collection.objects.unlink(instancer)
    if not np.allclose(_matrix_world(override), shown, atol=1e-6):
        override.matrix_world = _to_matrix(shown)
    override.override_library.is_system_override = False
    return override


def _override_root(obj, scene, instancer):
    """(the ID to make the hierarchy override from, the instancing empty or None)."""
    if instancer is not None:
        return instancer.instance_collection, instancer
    for collection in scene.collection.children_recursive:
        if collection.library is not None and any(o == obj for o in collection.all_objects):
            return collection, None
    return obj, None


def _unlink_overridden(scene) -> None:
    """Unlink linked objects and collections from the scene's local collections that now also
    hold their override (a hierarchy override is added next to what it overrides)."""
    local = [scene.collection, *(c for c in scene.collection.children_recursive
                                 if c.library is None and c.override_library is None)]
    for collection in local:
        for members, items in ((collection.objects, list(collection.objects)),
                               (collection.children, list(collection.children))):
            overridden = {i.override_library.reference for i in items if i.override_library is not None}
            for item in items:
                if item.library is not None and item in overridden:
                    members.unlink(item)


def _to_matrix(array: np.ndarray):
    from mathutils import Matrix

    return Matrix(np.asarray(array).tolist())


def write_result(obj: bpy.types.Object, result: RetargetResult) -> tuple[bpy.types.Object, bpy.types.Action]:
    """Key ``result`` on ``obj`` (or its override) as a new action; returns (keyed object, action).

    The keyed bones' location (but the root's) and scale, which the action does not key, are
    reset to rest: the solve assumes them there."""
    target = writable(obj)
    channels = [Channel(bone_data_path(c.bone, c.prop), c.index, c.values, c.bone) for c in result.channels]
    action = write_action(target, result.action_name, channels, result.frame_start)
    _reset_unkeyed(target, result)
    action["isynth_fps"] = float(result.fps)
    action["isynth_retarget_source"] = result.source
    action["isynth_retarget_score"] = json.dumps(result.score.as_dict())
    action["isynth_retarget_mapping"] = mapping_to_json(result.mapping)
    return target, action


def bone_data_path(bone: str, prop: str) -> str:
    """``pose.bones["bone"].prop``, or ``pose.bones["bone"]["prop"]`` for a custom property."""
    owner = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]'
    return owner + prop if prop.startswith("[") else f"{owner}.{prop}"


def _reset_unkeyed(obj: bpy.types.Object, result: RetargetResult) -> None:
    keyed = {(c.bone, c.prop) for c in result.channels}
    for index in result.solution.keyed:
        name = result.rig.bone_names[index]
        pose_bone = obj.pose.bones[name]
        if (name, "location") not in keyed:
            pose_bone.location = (0.0, 0.0, 0.0)
        if (name, "scale") not in keyed:
            pose_bone.scale = (1.0, 1.0, 1.0)


def stored_score(obj) -> dict | None:
    """The score saved with the object's active action by :func:`write_result`, or None."""
    anim = getattr(obj, "animation_data", None)
    action = anim.action if anim else None
    text = action.get("isynth_retarget_score") if action else None
    return json.loads(text) if text else None
