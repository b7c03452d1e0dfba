"""Find the bone mapping of an unknown rig: presets first, then name synonyms and structure.

1. Every preset of :mod:`.presets` is matched against the rig's names with namespaces
   removed ("mixamorig1:LeftArm", "mixamorig1_LeftArm" -> "LeftArm", case-insensitive); the
   preset matching most joints wins when it matches at least :data:`MIN_PRESET_JOINTS`.
2. Joints still missing are found by synonyms: names are reduced to a side (left, right or
   none) and a stem ("J_Bip_L_UpperLeg" -> left, "upperleg"), and the stem is looked up in
   :data:`SYNONYMS`. Helper bones (IK, poles, twist, MCH-/ORG- ...) never match.
   "Shoulder" is ambiguous (Mixamo's collar, a BVH's upper arm): it ranks last for both.
3. Arms found by synonyms are checked by structure: the upper arm is the bone above the
   elbow's and the collar the sided bone above that (a BVH's LeftCollar -> LeftShoulder ->
   LeftElbow), none when the upper arm hangs from the spine.
4. The spine is found by structure: the chain of bones between the pelvis and the neck is
   spread over SMPL's spine1..spine3 (first, middle, last), whatever it is called.
"""

from __future__ import annotations

import re

from ..skeleton import JOINT_NAMES, NUM_BODY_JOINTS
from .mapping import BoneMapping, MappingError, mapping_from_dict
from .presets import PRESETS

MIN_PRESET_JOINTS = 10
# Rigify's DEF bones follow constraints in a generated rig: prefer its FK controls when present.
_PREFERRED_OVER = {"rigify_deform": "rigify_controls"}

SYNONYMS: dict[str, tuple[str, ...]] = {
    "pelvis": ("hips", "pelvis", "hip", "mavgpelvis"),
    "neck": ("neck", "neck01", "neck1", "neck0", "necklower"),
    "head": ("head",),
    "hip": ("upleg", "upperleg", "thigh", "legupper", "femur", "hip", "thighbone"),
    "knee": ("leg", "lowerleg", "calf", "shin", "knee", "leglower", "crus"),
    "ankle": ("foot", "ankle"),
    "foot": ("toebase", "toe", "toes", "ball", "toe0", "toes0", "football"),
    "collar": ("collar", "clavicle", "collarbone", "shoulder"),
    "shoulder": ("arm", "upperarm", "uparm", "armupper", "humerus", "shoulder"),
    "elbow": ("forearm", "lowerarm", "elbow", "armlower"),
    "wrist": ("hand", "wrist"),
}
_CENTRE = ("pelvis", "neck", "head")
_SPINE = ("spine1", "spine2", "spine3")
_HELPER = re.compile(
    r"(^|[^a-z])(mch|org|vis|wgt|ik|fk_?ik|pole|target|tgt|twist|roll|end|nub|tip|tweak|ctrl|helper|"
    r"socket|prop|weapon|attach|null|dummy|vb)([^a-z]|$)|_end$|end$|nub$|twist|roll",
    re.IGNORECASE,
)
_PREFIXES = re.compile(r"^(def|j_bip_[clr]|j_bip|bip0*1|bip|cc_base|valvebiped\.bip01|m_avg|sk)[-_. ]*", re.IGNORECASE)


_NAMESPACE_PREFIX = re.compile(r"^mixamorig\d*_", re.IGNORECASE)  # Mixamo's namespace after FBX name clean-ups


def strip_namespace(name: str) -> str:
    """The name after any namespace ("mixamorig:Hips", "mixamorig1_Hips", "Armature|Hips" -> "Hips")."""
    return _NAMESPACE_PREFIX.sub("", re.split(r"[:|]", name)[-1])


def resolve_names(mapping: BoneMapping, bone_names: tuple[str, ...]) -> BoneMapping:
    """``mapping`` with each bone the rig lacks replaced by the rig's bone of the same name
    without namespace, ignoring case ("mixamorig:Hips" -> "mixamorig1:Hips"); names that
    match nothing are kept (:func:`.mapping.check_against_rig` reports them)."""
    present = set(bone_names)
    table = _lookup(bone_names)
    bones = {joint: bone if bone in present else table.get(strip_namespace(bone).casefold(), bone)
             for joint, bone in mapping.pairs}
    return mapping_from_dict(bones, mapping.name)


def side_and_stem(name: str) -> tuple[str, str, bool]:
    """(side "left"/"right"/"", stem, is_segment) for a bone name.

    The stem is lower-case letters and digits without the side token; is_segment is True
    for numbered follow-up segments ("upper_arm.L.001"), which only twist with their chain.
    """
    raw = strip_namespace(name)
    for _ in range(2):  # "DEF-" then "J_Bip_"-like prefixes may stack
        raw = _PREFIXES.sub("", raw) if not re.match(r"^j_bip_[lr]_", raw, re.IGNORECASE) else raw
    side = ""
    segment = False
    patterns = (
        (r"^j_bip_([lr])_(.*)$", 1, 2, None),
        (r"^(.*?)[._\- ]([lr])(?:[._\- ](\d+))?$", 2, 1, 3),
        (r"^([lr])[._\- ](.*)$", 1, 2, None),
    )
    body = raw
    for pattern, side_group, body_group, index_group in patterns:
        match = re.match(pattern, raw, re.IGNORECASE)
        if match:
            side = "left" if match.group(side_group).lower() == "l" else "right"
            body = match.group(body_group)
            if index_group and match.group(index_group) and int(match.group(index_group)) > 0:
                segment = True
            break
    else:
        word = re.search(r"left|right", raw, re.IGNORECASE)
        if word:
            side = word.group(0).lower()
            body = raw[: word.start()] + raw[word.end() :]
    if not side and re.search(r"[._\- ]0*[1-9]\d*$", body) and not re.match(r"^(spine|neck)", body, re.I):
        segment = True
    stem = re.sub(r"[^a-z0-9]", "", body.lower())
    return side, stem, segment


def detect_mapping(bone_names: tuple[str, ...], parents: tuple[int, ...], rig_name: str) -> BoneMapping:
    """The mapping for a rig with these bones (``parents[i]`` is bone i's parent, -1 for none).

    MappingError naming the rig when not even the pelvis can be found.
    """
    preset_name, bones = _best_preset(bone_names)
    source = f"auto: {preset_name}" if preset_name else "auto: synonyms"
    found = _fill_by_synonyms(bones, bone_names, parents)
    bones = _arms_by_structure(found, set(found) - set(bones), bone_names, parents)
    if not all(j in bones for j in _SPINE):
        # A preset for a different spine length (UE4 names on a two-bone spine): use structure.
        bones = {j: b for j, b in bones.items() if j not in _SPINE}
    bones = _fill_spine_by_structure(bones, bone_names, parents)
    if "pelvis" not in bones:
        sample = ", ".join(repr(n) for n in bone_names[:12])
        raise MappingError(
            f"armature {rig_name!r}: no bone looks like the pelvis/hips (bones: {sample}{' ...' if len(bone_names) > 12 else ''}); "
            "choose a preset or load a mapping file"
        )
    return mapping_from_dict(bones, source)


def preset_for_rig(preset: str, bone_names: tuple[str, ...], rig_name: str) -> BoneMapping:
    """A named preset resolved against the rig's names (namespaces ignored); entries whose
    bone is absent are dropped, but the pelvis must be there (MappingError otherwise)."""
    if preset not in PRESETS:
        raise MappingError(f"unknown mapping preset {preset!r} (known: {', '.join(PRESETS)})")
    bones = _match_preset(PRESETS[preset], bone_names)
    if "pelvis" not in bones:
        raise MappingError(
            f"preset {preset!r}: armature {rig_name!r} has no bone {PRESETS[preset]['pelvis']!r} for the pelvis"
        )
    return mapping_from_dict(bones, preset)


def _lookup(bone_names: tuple[str, ...]) -> dict[str, str]:
    """casefolded name without namespace -> the rig's name (the first one wins)."""
    table: dict[str, str] = {}
    for name in bone_names:
        table.setdefault(strip_namespace(name).casefold(), name)
    return table


def _match_preset(preset: dict[str, str], bone_names: tuple[str, ...]) -> dict[str, str]:
    table = _lookup(bone_names)
    return {joint: table[bone.casefold()] for joint, bone in preset.items() if bone.casefold() in table}


def _best_preset(bone_names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    scored = [(len(m := _match_preset(bones, bone_names)), name, m) for name, bones in PRESETS.items()]
    best = max(scored, key=lambda item: item[0])  # max keeps the first of equals: PRESETS order
    count, name, matched = best
    preferred = _PREFERRED_OVER.get(name)
    if preferred:
        alternative = next(item for item in scored if item[1] == preferred)
        if alternative[0] >= MIN_PRESET_JOINTS:
            count, name, matched = alternative
    if count < MIN_PRESET_JOINTS:
        return "", {}
    return name, matched


def _depths(parents: tuple[int, ...]) -> list[int]:
    depth = [0] * len(parents)
    for i in range(len(parents)):
        d, p = 0, parents[i]
        while p >= 0 and d <= len(parents):
            d, p = d + 1, parents[p]
        depth[i] = d
    return depth


def _fill_by_synonyms(bones: dict[str, str], bone_names, parents) -> dict[str, str]:
    bones = dict(bones)
    used = set(bones.values())
    depth = _depths(parents)
    candidates: dict[str, list[tuple[int, int, str]]] = {}
    for index, name in enumerate(bone_names):
        if name in used or _HELPER.search(strip_namespace(name)):
            continue
        side, stem, segment = side_and_stem(name)
        if segment:
            continue
        for key, stems in SYNONYMS.items():
            if stem not in stems:
                continue
            if key in _CENTRE:
                if side:
                    continue
                joint = key
            else:
                if not side:
                    continue
                joint = f"{side}_{key}"
            # Rank: the synonym's place in its list, then the shallowest bone.
            candidates.setdefault(joint, []).append((stems.index(stem), depth[index], name))
    for joint, found in candidates.items():
        if joint in bones:
            continue
        for _, _, name in sorted(found):
            if name not in used:
                bones[joint] = name
                used.add(name)
                break
    return bones


def _arms_by_structure(bones: dict[str, str], by_synonym: set[str], bone_names, parents) -> dict[str, str]:
    """Per side, when the arm came from synonyms: the upper arm is the bone above the elbow's
    (skipping helper and segment bones), the collar the sided bone above it, if any."""
    index = {name: i for i, name in enumerate(bone_names)}
    bones = dict(bones)

    def above(bone: int) -> int:
        p = parents[bone]
        while p >= 0 and (_HELPER.search(strip_namespace(bone_names[p])) or side_and_stem(bone_names[p])[2]):
            p = parents[p]
        return p

    for side in ("left", "right"):
        collar, shoulder, elbow = (f"{side}_{k}" for k in ("collar", "shoulder", "elbow"))
        if elbow not in bones or not ({collar, shoulder, elbow} & by_synonym):
            continue
        upper = above(index[bones[elbow]])
        if upper < 0:
            continue
        owner = next((j for j, b in bones.items() if b == bone_names[upper]), None)
        if owner not in (None, collar, shoulder):
            continue  # the elbow hangs from something else: leave the names' answer
        top = above(upper)
        top_owner = next((j for j, b in bones.items() if b == bone_names[top]), None) if top >= 0 else None
        bones.pop(collar, None)
        bones[shoulder] = bone_names[upper]
        if top >= 0 and side_and_stem(bone_names[top])[0] == side and top_owner in (None, collar, shoulder):
            bones[collar] = bone_names[top]
    return bones


def _fill_spine_by_structure(bones: dict[str, str], bone_names, parents) -> dict[str, str]:
    """Spread spine1..spine3 over the bones between the pelvis and the neck (or head)."""
    if "pelvis" not in bones or all(j in bones for j in ("spine1", "spine2", "spine3")):
        return bones
    index = {name: i for i, name in enumerate(bone_names)}
    top_name = bones.get("neck") or bones.get("head")
    if top_name is None:
        return bones
    pelvis = index[bones["pelvis"]]
    chain = []
    p = parents[index[top_name]]
    while p >= 0 and p != pelvis:
        chain.append(p)
        p = parents[p]
    if p != pelvis or not chain:
        return bones
    chain.reverse()  # pelvis -> neck order
    used = set(bones.values())
    picks = {"spine1": chain[0]}
    if len(chain) >= 2:
        picks["spine3"] = chain[-1]
    if len(chain) >= 3:
        picks["spine2"] = chain[len(chain) // 2]
    bones = dict(bones)
    for joint, bone in picks.items():
        if joint not in bones and bone_names[bone] not in used:
            bones[joint] = bone_names[bone]
            used.add(bone_names[bone])
    return bones


def describe_missing(mapping: BoneMapping) -> list[str]:
    """SMPL body joints (the first 22) the mapping leaves out, for the report."""
    have = set(mapping.joints)
    return [name for name in JOINT_NAMES[:NUM_BODY_JOINTS] if name not in have]

