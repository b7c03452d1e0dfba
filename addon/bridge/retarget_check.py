"""Checking a retarget in Blender itself: bone directions of the evaluated pose at a few frames.

The core score is computed from the solve's own forward kinematics; this reads what
Blender actually shows (after constraints, drivers and anything else on the rig), so a
control rig whose constraints fight the keys shows up here.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..core.retarget.api import RetargetResult
from ..core.retarget.rotmath import angle_between_deg


def evaluated_direction_errors(obj: bpy.types.Object, result: RetargetResult, samples: int = 8) -> np.ndarray:
    """(F, M) degrees at ``samples`` frames spread over the clip, for ``result.plan.measured_joints``.

    Target direction: each mapped bone's reference direction (towards the next mapped bone,
    else its children; :mod:`..core.retarget.plan`) turned by the bone's evaluated pose
    rotation, in world space; source: the SMPL segment. The scene's frame is restored.
    """
    plan, smpl, rest = result.plan, result.smpl, result.rest
    joints = plan.measured_joints
    bones = plan.bone_of_joint[joints]
    # The reference direction in each bone's own rest frame (world rest frame = R_obj @ matrix_local).
    local_axis = np.einsum("mji,mj->mi", rest.rotations[bones], plan.target_axis[joints])
    names = [result.rig.bone_names[b] for b in bones]
    pose_bones = [obj.pose.bones[name] for name in names]
    scene = bpy.context.scene
    current = scene.frame_current, scene.frame_subframe
    frames = np.unique(np.linspace(0, smpl.num_frames - 1, min(samples, smpl.num_frames)).round().astype(int))
    R = rest.object_rotation
    errors = []
    try:
        for t in frames:
            scene.frame_set(int(round(result.frame_start)) + int(t))
            posed = np.array([[list(row)[:3] for row in list(pb.matrix)[:3]] for pb in pose_bones], dtype=np.float64)
            posed = posed / np.linalg.norm(posed, axis=1, keepdims=True)  # drop any pose scale
            target = np.einsum("ij,mjk,mk->mi", R, posed, local_axis)
            source = smpl.joints[t, plan.reference_child[joints]] - smpl.joints[t, joints]
            errors.append(angle_between_deg(target, source))
    finally:
        scene.frame_set(current[0], subframe=current[1])
    return np.array(errors)
