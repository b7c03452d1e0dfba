"""Job files: defaults, and errors that name the file and the key."""

from pathlib import Path

import pytest

from addon.core.generation_settings import DEFAULT_SMOOTHING_S
from addon.core.render.jobspec import JobSpecError, load_job_spec

SAMPLE = Path(__file__).resolve().parents[2] / "addon" / "assets" / "sample_reconstruction.npz"
MINIMAL = f"""
[[scenes]]
name = "sample"
bundle = "{SAMPLE}"

[[prompts]]
name = "help_up"
text = "a nurse helps a patient who fell get up"
roles = ["staff", "patient"]
label = "help_up"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    return path


def test_minimal_job_file_gets_the_documented_defaults(tmp_path):
    spec = load_job_spec(write(tmp_path, MINIMAL))
    assert spec.clip.fps == 10.0 and (spec.clip.width, spec.clip.height) == (320, 240) and spec.clip.frames == 100
    assert spec.engine.name == "workbench" and spec.cameras.lens == "pinhole" and spec.cameras.count == 1
    assert spec.prompts[0].person_labels == ("help_up", "help_up") and spec.prompts[0].variations == 1
    assert spec.scenes[0].kind == "bundle" and spec.scenes[0].path == str(SAMPLE)
    assert spec.generation.checkpoint == "" and spec.base_seed == 0
    assert spec.generation.hand_contact and spec.generation.scene_aware
    assert spec.generation.smoothing_s == DEFAULT_SMOOTHING_S
    assert spec.outputs.videos == ("rgb",)
    assert spec.generation.device == "cpu"  # bit-exact on every node, whichever node renders a clip
    raw = load_job_spec(write(tmp_path, MINIMAL + "[generation]\nhand_contact = false\nsmoothing_s = 0\n"))
    assert not raw.generation.hand_contact and raw.generation.smoothing_s == 0.0


def test_relative_paths_resolve_against_the_job_file(tmp_path):
    (tmp_path / "rooms").mkdir()
    (tmp_path / "rooms" / "room.npz").write_bytes(SAMPLE.read_bytes())
    spec = load_job_spec(write(tmp_path, MINIMAL.replace(str(SAMPLE), "rooms/room.npz")))
    assert spec.scenes[0].path == str((tmp_path / "rooms" / "room.npz").resolve())


@pytest.mark.parametrize(
    "extra, key, words",
    [
        ("[cameras]\nlens = 'fisheye'\n", "cameras.lens", "only with engine 'cycles'"),
        ("[cameras]\nkind = 'fisheye'\n", "cameras.kind", "unknown key"),
        ("[clip]\nwidth = 321\n", "clip.width", "even"),
        ("[clip]\nfps = 'ten'\n", "clip.fps", "expected a finite number"),
        ("[engine]\nname = 'octane'\n", "engine.name", "expected one of"),
        ("[engine]\ndenoise = true\n", "engine.denoise", "Cycles"),
        ("[splits]\ntrain = 0.5\n", "splits.train", "must be 1"),
        ("[randomize]\nmotion_blur = true\n", "randomize.motion_blur", "Workbench"),
        ("[randomize]\navatars = ['smpl-female']\n", "randomize.avatars", "body_model_dir"),
        ("[randomize]\ncamera_noise = [0.2, 0.1]\n", "randomize.camera_noise", "min <= max"),
        ("[outputs]\nrgb = false\n", "outputs.rgb", "no video"),
        ("[generation]\ncheckpoint = 'missing.safetensors'\n", "generation.checkpoint", "file not found"),
        ("[generation]\nhand_contact = 'yes'\n", "generation.hand_contact", "true or false"),
        ("[generation]\nsmoothing_s = 1.0\n", "generation.smoothing_s", "0.5"),
        ("[cameras]\nrecorded = false\n", "cameras.recorded", "no camera"),
        ("[engine]\nname = 'cycles'\n[cameras]\nlens = 'fisheye'\n", "cameras.lens", "square image"),
        ("[generation]\ndevice = 'tpu'\n", "generation.device", "expected one of"),
    ],
)
def test_bad_values_name_the_key(tmp_path, extra, key, words):
    with pytest.raises(JobSpecError) as error:
        load_job_spec(write(tmp_path, MINIMAL + extra))
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'jobs.toml'}: key '{key}':"), message
    assert words in message


@pytest.mark.parametrize(
    "old, new, key, words",
    [
        ('label = "help_up"', 'label = "juggle"', "prompts[0].label", "expected one of"),
        ('roles = ["staff", "patient"]', 'roles = ["nurse"]', "prompts[0].roles", "'nurse' is not one of"),
        ('label = "help_up"', 'label = "help_up"\nperson_labels = ["help_up"]', "prompts[0].person_labels",
         "one label per role"),
        ('name = "sample"', 'name = "my room!"', "scenes[0].name", "letters, digits"),
        (f'bundle = "{SAMPLE}"', f'bundle = "{SAMPLE}"\nprocedural = "care_room"', "scenes[0].bundle", "exactly one"),
        (f'bundle = "{SAMPLE}"', 'bundle = "nowhere.npz"', "scenes[0].bundle", "file not found"),
        (f'bundle = "{SAMPLE}"', 'blend = "room.npz"', "scenes[0].blend", "expected a .blend"),
    ],
)
def test_bad_tables_name_the_indexed_key(tmp_path, old, new, key, words):
    with pytest.raises(JobSpecError) as error:
        load_job_spec(write(tmp_path, MINIMAL.replace(old, new, 1)))
    assert f"key '{key}':" in str(error.value) and words in str(error.value), str(error.value)


def test_missing_tables_and_bad_toml(tmp_path):
    with pytest.raises(JobSpecError, match="key 'scenes': expected one or more"):
        load_job_spec(write(tmp_path, MINIMAL.split("[[prompts]]")[1].join(["[[prompts]]", ""])))
    with pytest.raises(JobSpecError, match="not valid TOML"):
        load_job_spec(write(tmp_path, "[[scenes]\n"))
    with pytest.raises(JobSpecError, match="job file not found"):
        load_job_spec(tmp_path / "absent.toml")


def test_duplicate_prompt_names_are_refused(tmp_path):
    prompt = MINIMAL[MINIMAL.index("[[prompts]]"):]
    with pytest.raises(JobSpecError, match=r"key 'prompts\[1\].name': 'help_up' is used twice"):
        load_job_spec(write(tmp_path, MINIMAL + prompt))


def test_ceiling_corners_in_a_blend_need_the_room(tmp_path):
    (tmp_path / "room.blend").write_bytes(b"BLENDER")
    text = MINIMAL.replace(f'bundle = "{SAMPLE}"', 'blend = "room.blend"') + "[cameras]\nceiling_corners = 1\n"
    with pytest.raises(JobSpecError, match=r"key 'scenes\[0\].room_min': ceiling-corner cameras"):
        load_job_spec(write(tmp_path, text))


def test_the_shipped_example_job_file_is_valid():
    spec = load_job_spec(Path(__file__).resolve().parents[2] / "configs" / "render" / "jobs_example.toml")
    assert spec.cameras.count >= 2 and len(spec.scenes) >= 1


def test_recorded_prompts_take_the_bundles_people(tmp_path):
    recorded = MINIMAL.replace('text = "a nurse helps a patient who fell get up"\nroles = ["staff", "patient"]\n',
                               'source = "recorded"\n')
    spec = load_job_spec(write(tmp_path, recorded))
    assert spec.prompts[0].source == "recorded" and spec.prompts[0].roles == ()
    with pytest.raises(JobSpecError, match=r"key 'prompts\[0\].roles': a recorded prompt"):
        load_job_spec(write(tmp_path, recorded.replace('source = "recorded"', 'source = "recorded"\nroles = ["staff"]')))
    with pytest.raises(JobSpecError, match=r"key 'prompts\[0\].source': 'recorded' takes the people of bundle"):
        load_job_spec(write(tmp_path, recorded + '[[scenes]]\nname = "room"\nprocedural = "care_room"\n'))


def test_generation_device_is_resolved_for_every_node(tmp_path):
    """"auto" would pick a GPU on one node and the CPU on another; in a job file it is "cpu"."""
    assert load_job_spec(write(tmp_path, MINIMAL + "[generation]\ndevice = 'auto'\n")).generation.device == "cpu"
    assert load_job_spec(write(tmp_path, MINIMAL + "[generation]\ndevice = 'cuda'\n")).generation.device == "cuda"


def test_a_square_fisheye_is_accepted(tmp_path):
    text = MINIMAL + "[engine]\nname = 'cycles'\n[cameras]\nlens = 'fisheye'\n[clip]\nwidth = 240\nheight = 240\n"
    assert load_job_spec(write(tmp_path, text)).cameras.lens == "fisheye"
