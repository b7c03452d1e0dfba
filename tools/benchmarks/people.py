"""Keyframing SMPL rigs in bulk vs keyframe_insert, and importing a long AMASS file."""

import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from addon.bridge import people
from addon.bridge.armatures import bone_rest_rotations
from addon.core.motion.amass import write_amass_npz
from addon.core.motion.motion import Motion
from addon.core.rig_pose import bone_channels_from_smpl
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import JOINT_NAMES

from . import repeat


def _rigs(count: int, rest_joints: np.ndarray) -> list:
    collection = bpy.data.collections.new("Bench People")
    bpy.context.scene.collection.children.link(collection)
    return [people.create_person(collection, f"Bench {i}", rest_joints).armature for i in range(count)]


def keyframing(rest_joints: np.ndarray, frames: int = 3000, rigs: int = 2) -> list[dict]:
    """The same poses keyed both ways on the same rigs, side by side."""
    rng = np.random.default_rng(0)
    armatures = _rigs(rigs, rest_joints)
    poses = [axis_angle_to_matrix(rng.normal(scale=0.5, size=(frames, 24, 3))) for _ in armatures]
    transls = [rng.normal(size=(frames, 3)) for _ in armatures]
    started = time.perf_counter()
    for armature, local, transl in zip(armatures, poses, transls):
        people.apply_smpl_poses(armature, local, transl, "bulk", fps=30.0)
    bulk = time.perf_counter() - started
    # The anchors' way: set each pose bone and call keyframe_insert, frame by frame.
    started = time.perf_counter()
    for armature, local, transl in zip(armatures, poses, transls):
        armature.animation_data.action = None
        quats, location = bone_channels_from_smpl(
            local, transl, people.rest_joints_of(armature), bone_rest_rotations(armature, JOINT_NAMES)
        )
        bones = [armature.pose.bones[name] for name in JOINT_NAMES]
        for t in range(frames):
            bones[0].location = location[t]
            bones[0].keyframe_insert("location", frame=t + 1)
            for j, bone in enumerate(bones):
                bone.rotation_quaternion = quats[t, j]
                bone.keyframe_insert("rotation_quaternion", frame=t + 1)
    per_key = time.perf_counter() - started
    label = f"{rigs} rigs x {frames} frames"
    return [
        {"name": f"keyframe {label}: bulk foreach_set", "samples_s": [bulk]},
        {"name": f"keyframe {label}: keyframe_insert", "samples_s": [per_key], "bulk_speedup": round(per_key / bulk, 1)},
    ]


def import_amass(frames: int = 3000) -> dict:
    """isynth.import_smpl_motion of one AMASS file (rig + skinned stand-in body)."""
    rng = np.random.default_rng(1)
    motion = Motion(
        np.tile([np.pi / 2, 0, 0], (frames, 1)), rng.normal(scale=0.3, size=(frames, 23, 3)),
        np.cumsum(rng.normal(scale=0.01, size=(frames, 3)), axis=0), np.zeros(16), 30.0,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.npz"
        write_amass_npz(path, motion)
        bpy.context.scene.render.fps = 30
        samples = repeat(lambda: bpy.ops.isynth.import_smpl_motion(filepath=str(path)), 3)
    return {"name": f"isynth.import_smpl_motion {frames} frames (rig + body)", "samples_s": samples}


def run(context: dict) -> list[dict]:
    from addon.core.body.model import load_body_model

    rest = load_body_model(None).rest_joints()
    return [import_amass(), *keyframing(rest)]
