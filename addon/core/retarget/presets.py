"""Bone-mapping presets for common humanoid rigs (SMPL joint -> bone name).

Mixamo names are stored without their namespace ("mixamorig:", "mixamorig1:", ...):
:func:`.autodetect.strip_namespace` removes it from the rig's names before matching.
SMPL's hand joints (left_hand, right_hand) have no counterpart in these rigs and stay
unmapped; a target hand bone follows the SMPL wrist.
"""

from __future__ import annotations

from ..skeleton import JOINT_NAMES

_SIDES = (("left", "L"), ("right", "R"))


def _limbs(spec: dict[str, str], side_format) -> dict[str, str]:
    """Both sides of ``spec`` {SMPL joint without side: bone stem}; ``side_format(stem, 'L'/'R')``."""
    out = {}
    for side, letter in _SIDES:
        for joint, stem in spec.items():
            out[f"{side}_{joint}"] = side_format(stem, letter)
    return out


_MIXAMO = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    **_limbs(
        {"hip": "UpLeg", "knee": "Leg", "ankle": "Foot", "foot": "ToeBase",
         "collar": "Shoulder", "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand"},
        lambda stem, s: ("Left" if s == "L" else "Right") + stem,
    ),
}

# CMU's BVH files (and many BVH exports): LowerBack / Spine / Spine1 above the hips.
_CMU_BVH = {**_MIXAMO, "spine1": "LowerBack", "spine2": "Spine", "spine3": "Spine1"}

_RIGIFY_LIMBS = {"hip": "thigh", "knee": "shin", "ankle": "foot", "foot": "toe",
                 "collar": "shoulder", "shoulder": "upper_arm", "elbow": "forearm", "wrist": "hand"}
_RIGIFY_SPINE = {"pelvis": "spine", "spine1": "spine.001", "spine2": "spine.002", "spine3": "spine.003",
                 "neck": "spine.004", "head": "spine.006"}

# Blender's Human meta-rig (Add > Armature > Human) and a generated Rigify rig's DEF bones.
_RIGIFY_METARIG = {**_RIGIFY_SPINE, **_limbs(_RIGIFY_LIMBS, lambda stem, s: f"{stem}.{s}")}
_RIGIFY_DEFORM = {joint: f"DEF-{bone}" for joint, bone in _RIGIFY_METARIG.items()}
# A generated Rigify rig's FK controls (set the limbs' IK/FK switches to FK).
_RIGIFY_CONTROLS = {
    "pelvis": "torso", "spine1": "spine_fk.001", "spine2": "spine_fk.002", "spine3": "spine_fk.003",
    "neck": "neck", "head": "head",
    **_limbs({"hip": "thigh_fk", "knee": "shin_fk", "ankle": "foot_fk", "foot": "toe_fk",
              "collar": "shoulder", "shoulder": "upper_arm_fk", "elbow": "forearm_fk", "wrist": "hand_fk"},
             lambda stem, s: f"{stem}.{s}"),
}

_UNREAL_LIMBS = _limbs(
    {"hip": "thigh", "knee": "calf", "ankle": "foot", "foot": "ball",
     "collar": "clavicle", "shoulder": "upperarm", "elbow": "lowerarm", "wrist": "hand"},
    lambda stem, s: f"{stem}_{s.lower()}",
)
# UE4 mannequin: three spine bones; UE5 (Manny/Quinn): five spine bones and two neck bones.
_UNREAL_UE4 = {"pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_02", "spine3": "spine_03",
               "neck": "neck_01", "head": "head", **_UNREAL_LIMBS}
_UNREAL_UE5 = {**_UNREAL_UE4, "spine2": "spine_03", "spine3": "spine_05"}

# VRoid Studio exports (VRM 0.x/1.0 files keep these node names).
_VROID = {
    "pelvis": "J_Bip_C_Hips", "spine1": "J_Bip_C_Spine", "spine2": "J_Bip_C_Chest",
    "spine3": "J_Bip_C_UpperChest", "neck": "J_Bip_C_Neck", "head": "J_Bip_C_Head",
    **_limbs({"hip": "UpperLeg", "knee": "LowerLeg", "ankle": "Foot", "foot": "ToeBase",
              "collar": "Shoulder", "shoulder": "UpperArm", "elbow": "LowerArm", "wrist": "Hand"},
             lambda stem, s: f"J_Bip_{s}_{stem}"),
}
# VRM humanoid bone names (what VRM tools call the bones when they rename them).
_VRM_HUMANOID = {
    "pelvis": "hips", "spine1": "spine", "spine2": "chest", "spine3": "upperChest", "neck": "neck", "head": "head",
    **_limbs({"hip": "UpperLeg", "knee": "LowerLeg", "ankle": "Foot", "foot": "Toes",
              "collar": "Shoulder", "shoulder": "UpperArm", "elbow": "LowerArm", "wrist": "Hand"},
             lambda stem, s: ("left" if s == "L" else "right") + stem),
}

_SMPL = {name: name for name in JOINT_NAMES}

PRESETS: dict[str, dict[str, str]] = {
    "mixamo": _MIXAMO,
    "rigify_deform": _RIGIFY_DEFORM,
    "rigify_controls": _RIGIFY_CONTROLS,
    "blender_metarig": _RIGIFY_METARIG,
    "unreal_ue5": _UNREAL_UE5,
    "unreal_ue4": _UNREAL_UE4,
    "vroid": _VROID,
    "vrm_humanoid": _VRM_HUMANOID,
    "cmu_bvh": _CMU_BVH,
    "smpl": _SMPL,
}
PRESET_LABELS: dict[str, str] = {
    "mixamo": "Mixamo (mixamorig:*)",
    "rigify_deform": "Rigify deform (DEF-*)",
    "rigify_controls": "Rigify controls (FK)",
    "blender_metarig": "Blender Human meta-rig",
    "unreal_ue5": "Unreal mannequin (UE5)",
    "unreal_ue4": "Unreal mannequin (UE4)",
    "vroid": "VRoid / VRM (J_Bip_*)",
    "vrm_humanoid": "VRM humanoid names",
    "cmu_bvh": "CMU / BVH (Hips, LeftUpLeg ...)",
    "smpl": "SMPL joint names",
}
assert set(PRESET_LABELS) == set(PRESETS)
