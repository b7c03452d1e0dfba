"""A bone mapping: which target bone plays which SMPL joint; duplicates and L/R mirroring.

SMPL joints are named as in :data:`..skeleton.JOINT_NAMES` ("pelvis", "left_hip" ...).
"Left" is always the character's own left (SMPL's, Blender's ``.L``, Unreal's ``_l``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..skeleton import JOINT_INDEX, JOINT_NAMES, MIRROR


class MappingError(ValueError):
    """A mapping names an unknown joint or bone, or gives one bone to two joints; the message
    names the mapping (file or preset) and the field."""


@dataclass(frozen=True)
class BoneMapping:
    """SMPL joint -> target bone name, as sorted (joint, bone) pairs in SMPL joint order.

    name: where the mapping came from ("auto: mixamo", a preset name, a file path), for messages.
    Build one with :func:`mapping_from_dict`, which validates.
    """

    pairs: tuple[tuple[str, str], ...]
    name: str = ""

    def as_dict(self) -> dict[str, str]:
        return dict(self.pairs)

    def bone_of(self, joint: str) -> str | None:
        return self.as_dict().get(joint)

    @property
    def joints(self) -> tuple[str, ...]:
        return tuple(joint for joint, _ in self.pairs)


def mapping_from_dict(bones: dict, name: str = "") -> BoneMapping:
    """Validate and freeze {SMPL joint: target bone}. Empty bone names drop the joint.

    MappingError (naming ``name`` and the key) for unknown joints, non-string bones and
    bones given to two joints.
    """
    if not isinstance(bones, dict):
        raise MappingError(f"{name or 'mapping'}: expected an object of SMPL joint -> bone name")
    clean: dict[str, str] = {}
    for joint, bone in bones.items():
        if joint not in JOINT_INDEX:
            raise MappingError(
                f"{name or 'mapping'}: unknown SMPL joint {joint!r} (known: {', '.join(JOINT_NAMES)})"
            )
        if bone is None or bone == "":
            continue
        if not isinstance(bone, str):
            raise MappingError(f"{name or 'mapping'}: bone for {joint!r} must be a string, got {type(bone).__name__}")
        clean[joint] = bone
    duplicates = find_duplicates(clean)
    if duplicates:
        text = "; ".join(f"{bone!r} <- {', '.join(joints)}" for bone, joints in duplicates.items())
        raise MappingError(f"{name or 'mapping'}: one bone mapped to several SMPL joints: {text}")
    pairs = tuple(sorted(clean.items(), key=lambda item: JOINT_INDEX[item[0]]))
    return BoneMapping(pairs=pairs, name=name)


def find_duplicates(bones: dict[str, str]) -> dict[str, list[str]]:
    """{bone: [joints]} for every bone that more than one SMPL joint maps to."""
    by_bone: dict[str, list[str]] = {}
    for joint, bone in bones.items():
        by_bone.setdefault(bone, []).append(joint)
    return {bone: joints for bone, joints in by_bone.items() if len(joints) > 1}


def check_against_rig(mapping: BoneMapping, bone_names: tuple[str, ...], rig_name: str) -> None:
    """MappingError naming the mapping, the rig and the missing bones when any mapped bone is absent."""
    present = set(bone_names)
    missing = [f"{joint} -> {bone!r}" for joint, bone in mapping.pairs if bone not in present]
    if missing:
        raise MappingError(
            f"{mapping.name or 'mapping'}: armature {rig_name!r} has no bone(s) {', '.join(missing)}"
        )


# Side tokens as (left, right) regular expressions; the first that matches a name wins.
# Each pattern keeps the text around the token in groups so the other side can be put back.
_SIDE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^(.*)([._\- ])L((?:[._\- ]\d+)?)$", "R"),  # thigh.L, upper_arm.L.001, Foot_L
    (r"^(.*)([._\- ])l((?:[._\- ]\d+)?)$", "r"),  # thigh_l, upperarm_twist_01_l
    (r"^(.*)([._\- ])R((?:[._\- ]\d+)?)$", "L"),
    (r"^(.*)([._\- ])r((?:[._\- ]\d+)?)$", "l"),
)
_WORD_SWAPS = (("Left", "Right"), ("left", "right"), ("LEFT", "RIGHT"))
_PREFIX_SWAPS = (r"(^|[:_|])L_", r"(^|[:_|])R_", r"(^|[:_|])l_", r"(^|[:_|])r_")


def mirror_name(name: str) -> str | None:
    """The bone name for the other side (thigh.L <-> thigh.R, LeftArm <-> RightArm,
    thigh_l <-> thigh_r, J_Bip_L_Foot <-> J_Bip_R_Foot, L_Hip <-> R_Hip), or None for a
    name without a side."""
    for left, right in _WORD_SWAPS:
        if left in name:
            return name.replace(left, "\0").replace(right, left).replace("\0", right)
        if right in name:
            return name.replace(right, left)
    for pattern, other in _SIDE_PATTERNS:
        match = re.match(pattern, name)
        if match:
            return f"{match.group(1)}{match.group(2)}{other}{match.group(3)}"
    for pattern in _PREFIX_SWAPS:
        match = re.search(pattern, name)
        if match:
            side = name[match.end() - 2]
            swapped = {"L": "R", "R": "L", "l": "r", "r": "l"}[side]
            return name[: match.end() - 2] + swapped + name[match.end() - 1 :]
    return None


def mirrored(mapping: BoneMapping) -> BoneMapping:
    """Left and right exchanged: every SMPL joint gets the bone of its mirror joint (for a rig
    whose sides were named from the viewer's point of view, so its ".L" is the body's right)."""
    swapped = {JOINT_NAMES[MIRROR[JOINT_INDEX[joint]]]: bone for joint, bone in mapping.pairs}
    return mapping_from_dict(swapped, f"{mapping.name} (mirrored)")


def complete_by_mirror(mapping: BoneMapping, bone_names: tuple[str, ...]) -> BoneMapping:
    """Fill joints missing on one side from their mapped partner on the other side, where
    the mirrored bone name exists in ``bone_names``; existing entries are kept."""
    present = set(bone_names)
    bones = mapping.as_dict()
    used = set(bones.values())
    for joint, bone in mapping.pairs:
        partner = JOINT_NAMES[MIRROR[JOINT_INDEX[joint]]]
        if partner == joint or partner in bones:
            continue
        other = mirror_name(bone)
        if other and other in present and other not in used:
            bones[partner] = other
            used.add(other)
    return mapping_from_dict(bones, mapping.name)
