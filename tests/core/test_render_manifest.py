"""The manifest: stable seeds, every random choice resolved up front, splits, exact shards."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from addon.core.render.jobspec import load_job_spec
from addon.core.render.lens import Lens, world_to_camera
from addon.core.render.manifest import (
    build_manifest, job_keys, parse_shard, read_manifest, shard, stable_seed, write_manifest,
)

SAMPLE = Path(__file__).resolve().parents[2] / "addon" / "assets" / "sample_reconstruction.npz"
JOBS = f"""
[dataset]
base_seed = 7
[[scenes]]
name = "sample"
bundle = "{SAMPLE}"
[[scenes]]
name = "room"
procedural = "care_room"
anchor = [2.5, 2.0]
[[prompts]]
name = "help"
text = "a nurse helps a patient stand up"
roles = ["staff", "patient"]
label = "help_up"
variations = 3
[[prompts]]
name = "walk"
text = "a person walks"
roles = ["person"]
label = "walk"
variations = 2
[cameras]
jittered = 2
ceiling_corners = 2
[randomize]
camera_noise = [0.0, 0.05]
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("jobs") / "jobs.toml"
    path.write_text(JOBS)
    return load_job_spec(path)


@pytest.fixture(scope="module")
def manifest(spec):
    return build_manifest(spec)


def test_seed_is_sha256_of_base_seed_and_key():
    digest = hashlib.sha256(b"7:room/help/v000/recorded").digest()
    assert stable_seed(7, "room/help/v000/recorded") == int.from_bytes(digest[:8], "big") >> 1
    assert stable_seed(0, "a") == 5690829181965289459  # golden: never changes between versions
    assert stable_seed(7, "a") != stable_seed(8, "a")


def test_every_job_is_listed_once_sorted(spec, manifest):
    keys = [job["key"] for job in manifest["jobs"]]
    assert len(keys) == 2 * (3 + 2) * 5 == len(set(keys))
    assert keys == sorted(keys) == job_keys(spec)
    assert {job["clip_id"] for job in manifest["jobs"]} == {key.replace("/", ".") for key in keys}


def test_clip_ids_tell_names_with_dashes_apart(tmp_path):
    """Names may hold "-": scene ward-a + prompt talk and scene ward + prompt a-talk are two clips."""
    path = tmp_path / "jobs.toml"
    path.write_text("".join(f'[[scenes]]\nname = "{name}"\nprocedural = "care_room"\n' for name in ("ward-a", "ward"))
                    + "".join(f'[[prompts]]\nname = "{name}"\ntext = "two people talk"\nroles = ["staff"]\n'
                              'label = "talk"\n' for name in ("talk", "a-talk")))
    jobs = build_manifest(load_job_spec(path))["jobs"]
    ids = [job["clip_id"] for job in jobs]
    assert len(ids) == 4 == len(set(ids))
    assert {"ward-a.talk.v000.recorded", "ward.a-talk.v000.recorded"} <= set(ids)


def test_a_manifest_refuses_two_jobs_in_one_clip_folder(spec, monkeypatch):
    import addon.core.render.manifest as manifest_module

    monkeypatch.setattr(manifest_module, "clip_id_of", lambda key: key.split("/")[0])  # one folder per scene
    with pytest.raises(ValueError, match="share the clip id 'room'"):
        build_manifest(spec)


def test_the_same_spec_gives_the_same_manifest(spec, manifest):
    again = build_manifest(spec)
    assert json.dumps(again, sort_keys=True) == json.dumps(manifest, sort_keys=True)


def test_cameras_of_one_variation_film_the_same_event(manifest):
    jobs = [job for job in manifest["jobs"] if job["key"].startswith("room/help/v001/")]
    assert len(jobs) == 5
    assert len({job["motion_seed"] for job in jobs}) == 1 and len({job["seed"] for job in jobs}) == 5
    assert all(job["look"]["persons"] == jobs[0]["look"]["persons"] for job in jobs)
    assert all(job["look"]["light"] == jobs[0]["look"]["light"] for job in jobs)
    assert len({job["split"] for job in jobs}) == 1
    other = next(job for job in manifest["jobs"] if job["key"].startswith("room/help/v002/"))
    assert other["motion_seed"] != jobs[0]["motion_seed"]
    assert other["look"]["persons"] != jobs[0]["look"]["persons"]


def test_people_are_resolved(manifest):
    job = next(job for job in manifest["jobs"] if job["key"] == "room/help/v000/recorded")
    persons = job["look"]["persons"]
    assert [p["role"] for p in persons] == ["staff", "patient"]
    for person in persons:
        assert len(person["betas"]) == 10 and max(abs(b) for b in person["betas"]) <= 2.5
        assert all(0.0 <= c <= 1.0 for c in person["shirt_rgb"] + person["trousers_rgb"] + person["skin_rgb"])
        assert person["avatar"] == "standin"
    assert job["prompt"]["label_id"] == job["prompt"]["person_label_ids"][0]
    assert 0.0 <= job["look"]["camera_noise_std"] <= 0.05
    assert job["generation"]["seed"] == job["motion_seed"]
    assert job["generation"]["device"] == "cpu"  # resolved: the same motion on a GPU node and a CPU node


def test_jittered_cameras_stay_near_the_recorded_one(manifest):
    recorded = np.array(next(j for j in manifest["jobs"] if j["key"] == "sample/help/v000/recorded")
                        ["camera"]["camera_to_world"])
    for name in ("jitter01", "jitter02"):
        job = next(j for j in manifest["jobs"] if j["key"] == f"sample/help/v000/{name}")
        pose = np.array(job["camera"]["camera_to_world"])
        angle = np.degrees(np.arccos(np.clip((np.trace(recorded[:3, :3].T @ pose[:3, :3]) - 1) / 2, -1, 1)))
        assert 0.0 < angle < 15.0  # N(0, 3 deg): 5 sigma
        assert 0.0 < np.linalg.norm(pose[:3, 3] - recorded[:3, 3]) < 0.9
        np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)


def test_ceiling_corner_cameras_hang_in_a_corner_and_see_the_anchor(manifest):
    for job in manifest["jobs"]:
        if job["camera"]["kind"] != "ceiling_corner" or job["scene"]["name"] != "room":
            continue
        pose = np.array(job["camera"]["camera_to_world"])
        eye = pose[:3, 3]
        assert min(eye[0], 4.5 - eye[0]) < 0.3 and min(eye[1], 4.0 - eye[1]) < 0.3  # a corner of the 4.5 x 4 room
        assert 2.2 <= eye[2] <= 2.45
        lens = Lens.from_json(job["camera"]["lens"])
        pixel = lens.project(world_to_camera(np.array([2.5, 2.0, 0.8]), pose))
        assert lens.in_image(pixel), (job["key"], pixel)


def test_splits_follow_motion_groups_and_the_fractions(tmp_path):
    text = JOBS.replace("variations = 3", "variations = 400").replace("jittered = 2\nceiling_corners = 2",
                                                                       "jittered = 0")
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    jobs = build_manifest(load_job_spec(path))["jobs"]
    help_jobs = [job for job in jobs if job["prompt"]["name"] == "help"]
    counts = {split: sum(job["split"] == split for job in help_jobs) for split in ("train", "val", "test")}
    assert abs(counts["train"] / 800 - 0.8) < 0.05 and abs(counts["val"] / 800 - 0.1) < 0.04


def test_a_scene_can_pin_its_split(tmp_path):
    path = tmp_path / "jobs.toml"
    path.write_text(JOBS.replace('procedural = "care_room"', 'procedural = "care_room"\nsplit = "test"'))
    jobs = build_manifest(load_job_spec(path))["jobs"]
    assert {job["split"] for job in jobs if job["scene"]["name"] == "room"} == {"test"}


@pytest.mark.parametrize("count", [1, 2, 3, 7, 50, 64])
def test_shards_partition_the_jobs_exactly(manifest, count):
    jobs = manifest["jobs"]
    parts = [shard(jobs, index, count) for index in range(count)]
    keys = [job["key"] for part in parts for job in part]
    assert sorted(keys) == sorted(job["key"] for job in jobs)  # everything, once
    assert len(keys) == len(set(keys))
    sizes = [len(part) for part in parts]
    assert max(sizes) - min(sizes) <= 1


def test_shards_do_not_depend_on_the_job_order(manifest):
    reversed_jobs = list(reversed(manifest["jobs"]))
    assert shard(reversed_jobs, 1, 3) == shard(manifest["jobs"], 1, 3)


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "1/0"])
def test_bad_shards_are_refused(text):
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)


def test_manifest_round_trips_through_json(tmp_path, manifest):
    write_manifest(tmp_path / "manifest.json", manifest)
    assert read_manifest(tmp_path / "manifest.json")["jobs"] == json.loads(json.dumps(manifest["jobs"]))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        read_manifest(tmp_path / "bad.json")


def test_recorded_people_keep_their_roles_and_actions(tmp_path):
    from addon.core.labels import ACTION_INDEX
    from addon.core.recon.bundle import read_bundle
    from addon.core.render.clip_people import generate_motions, person_tracks

    path = tmp_path / "jobs.toml"
    path.write_text(f'[[scenes]]\nname = "sample"\nbundle = "{SAMPLE}"\n[[prompts]]\nname = "rec"\n'
                    'source = "recorded"\nlabel = "walk"\n[clip]\nseconds = 2.0\n[randomize]\nbody_shapes = false\n')
    job = build_manifest(load_job_spec(path))["jobs"][0]
    bundle = read_bundle(SAMPLE)
    assert job["prompt"]["roles"] == bundle.person_roles == ["patient", "staff"]
    motions, source = generate_motions(job)
    assert source.sampler == "recorded" and [m.num_frames for m in motions] == [20, 20]
    tracks = person_tracks(job, motions)
    names = [bundle.action_names[a] for a in bundle.person_actions[1, :20]]  # the bundle is at 10 fps, as the clip
    assert tracks[1].actions.tolist() == [ACTION_INDEX[n] for n in names]
    np.testing.assert_allclose(tracks[0].betas[:10], bundle.person_betas[0])  # body_shapes off: the recorded shape


def test_a_blend_scenes_room_reaches_the_clip_process(tmp_path):
    """The job file's room of a .blend (its only source) survives the manifest: the depth video's
    range and the ceiling cameras use it."""
    from addon.core.render.clip_people import scene_spec_of
    from addon.core.render.scenes import depth_range, scene_info

    (tmp_path / "room.blend").write_bytes(b"BLENDER")
    path = tmp_path / "jobs.toml"
    path.write_text('[[scenes]]\nname = "ward"\nblend = "room.blend"\nroom_min = [-6.0, -1.0]\n'
                    'room_max = [6.0, 9.0]\nceiling_height = 3.0\n[[prompts]]\nname = "stand"\n'
                    'text = "a patient stands"\nroles = ["patient"]\nlabel = "stand"\n')
    job = build_manifest(load_job_spec(path))["jobs"][0]
    info = scene_info(scene_spec_of(job))
    np.testing.assert_allclose(info.room_min, [-6.0, -1.0])
    np.testing.assert_allclose(info.room_max, [6.0, 9.0])
    assert info.ceiling_height == 3.0
    camera = np.eye(4)  # at the origin: the farthest corner is (+-6, 9, 3)
    assert depth_range(camera, info) == (0.3, round(float(np.sqrt(36 + 81 + 9)), 3))


def test_an_unreadable_bundle_names_the_job_file_key(tmp_path):
    from addon.core.render.jobspec import JobSpecError

    (tmp_path / "room.npz").write_bytes(SAMPLE.read_bytes()[:5000])  # a truncated download
    path = tmp_path / "jobs.toml"
    path.write_text(JOBS.replace(str(SAMPLE), "room.npz"))
    with pytest.raises(JobSpecError, match=r"jobs.toml: key 'scenes\[0\].bundle': .*room.npz is not a usable reconstruction bundle"):
        build_manifest(load_job_spec(path))
