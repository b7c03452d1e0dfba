"""The job file's [[avatars]] tables: parsed paths and mappings, errors naming the key, and the
manifest's per-job "avatars" entry for the people who drew a rigged avatar."""

import json
from pathlib import Path

import pytest

from addon.core.render.jobspec import JobSpecError, load_job_spec
from addon.core.render.jobspec_avatars import garment_of_material, is_builtin, retarget_mapping
from addon.core.render.manifest import build_manifest

# A procedural room reads no file, so the manifest is quick to build.
BASE = """
[[scenes]]
name = "ward"
procedural = "care_room"

[[prompts]]
name = "help_up"
text = "a nurse helps a patient who fell get up"
roles = ["staff", "patient"]
label = "help_up"
variations = 3

[cameras]
jittered = 1
"""
NURSE = """
[[avatars]]
name = "nurse"
blend = "avatars/nurse.blend"
"""
VALID_MAPPING = {"format": "isynth-bone-mapping", "version": 1, "name": "nurse rig",
                 "bones": {"pelvis": "Hips", "spine1": "Spine", "head": "Head"}}


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "avatars").mkdir(exist_ok=True)
    (tmp_path / "avatars" / "nurse.blend").write_bytes(b"BLENDER-v300")  # core never opens it
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(JobSpecError) as error:
        load_job_spec(write(tmp_path, text))
    return str(error.value)


def test_an_avatar_table_resolves_its_blend_and_defaults(tmp_path):
    spec = load_job_spec(write(tmp_path, BASE + NURSE))
    (avatar,) = spec.avatars
    assert avatar.name == "nurse"
    assert avatar.blend == str((tmp_path / "avatars" / "nurse.blend").resolve())
    assert Path(avatar.blend).is_absolute()
    assert (avatar.object, avatar.mapping, avatar.swap_sides) == ("", "auto", False)
    assert spec.randomize.avatars == ("standin",)  # defined, but drawn only when [randomize] lists it


def test_an_absolute_blend_path_is_kept(tmp_path):
    elsewhere = tmp_path / "library" / "doctor.blend"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"BLENDER")
    spec = load_job_spec(write(tmp_path, BASE + f'[[avatars]]\nname = "doctor"\nblend = "{elsewhere}"\n'))
    assert spec.avatars[0].blend == str(elsewhere.resolve())


@pytest.mark.parametrize("given, stored", [("auto", "auto"), ("AUTO", "auto"), ("Mixamo", "mixamo"),
                                           ("rigify_deform", "rigify_deform")])
def test_mapping_names_are_normalised_to_lower_case(tmp_path, given, stored):
    spec = load_job_spec(write(tmp_path, BASE + NURSE + f'mapping = "{given}"\nobject = "Armature.001"\n'
                                                       'swap_sides = true\n'))
    assert spec.avatars[0].mapping == stored
    assert spec.avatars[0].object == "Armature.001" and spec.avatars[0].swap_sides is True


def test_a_json_mapping_file_is_checked_and_made_absolute(tmp_path):
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "nurse.json").write_text(json.dumps(VALID_MAPPING))
    spec = load_job_spec(write(tmp_path, BASE + NURSE + 'mapping = "maps/nurse.json"\n'))
    assert spec.avatars[0].mapping == str((tmp_path / "maps" / "nurse.json").resolve())
    assert retarget_mapping({"mapping": spec.avatars[0].mapping}) == ("FILE", spec.avatars[0].mapping)


def test_retarget_mapping_and_is_builtin():
    assert retarget_mapping({"mapping": "auto"}) == ("AUTO", "")
    assert retarget_mapping({"mapping": "mixamo"}) == ("mixamo", "")
    assert all(is_builtin(name) for name in ("standin", "smpl-neutral", "smpl-female", "smpl-male"))
    assert not is_builtin("nurse") and not is_builtin("smpl_nurse")


@pytest.mark.parametrize(
    "avatars, key, words",
    [
        ('[[avatars]]\nname = "nurse"\nblend = "avatars/missing.blend"\n', "avatars[0].blend", "file not found"),
        ('[[avatars]]\nname = "nurse"\nblend = "avatars/nurse.fbx"\n', "avatars[0].blend", "expected a .blend file"),
        ('[[avatars]]\nname = "nurse"\n', "avatars[0].blend", "is required"),
        ('[[avatars]]\nblend = "avatars/nurse.blend"\n', "avatars[0].name", "is required"),
        ('[[avatars]]\nname = "standin"\nblend = "avatars/nurse.blend"\n', "avatars[0].name", "built-in avatar"),
        ('[[avatars]]\nname = "smpl-male"\nblend = "avatars/nurse.blend"\n', "avatars[0].name", "built-in avatar"),
        ('[[avatars]]\nname = "my nurse"\nblend = "avatars/nurse.blend"\n', "avatars[0].name", "letters, digits"),
        (NURSE + NURSE, "avatars[1].name", "'nurse' is used twice"),
        (NURSE + 'mapping = "maximo"\n', "avatars[0].mapping", "expected 'auto', a preset"),
        (NURSE + 'mapping = "maps/absent.json"\n', "avatars[0].mapping", "cannot read the mapping file"),
        (NURSE + "swap_sides = 'yes'\n", "avatars[0].swap_sides", "true or false"),
        (NURSE + "scale = 1.2\n", "avatars[0].scale", "expected a list of 2 numbers"),
        (NURSE + "scale = [1.2, 0.9]\n", "avatars[0].scale", "min <= max"),
        (NURSE + "scale = [0.2, 1.0]\n", "avatars[0].scale", "must be >= 0.5"),
        (NURSE + "height = 1.8\n", "avatars[0].height", "unknown key"),
        (NURSE + '[randomize]\navatars = ["nurse", "doctor"]\n', "randomize.avatars", "'doctor' is not one of"),
        ('[randomize]\navatars = ["nurse"]\n', "randomize.avatars", "'nurse' is not one of"),
        (NURSE + "garments = 3\n", "avatars[0].garments", "expected a table"),
        (NURSE + '[avatars.garments]\nshirt = "Top"\n', "avatars[0].garments.shirt", "list of strings"),
        (NURSE + '[avatars.garments]\nshirt = ["Top", " "]\n', "avatars[0].garments.shirt", "pattern is empty"),
        (NURSE + '[avatars.garments]\nhat = ["Cap"]\n', "avatars[0].garments.hat", "unknown key"),
    ],
)
def test_bad_avatar_tables_name_the_key(tmp_path, avatars, key, words):
    message = error_of(tmp_path, BASE + avatars)
    assert message.startswith(f"{tmp_path / 'jobs.toml'}: key '{key}':"), message
    assert words in message, message


def test_a_malformed_json_mapping_names_the_mapping_key(tmp_path):
    (tmp_path / "broken.json").write_text('{"format": "isynth-bone-mapping", "version": 1, "bones": {')
    message = error_of(tmp_path, BASE + NURSE + 'mapping = "broken.json"\n')
    assert message.startswith(f"{tmp_path / 'jobs.toml'}: key 'avatars[0].mapping':"), message
    assert "not JSON" in message and "broken.json" in message


def test_a_mapping_file_of_unknown_joints_names_the_mapping_key(tmp_path):
    (tmp_path / "wrong.json").write_text(json.dumps({**VALID_MAPPING, "bones": {"tail": "Tail"}}))
    message = error_of(tmp_path, BASE + NURSE + 'mapping = "wrong.json"\n')
    assert f"key 'avatars[0].mapping':" in message and "unknown SMPL joint 'tail'" in message, message


def test_a_custom_avatar_named_smpl_something_needs_no_body_model_dir(tmp_path):
    text = BASE + '[[avatars]]\nname = "smpl_nurse"\nblend = "avatars/nurse.blend"\n' \
                  '[randomize]\navatars = ["standin", "smpl_nurse"]\n'
    spec = load_job_spec(write(tmp_path, text))
    assert spec.body_model_dir == "" and spec.randomize.avatars == ("standin", "smpl_nurse")
    # the built-in SMPL bodies still do
    message = error_of(tmp_path, text.replace('"smpl_nurse"]', '"smpl_nurse", "smpl-neutral"]'))
    assert "key 'randomize.avatars':" in message and "body_model_dir" in message


def test_jobs_that_draw_the_avatar_carry_its_resolved_spec(tmp_path):
    spec = load_job_spec(write(tmp_path, BASE + NURSE + 'mapping = "Mixamo"\n[randomize]\navatars = ["nurse"]\n'))
    jobs = build_manifest(spec)["jobs"]
    assert len(jobs) == 3 * 2
    for job in jobs:
        assert [person["avatar"] for person in job["look"]["persons"]] == ["nurse", "nurse"]
        assert job["avatars"] == {"nurse": {"name": "nurse", "blend": str((tmp_path / "avatars" / "nurse.blend").resolve()),
                                            "object": "", "mapping": "mixamo", "swap_sides": False, "roles": []}}


def test_jobs_of_built_in_bodies_have_no_avatars_key(tmp_path):
    spec = load_job_spec(write(tmp_path, BASE + NURSE))  # defined but not drawn
    assert all("avatars" not in job for job in build_manifest(spec)["jobs"])


def test_only_jobs_whose_people_drew_the_avatar_carry_it(tmp_path):
    text = BASE.replace("variations = 3", "variations = 12") + NURSE + '[randomize]\navatars = ["standin", "nurse"]\n'
    jobs = build_manifest(load_job_spec(write(tmp_path, text)))["jobs"]
    drew = [any(person["avatar"] == "nurse" for person in job["look"]["persons"]) for job in jobs]
    assert any(drew) and not all(drew)  # 24 clips of two people: both kinds occur
    for job, nurse in zip(jobs, drew):
        assert set(job.get("avatars", {})) == ({"nurse"} if nurse else set())


def test_drawing_an_avatar_changes_no_other_draw(tmp_path):
    """Listing ["nurse"] instead of ["standin"] renames the avatar and nothing else: the random
    draws keep their order, so adding avatars to a job file keeps every clip's look."""
    standin = build_manifest(load_job_spec(write(tmp_path, BASE + NURSE)))["jobs"]
    nurse = build_manifest(load_job_spec(write(tmp_path, BASE + NURSE + '[randomize]\navatars = ["nurse"]\n')))["jobs"]
    assert [job["key"] for job in standin] == [job["key"] for job in nurse]
    for a, b in zip(standin, nurse):
        assert (a["seed"], a["motion_seed"], a["split"]) == (b["seed"], b["motion_seed"], b["split"])
        persons_a, persons_b = a["look"]["persons"], b["look"]["persons"]
        assert [p["avatar"] for p in persons_a] == ["standin"] * 2 and [p["avatar"] for p in persons_b] == ["nurse"] * 2
        assert [{**p, "avatar": None} for p in persons_a] == [{**p, "avatar": None} for p in persons_b]
        assert persons_a[0]["betas"] is not None and persons_a[0]["shirt_rgb"] != persons_a[1]["shirt_rgb"]
        assert {k: v for k, v in a["look"].items() if k != "persons"} == \
            {k: v for k, v in b["look"].items() if k != "persons"}
        assert a["camera"] == b["camera"]


ROLE_AVATARS = """
[[avatars]]
name = "nurse"
blend = "avatars/nurse.blend"
roles = ["staff"]
[[avatars]]
name = "resident"
blend = "avatars/nurse.blend"
roles = ["patient", "person"]
"""


def test_avatars_play_only_their_roles(tmp_path):
    spec = load_job_spec(write(tmp_path, BASE + ROLE_AVATARS + '[randomize]\navatars = ["nurse", "resident"]\n'))
    assert [a.roles for a in spec.avatars] == [("staff",), ("patient", "person")]
    for job in build_manifest(spec)["jobs"]:
        assert [person["avatar"] for person in job["look"]["persons"]] == ["nurse", "resident"]
        assert job["avatars"]["nurse"]["roles"] == ["staff"]


def test_a_role_no_listed_avatar_may_play_is_refused(tmp_path):
    message = error_of(tmp_path, BASE + ROLE_AVATARS + '[randomize]\navatars = ["nurse"]\n')
    assert "key 'randomize.avatars'" in message and "'patient'" in message and "prompts[0]" in message
    assert "avatars[0].roles" in error_of(tmp_path, BASE + NURSE + 'roles = ["doctor"]\n')
    # A built-in body next to it plays anyone.
    load_job_spec(write(tmp_path, BASE + ROLE_AVATARS + '[randomize]\navatars = ["nurse", "standin"]\n'))


GARMENTS = NURSE + '[avatars.garments]\nskin = ["Body"]\nshirt = ["Top", "Jacket*"]\ntrousers = []\n'


def test_garment_patterns_are_parsed_in_garment_order_and_match_material_names(tmp_path):
    (avatar,) = load_job_spec(write(tmp_path, BASE + GARMENTS)).avatars
    assert avatar.garments == (("shirt", ("Top", "Jacket*")), ("skin", ("Body",)))  # empty lists dropped
    assert garment_of_material("Jacket Blue", avatar.garments) == "shirt"
    assert garment_of_material("Body", {"skin": ["Body"]}) == "skin"
    assert garment_of_material("body", avatar.garments) is None  # case-sensitive
    assert garment_of_material("Topcoat", avatar.garments) is None  # a name, not a prefix


def test_jobs_carry_the_garments_only_when_clothing_is_randomised(tmp_path):
    drawn = '[randomize]\navatars = ["nurse"]\n'
    jobs = build_manifest(load_job_spec(write(tmp_path, BASE + GARMENTS + drawn)))["jobs"]
    assert all(job["avatars"]["nurse"]["garments"] == {"shirt": ["Top", "Jacket*"], "skin": ["Body"]} for job in jobs)
    off = build_manifest(load_job_spec(write(tmp_path, BASE + GARMENTS + drawn + "clothing = false\n")))["jobs"]
    assert all("garments" not in job["avatars"]["nurse"] for job in off)
    # A job file without garments writes the manifest entry it always did (a --resume still matches).
    plain = build_manifest(load_job_spec(write(tmp_path, BASE + NURSE + drawn)))["jobs"]
    assert all(set(job["avatars"]["nurse"]) == {"name", "blend", "object", "mapping", "swap_sides", "roles"}
               for job in plain)


def test_a_scale_range_draws_each_avatar_person_a_scale_and_changes_no_other_draw(tmp_path):
    drawn = '[randomize]\navatars = ["nurse"]\n'
    plain = build_manifest(load_job_spec(write(tmp_path, BASE + NURSE + drawn)))["jobs"]
    scaled = build_manifest(load_job_spec(write(tmp_path, BASE + NURSE + "scale = [0.8, 1.25]\n" + drawn)))["jobs"]
    scales = [[person["avatar_scale"] for person in job["look"]["persons"]] for job in scaled]
    assert all(0.8 <= s <= 1.25 for row in scales for s in row) and len({s for row in scales for s in row}) == 6
    for a, b in zip(plain, scaled):  # only the new key and the avatar entry's range differ
        assert [{k: v for k, v in p.items() if k != "avatar_scale"} for p in b["look"]["persons"]] == \
            a["look"]["persons"]
        assert "avatar_scale" not in a["look"]["persons"][0] and "scale" not in a["avatars"]["nurse"]
        assert b["avatars"]["nurse"]["scale"] == [0.8, 1.25]
        assert (a["seed"], a["camera"]) == (b["seed"], b["camera"])
    # Every camera's clip of one variation shows the same people.
    cameras = build_manifest(load_job_spec(write(tmp_path, BASE.replace("jittered = 1", "jittered = 2") + NURSE
                                                 + "scale = [0.8, 1.25]\n" + drawn)))["jobs"]
    by_variation = {}
    for job in cameras:
        by_variation.setdefault(job["key"].rsplit("/", 1)[0], []).append(
            [p["avatar_scale"] for p in job["look"]["persons"]])
    assert all(len(rows) == 3 and rows[0] == rows[1] == rows[2] for rows in by_variation.values())
