"""SMPL people in Blender: an armature (+ skinned body) per person, Motion <-> actions."""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.axes import Y_UP_TO_Z_UP
from ..core.rig_pose import bone_channels_from_smpl, pose_corrective_weights, rig_rest, smpl_from_bone_channels
from ..core.rotations import matrix_to_axis_angle
from ..core.skeleton import JOINT_NAMES, NUM_JOINTS
from .actions import Channel, action_frames, read_action, write_action
from .armatures import bone_rest_rotations, build_armature
from .bodies import add_pose_corrective_keys, add_shape_keys, build_skinned_body

ROOT_BONE = JOINT_NAMES[0]


@dataclass
class Person:
    """What :func:`create_person` made: the armature and its skinned body (or None)."""

    armature: bpy.types.Object
    body: bpy.types.Object | None


def create_person(
    collection: bpy.types.Collection,
    name: str,
    rest_joints_y: np.ndarray,
    *,
    vertices_y: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    shape_directions_y: np.ndarray | None = None,
    shape_names: list[str] | None = None,
    betas: np.ndarray | None = None,
    posedirs_y: np.ndarray | None = None,
    metadata: dict | None = None,
) -> Person:
    """An SMPL armature for ``rest_joints_y`` (24, 3) (template frame, Y-up) and,
    when ``vertices_y`` (V, 3) / ``faces`` (F, 3) / ``weights`` (V, 24) are given, a
    skinned body; ``shape_directions_y`` (V, 3, S) become shape keys valued ``betas``.

    The body's rest mesh is the template (betas zero) so the shape keys carry the
    shape; the armature's joints are those of ``betas``. ``posedirs_y`` (V, 3, P)
    adds pose-corrective shape keys (keyed by :func:`apply_pose_correctives`). ``metadata`` is stored as
    ``isynth_*`` custom properties on the armature (kind, gender, role, betas).
    """
    armature = build_armature(name, rig_rest(rest_joints_y), collection)
    for key, value in (metadata or {}).items():
        armature[f"isynth_{key}"] = value
    body = None
    if vertices_y is not None:
        to_z = Y_UP_TO_Z_UP.T
        body = build_skinned_body(
            f"{name} Body", vertices_y @ to_z, faces, armature, JOINT_NAMES, weights[:, :NUM_JOINTS], collection
        )
        if shape_directions_y is not None and shape_names:
            directions = np.einsum("vcs,dc->vds", shape_directions_y, Y_UP_TO_Z_UP)
            add_shape_keys(body, vertices_y @ to_z, directions, shape_names, np.asarray(betas if betas is not None else []))
        if posedirs_y is not None:
            add_pose_corrective_keys(body, vertices_y @ to_z, np.einsum("vcs,dc->vds", posedirs_y, Y_UP_TO_Z_UP))
    return Person(armature=armature, body=body)


def rest_joints_of(armature: bpy.types.Object) -> np.ndarray:
    """(24, 3) SMPL rest joints (template frame, Y-up) read back from the bones' heads."""
    bones = armature.data.bones
    heads = np.empty(len(bones) * 3, dtype=np.float32)
    bones.foreach_get("head_local", heads)
    heads = heads.reshape(-1, 3).astype(np.float64)
    order = [bones.find(n) for n in JOINT_NAMES]
    return heads[order] @ Y_UP_TO_Z_UP  # inverse of C: rows times C


def motion_channels(armature: bpy.types.Object, local_rotations: np.ndarray, transl: np.ndarray) -> list[Channel]:
    """The 24 quaternion channels and the root location for SMPL poses (see core.rig_pose)."""
    quaternions, location = bone_channels_from_smpl(
        local_rotations, transl, rest_joints_of(armature), bone_rest_rotations(armature, JOINT_NAMES)
    )
    channels = [
        Channel(f'pose.bones["{ROOT_BONE}"].location', i, location[:, i], ROOT_BONE) for i in range(3)
    ]
    for j, bone in enumerate(JOINT_NAMES):
        path = f'pose.bones["{bone}"].rotation_quaternion'
        channels += [Channel(path, i, quaternions[:, j, i], bone) for i in range(4)]
    return channels


def apply_smpl_poses(
    armature: bpy.types.Object,
    local_rotations: np.ndarray,
    transl: np.ndarray,
    action_name: str,
    fps: float,
    frame_start: float = 1.0,
) -> bpy.types.Action:
    """Key SMPL poses (T, 24, 3, 3) and ``transl`` (T, 3) on ``armature`` as a new action."""
    action = write_action(armature, action_name, motion_channels(armature, local_rotations, transl), frame_start)
    action["isynth_fps"] = float(fps)
    return action


def smpl_local_rotations(armature: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    """The active action as SMPL local rotations (T, 24, 3, 3) and transl (T, 3), straight from the
    keyed channels (the inverse of :func:`motion_channels`). ValueError when nothing is keyed."""
    curves = read_action(armature)
    if not curves:
        raise ValueError(f"armature {armature.name!r} has no animation to read")
    count = len(action_frames(armature))
    quaternions = np.tile(np.array([1.0, 0.0, 0.0, 0.0]), (count, NUM_JOINTS, 1))
    for j, bone in enumerate(JOINT_NAMES):
        for i in range(4):
            values = curves.get((f'pose.bones["{bone}"].rotation_quaternion', i))
            if values is not None:
                quaternions[:, j, i] = values
    location = np.zeros((count, 3))
    for i in range(3):
        values = curves.get((f'pose.bones["{ROOT_BONE}"].location', i))
        if values is not None:
            location[:, i] = values
    return smpl_from_bone_channels(quaternions, location, rest_joints_of(armature),
                                   bone_rest_rotations(armature, JOINT_NAMES))


def read_smpl_poses(armature: bpy.types.Object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The armature's active action as SMPL: (global_orient (T, 3), body_pose (T, 23, 3), transl (T, 3))."""
    local, transl = smpl_local_rotations(armature)
    axis_angle = matrix_to_axis_angle(local)
    return axis_angle[:, 0], axis_angle[:, 1:], transl


def apply_pose_correctives(
    body: bpy.types.Object, local_rotations: np.ndarray, action_name: str, frame_start: float = 1.0
) -> bpy.types.Action:
    """Key the body's pose-corrective shape keys for SMPL poses (T, 24, 3, 3) as a new Key action."""
    from .bodies import POSE_KEY_PREFIX

    weights = pose_corrective_weights(local_rotations)
    channels = [
        Channel(f'key_blocks["{POSE_KEY_PREFIX}{p:03d}"].value', 0, weights[:, p], "Pose Correctives")
        for p in range(weights.shape[1])
    ]
    return write_action(body.data.shape_keys, action_name, channels, frame_start)


def create_person_from_build(
    collection: bpy.types.Collection,
    build,
    fps: float,
    frame_start: float,
    action_name: str,
    extra_metadata: dict | None = None,
) -> Person:
    """One person from a core ``PersonBuild``: rig (+ body, shape keys), its motion keyed as
    ``action_name`` and, when the build carries pose correctives, their shape-key action."""
    person = create_person(
        collection,
        build.name,
        build.rest_joints_y,
        vertices_y=build.vertices_y,
        faces=build.faces,
        weights=build.weights,
        shape_directions_y=build.shape_directions_y,
        shape_names=build.shape_names,
        betas=build.betas,
        posedirs_y=build.posedirs_y,
        metadata={**build.metadata, **(extra_metadata or {})},
    )
    local_rotations = build.motion.local_rotations()
    apply_smpl_poses(person.armature, local_rotations, build.motion.transl, action_name, fps, frame_start)
    if person.body is not None and build.posedirs_y is not None:
        apply_pose_correctives(person.body, local_rotations, f"{build.name} correctives", frame_start)
    return person
