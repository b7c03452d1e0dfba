"""Generate Interaction settings: presets, limits, role parsing, checkpoint descriptions."""

import json

import pytest

from addon.core.generation_settings import (
    QUALITY_PRESETS,
    CheckpointLimits,
    GenerationSettings,
    MAX_SEED,
    SettingsError,
    check_target_names,
    checkpoint_limits,
    parse_roles,
)


def test_presets_and_overrides_choose_the_sampler():
    base = GenerationSettings(prompt="two people talk", roles=("staff", "patient"))
    assert base.sampler_and_steps == QUALITY_PRESETS["STANDARD"] == ("dpmpp_2m", 10)
    assert GenerationSettings(prompt="x", roles=("staff",), quality="BEST").sampler_and_steps == ("ddim", 25)
    assert GenerationSettings(prompt="x", roles=("staff",), sampler="ddpm", steps=50).sampler_and_steps == ("ddpm", 50)
    assert GenerationSettings(prompt="x", roles=("staff",), seed=7, variations=3).seeds == (7, 8, 9)


@pytest.mark.parametrize("kwargs, field", [
    (dict(prompt=" "), "prompt"), (dict(roles=()), "persons"), (dict(roles=("nurse",)), "roles"),
    (dict(seconds=0.0), "duration"), (dict(fps=-1.0), "fps"), (dict(quality="ULTRA"), "quality"),
    (dict(sampler="euler"), "sampler"), (dict(device="TPU"), "device"), (dict(variations=0), "variations"),
    (dict(roles=("staff",) * 5), "persons"), (dict(smoothing_s=-0.1), "smoothing"),
    (dict(smoothing_s=0.6), "smoothing"), (dict(smoothing_s=float("nan")), "smoothing"),
])
def test_bad_settings_name_the_setting(kwargs, field):
    with pytest.raises(SettingsError, match=f"^{field}"):
        GenerationSettings(**{"prompt": "x", "roles": ("staff",), **kwargs})


def test_checkpoint_limits_are_enforced():
    limits = CheckpointLimits("c", fps=10.0, max_frames=100, max_persons=3, uses_scene=True)
    GenerationSettings(prompt="x", roles=("staff", "patient"), seconds=10.0).check_against(limits)
    with pytest.raises(SettingsError, match="longer than the checkpoint generates .10 s at 10 fps"):
        GenerationSettings(prompt="x", roles=("staff",), seconds=10.2).check_against(limits)
    with pytest.raises(SettingsError, match="at most 3"):
        GenerationSettings(prompt="x", roles=("staff",) * 4, seconds=1.0).check_against(limits)


def test_roles_parse_from_text():
    assert parse_roles(" Staff, patient ,person") == ("staff", "patient", "person")
    with pytest.raises(SettingsError, match="unknown role"):
        parse_roles("staff,doctor")
    with pytest.raises(SettingsError, match="at least one"):
        parse_roles(" , ")


def test_checkpoint_limits_read_the_json_and_name_bad_files(tmp_path):
    weights = tmp_path / "c.safetensors"
    with pytest.raises(SettingsError, match="does not exist"):
        checkpoint_limits(weights)
    weights.write_bytes(b"x")
    with pytest.raises(SettingsError, match="c.json is missing"):
        checkpoint_limits(weights)
    weights.with_suffix(".json").write_text("{not json")
    with pytest.raises(SettingsError, match="c.json is not a readable"):
        checkpoint_limits(weights)
    weights.with_suffix(".json").write_text(json.dumps(
        {"representation": {"fps": 10, "max_frames": 100}, "network": {"max_persons": 3, "use_scene": True}}))
    limits = checkpoint_limits(weights)
    assert (limits.fps, limits.max_frames, limits.max_persons, limits.uses_scene, limits.max_seconds) == (
        10.0, 100, 3, True, 10.0)


def test_the_last_variation_seed_must_fit_what_blender_stores():
    assert GenerationSettings(prompt="x", roles=("staff",), seed=MAX_SEED - 2, variations=3).seeds[-1] == MAX_SEED
    with pytest.raises(SettingsError, match="seed"):
        GenerationSettings(prompt="x", roles=("staff",), seed=MAX_SEED - 1, variations=3)


def test_target_names_one_per_role_and_no_rig_twice():
    check_target_names(["Nurse", "-", ""], 3)
    check_target_names(["", ""], 2)  # two new rigs are two rigs
    with pytest.raises(SettingsError, match="3 names given for 2"):
        check_target_names(["A", "B", "C"], 2)
    with pytest.raises(SettingsError, match="person 1 and person 2 both target 'Nurse'"):
        check_target_names(["Nurse", "Nurse"], 2)
