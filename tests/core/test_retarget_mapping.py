"""Bone mappings: presets and auto-detection on real naming schemes, JSON files, duplicates, mirroring."""

import json
from dataclasses import replace

import pytest

from addon.core.body.model import load_body_model
from addon.core.retarget.api import RetargetConfig, resolve_mapping
from addon.core.retarget.autodetect import detect_mapping, preset_for_rig, resolve_names, side_and_stem, strip_namespace
from addon.core.retarget.mapping import (
    MappingError,
    check_against_rig,
    complete_by_mirror,
    find_duplicates,
    mapping_from_dict,
    mirror_name,
    mirrored,
)
from addon.core.retarget.mapping_file import load_mapping, mapping_to_json, save_mapping
from addon.core.retarget.presets import PRESETS
from helpers.avatar_rigs import avatar_spec

REST = load_body_model(None).rest_joints()


def names_and_parents(bones: dict[str, str | None]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """A rig from {bone: parent bone or None}."""
    names = tuple(bones)
    return names, tuple(-1 if parent is None else names.index(parent) for parent in bones.values())


@pytest.mark.parametrize(
    "scheme, options, preset",
    [
        ("mixamo", {}, "auto: mixamo"),
        ("rigify", {"twist_bones": True}, "auto: rigify_deform"),
        ("unreal", {"twist_bones": True, "spine_bones": 5}, "auto: unreal_ue5"),
        ("unreal", {"spine_bones": 3}, "auto: unreal_ue4"),
        ("unreal", {"spine_bones": 2}, "auto: unreal_ue4"),
    ],
)
def test_auto_detection_finds_every_body_joint_of_the_test_avatars(scheme, options, preset):
    spec = avatar_spec(scheme, REST, **options)
    mapping = detect_mapping(spec.names, spec.parents, "Avatar")
    assert mapping.name == preset
    assert mapping.as_dict() == spec.expected


def test_two_bone_spine_is_spread_by_structure_first_and_last():
    spec = avatar_spec("unreal", REST, spine_bones=2)
    bones = detect_mapping(spec.names, spec.parents, "Avatar").as_dict()
    assert bones["spine1"] == "spine_01" and bones["spine3"] == "spine_02" and "spine2" not in bones


def test_mixamo_namespace_variants_and_case_are_ignored():
    spec = avatar_spec("mixamo", REST)
    renamed = tuple(n.replace("mixamorig:", "mixamorig1:").replace("LeftArm", "leftarm") for n in spec.names)
    bones = detect_mapping(renamed, spec.parents, "Avatar").as_dict()
    assert bones["pelvis"] == "mixamorig1:Hips" and bones["left_shoulder"] == "mixamorig1:leftarm"
    assert len(bones) == 22


def test_rigify_controls_win_over_constrained_deform_bones():
    # A generated Rigify rig has both DEF- bones (constrained) and FK controls.
    controls = {name: None for name in PRESETS["rigify_controls"].values()}
    deform = {name: None for name in PRESETS["rigify_deform"].values()}
    names, parents = names_and_parents({**deform, **controls})
    mapping = detect_mapping(names, parents, "rig")
    assert mapping.name == "auto: rigify_controls"
    assert mapping.bone_of("left_elbow") == "forearm_fk.L"


@pytest.mark.parametrize("preset", ["vroid", "vrm_humanoid", "cmu_bvh", "blender_metarig", "smpl"])
def test_each_preset_is_recognised_from_its_own_names(preset):
    bones = PRESETS[preset]
    names, parents = names_and_parents({name: None for name in bones.values()})
    mapping = detect_mapping(names, parents, "rig")
    assert mapping.name == f"auto: {preset}"
    assert mapping.as_dict() == {j: b for j, b in bones.items() if j in mapping.as_dict()}
    assert len(mapping.pairs) >= 22


def test_synonyms_map_an_unknown_naming_scheme():
    rig = {
        "Bip01 Pelvis": None, "Bip01 Spine": "Bip01 Pelvis", "Bip01 Spine1": "Bip01 Spine",
        "Bip01 Neck": "Bip01 Spine1", "Bip01 Head": "Bip01 Neck",
        "Bip01 L Thigh": "Bip01 Pelvis", "Bip01 L Calf": "Bip01 L Thigh", "Bip01 L Foot": "Bip01 L Calf",
        "Bip01 L Toe0": "Bip01 L Foot", "Bip01 L Clavicle": "Bip01 Spine1", "Bip01 L UpperArm": "Bip01 L Clavicle",
        "Bip01 L Forearm": "Bip01 L UpperArm", "Bip01 L Hand": "Bip01 L Forearm",
        "Bip01 L ForeTwist": "Bip01 L Forearm", "Bip01 R Thigh": "Bip01 Pelvis", "Bip01 R Calf": "Bip01 R Thigh",
        "IK_target_L": None,
    }
    names, parents = names_and_parents(rig)
    bones = detect_mapping(names, parents, "biped").as_dict()
    assert bones["pelvis"] == "Bip01 Pelvis" and bones["left_hip"] == "Bip01 L Thigh"
    assert bones["left_knee"] == "Bip01 L Calf" and bones["left_foot"] == "Bip01 L Toe0"
    assert bones["left_collar"] == "Bip01 L Clavicle" and bones["left_shoulder"] == "Bip01 L UpperArm"
    assert bones["left_elbow"] == "Bip01 L Forearm" and bones["left_wrist"] == "Bip01 L Hand"
    assert bones["spine1"] == "Bip01 Spine" and bones["spine3"] == "Bip01 Spine1"
    assert "Bip01 L ForeTwist" not in bones.values() and "IK_target_L" not in bones.values()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("mixamorig:LeftUpLeg", ("left", "upleg", False)),
        ("DEF-upper_arm.L.001", ("left", "upperarm", True)),
        ("thigh_r", ("right", "thigh", False)),
        ("J_Bip_R_UpperLeg", ("right", "upperleg", False)),
        ("J_Bip_C_Hips", ("", "hips", False)),
        ("L_Hip", ("left", "hip", False)),
        ("spine_03", ("", "spine03", False)),
    ],
)
def test_side_and_stem(name, expected):
    assert side_and_stem(name) == expected


def test_no_pelvis_is_an_error_naming_the_rig():
    with pytest.raises(MappingError, match="'Cube rig'.*pelvis"):
        detect_mapping(("Bone", "Bone.001"), (-1, 0), "Cube rig")


def test_named_preset_on_the_wrong_rig_names_preset_rig_and_bone():
    spec = avatar_spec("mixamo", REST)
    with pytest.raises(MappingError, match="preset 'unreal_ue5'.*'Avatar'.*'pelvis'"):
        preset_for_rig("unreal_ue5", spec.names, "Avatar")
    with pytest.raises(MappingError, match="unknown mapping preset 'daz'"):
        preset_for_rig("daz", spec.names, "Avatar")


def test_duplicates_and_unknown_joints_are_errors_naming_the_field():
    with pytest.raises(MappingError, match=r"mine: one bone mapped to several SMPL joints: 'Hips' <- pelvis, spine1"):
        mapping_from_dict({"pelvis": "Hips", "spine1": "Hips"}, "mine")
    with pytest.raises(MappingError, match="mine: unknown SMPL joint 'left_tail'"):
        mapping_from_dict({"left_tail": "Tail"}, "mine")
    with pytest.raises(MappingError, match="bone for 'pelvis' must be a string"):
        mapping_from_dict({"pelvis": 3}, "mine")
    assert find_duplicates({"a": "x", "b": "x", "c": "y"}) == {"x": ["a", "b"]}


def test_mapping_naming_absent_bones_is_rejected_against_the_rig():
    mapping = mapping_from_dict({"pelvis": "Hips", "head": "Skull"}, "file.json")
    with pytest.raises(MappingError, match="file.json: armature 'Avatar' has no bone.*head -> 'Skull'"):
        check_against_rig(mapping, ("Hips", "Head"), "Avatar")


def test_json_round_trip(tmp_path):
    spec = avatar_spec("unreal", REST, twist_bones=True)
    mapping = detect_mapping(spec.names, spec.parents, "Avatar")
    path = save_mapping(tmp_path / "avatar.json", mapping)
    loaded = load_mapping(path)
    assert loaded.pairs == mapping.pairs
    assert json.loads(path.read_text())["format"] == "isynth-bone-mapping"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", r"bad.json: not JSON \(line 1"),
        ('{"format": "other", "version": 1, "bones": {}}', "bad.json: field 'format'"),
        ('{"format": "isynth-bone-mapping", "version": 7, "bones": {"pelvis": "Hips"}}', "bad.json: field 'version'"),
        ('{"format": "isynth-bone-mapping", "version": 1, "bones": []}', "bad.json: field 'bones' must be"),
        ('{"format": "isynth-bone-mapping", "version": 1, "bones": {"pelvis": "Hips", "tail": "T"}}',
         "bad.json: field 'bones': unknown SMPL joint 'tail'"),
        ('{"format": "isynth-bone-mapping", "version": 1, "bones": {"pelvis": "Hips", "spine1": "Hips"}}',
         "bad.json: field 'bones': one bone mapped to several SMPL joints: 'Hips' <- pelvis, spine1"),
    ],
)
def test_bad_mapping_files_name_the_file_and_field(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(MappingError, match=message):
        load_mapping(path)


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(MappingError, match="missing.json: cannot read"):
        load_mapping(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "name, other",
    [
        ("thigh.L", "thigh.R"), ("DEF-upper_arm.L.001", "DEF-upper_arm.R.001"), ("mixamorig:LeftArm", "mixamorig:RightArm"),
        ("thigh_l", "thigh_r"), ("upperarm_twist_01_r", "upperarm_twist_01_l"), ("J_Bip_L_Foot", "J_Bip_R_Foot"),
        ("L_Hip", "R_Hip"), ("leftUpperArm", "rightUpperArm"), ("Hips", None), ("spine_01", None),
    ],
)
def test_mirror_name(name, other):
    assert mirror_name(name) == other
    if other:
        assert mirror_name(other) == name


def test_complete_by_mirror_fills_the_missing_side_from_existing_bones():
    spec = avatar_spec("rigify", REST)
    full = detect_mapping(spec.names, spec.parents, "Avatar").as_dict()
    left_only = {j: b for j, b in full.items() if not j.startswith("right_")}
    completed = complete_by_mirror(mapping_from_dict(left_only, "half"), spec.names)
    assert completed.as_dict() == full


def test_mirrored_gives_each_joint_the_bone_of_its_mirror_joint():
    viewer_named = mapping_from_dict({"pelvis": "Hips", "left_hip": "thigh.R", "right_hip": "thigh.L", "left_knee": "shin.R"}, "m")
    fixed = mirrored(viewer_named)
    assert fixed.as_dict() == {"pelvis": "Hips", "left_hip": "thigh.L", "right_hip": "thigh.R", "right_knee": "shin.R"}
    assert mirrored(fixed).pairs == viewer_named.pairs
    assert json.loads(mapping_to_json(fixed))["bones"]["right_knee"] == "shin.R"


def test_presets_cover_the_22_body_joints_and_never_repeat_a_bone():
    for name, bones in PRESETS.items():
        assert len(bones) >= 22, name
        assert not find_duplicates(bones), name
        assert all(isinstance(b, str) and b for b in bones.values()), name


def humanoid(hips, spine, neck, head, limb, collars=True):
    """A rig from names: ``limb(side "L"/"R", part)`` names the limb bones; without collars
    the upper arms hang from the last spine bone."""
    bones = {hips: None}
    previous = hips
    for bone in spine:
        bones[bone] = previous
        previous = bone
    bones.update({neck: previous, head: neck})
    for side in ("L", "R"):
        arm_parent = previous
        if collars:
            bones[limb(side, "collar")] = previous
            arm_parent = limb(side, "collar")
        bones[limb(side, "shoulder")] = arm_parent
        for part, parent in (("elbow", "shoulder"), ("wrist", "elbow"), ("hip", None), ("knee", "hip"),
                             ("ankle", "knee"), ("foot", "ankle")):
            bones[limb(side, part)] = hips if parent is None else limb(side, parent)
    return names_and_parents(bones)


MIXAMO_PARTS = {"collar": "Shoulder", "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand", "hip": "UpLeg",
                "knee": "Leg", "ankle": "Foot", "foot": "ToeBase"}
BVH_PARTS = {"collar": "Collar", "shoulder": "Shoulder", "elbow": "Elbow", "wrist": "Wrist", "hip": "Hip",
             "knee": "Knee", "ankle": "Ankle", "foot": "Toe"}


def side_word(side):
    return "Left" if side == "L" else "Right"


@pytest.mark.parametrize("namespace", ["mixamorig_", "mixamorig1_", "mixamorig12_"])
def test_underscore_mixamo_namespaces_are_namespaces(namespace):
    """FBX name clean-ups turn "mixamorig:" into "mixamorig_"; auto-detect found no pelvis."""
    n = namespace
    names, parents = humanoid(n + "Hips", [n + "Spine", n + "Spine1", n + "Spine2"], n + "Neck", n + "Head",
                              lambda s, p: n + side_word(s) + MIXAMO_PARTS[p])
    mapping = detect_mapping(names, parents, "Avatar")
    assert mapping.name == "auto: mixamo" and len(mapping.pairs) == 22
    assert mapping.bone_of("pelvis") == n + "Hips" and mapping.bone_of("left_hip") == n + "LeftUpLeg"
    assert strip_namespace(n + "LeftArm") == "LeftArm"


def test_bvh_collar_shoulder_elbow_names_map_collar_to_collar():
    """LeftCollar -> LeftShoulder -> LeftElbow: "shoulder" was the collar's first synonym, so
    the collar got LeftShoulder and the upper arm nothing."""
    names, parents = humanoid("Hips", ["Chest", "Chest2", "Chest3"], "Neck", "Head",
                              lambda s, p: side_word(s) + BVH_PARTS[p])
    bones = complete_by_mirror(detect_mapping(names, parents, "BVH"), names).as_dict()
    for side, word in (("left", "Left"), ("right", "Right")):
        assert bones[f"{side}_collar"] == f"{word}Collar"
        assert bones[f"{side}_shoulder"] == f"{word}Shoulder"
        assert bones[f"{side}_elbow"] == f"{word}Elbow" and bones[f"{side}_wrist"] == f"{word}Wrist"
        assert bones[f"{side}_hip"] == f"{word}Hip"
    assert len(bones) == 22


def test_a_shoulder_bone_hanging_from_the_spine_is_the_upper_arm():
    """No collar bones: the bone above the elbow is the upper arm whatever it is called."""
    names, parents = humanoid("Hips", ["Chest", "Chest2", "Chest3"], "Neck", "Head",
                              lambda s, p: side_word(s) + BVH_PARTS[p], collars=False)
    bones = detect_mapping(names, parents, "BVH").as_dict()
    assert bones["left_shoulder"] == "LeftShoulder" and bones["right_shoulder"] == "RightShoulder"
    assert "left_collar" not in bones and "right_collar" not in bones


def test_a_mapping_file_from_one_mixamo_namespace_resolves_on_another(tmp_path):
    """Mapping files named bones exactly: a file saved from a "mixamorig:" rig failed on a
    "mixamorig1:" (or "mixamorig_") rig."""
    spec = avatar_spec("mixamo", REST)
    path = save_mapping(tmp_path / "mixamo.json", detect_mapping(spec.names, spec.parents, "Avatar"))
    for namespace in ("mixamorig1:", "mixamorig_", ""):
        names = tuple(n.replace("mixamorig:", namespace) for n in spec.names)
        rig = replace(spec.target_rig(), bone_names=names)
        mapping = resolve_mapping(rig, RetargetConfig(mapping="FILE", mapping_file=str(path)))
        assert mapping.as_dict() == {j: b.replace("mixamorig:", namespace) for j, b in spec.expected.items()}
    exact = resolve_names(mapping_from_dict({"pelvis": "Hips", "head": "Skull"}, "f"), ("Hips", "mixamorig:Hips"))
    assert exact.as_dict() == {"pelvis": "Hips", "head": "Skull"}  # exact names win; unknown ones stay to be reported


def test_swap_sides_and_mirror_fill_are_config_options(tmp_path):
    spec = avatar_spec("rigify", REST)
    rig = spec.target_rig()
    swapped = resolve_mapping(rig, RetargetConfig(swap_sides=True)).as_dict()
    assert swapped["left_hip"] == "DEF-thigh.R" and swapped["right_shoulder"] == "DEF-upper_arm.L"
    assert swapped["pelvis"] == "DEF-spine"
    left_only = {j: b for j, b in spec.expected.items() if not j.startswith("right_")}
    path = save_mapping(tmp_path / "left.json", mapping_from_dict(left_only, "left"))
    unfilled = resolve_mapping(rig, RetargetConfig(mapping="FILE", mapping_file=str(path), mirror_fill=False))
    assert unfilled.as_dict() == left_only
    filled = resolve_mapping(rig, RetargetConfig(mapping="FILE", mapping_file=str(path)))
    assert filled.as_dict() == spec.expected
