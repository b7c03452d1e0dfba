"""A 2-clip job rendered headless end to end, then killed midway and resumed.

Both runs use one job file and the tiny random-weights checkpoint, in separate clip processes
(``python addon/batch/blender_render.py``): the resumed run's clips must equal the first run's
byte for byte (same seeds -> identical annotations), nothing lost and nothing twice.
"""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from addon.batch.cli import EXIT_OK, main
from addon.batch.progress import read_log
from addon.core.render.mp4 import mp4_frame_count, mp4_video_codec

REPO = Path(__file__).resolve().parents[2]
CLIPS = ("room.talk.v000.corner01", "room.talk.v000.recorded")
FRAMES = 8


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("render_job")
    from helpers.tiny_checkpoint import write_tiny_checkpoint  # torch: not in the compat envs
    checkpoint = write_tiny_checkpoint(folder)
    path = folder / "jobs.toml"
    path.write_text(f"""
[dataset]
name = "e2e"
base_seed = 5
[[scenes]]
name = "room"
procedural = "care_room"
anchor = [2.6, 1.8]
[[prompts]]
name = "talk"
text = "a nurse talks to a patient"
roles = ["staff", "patient"]
label = "talk"
person_labels = ["talk", "stand"]
[clip]
seconds = 0.8
fps = 10.0
width = 64
height = 48
[generation]
checkpoint = "{checkpoint}"
steps = 2
device = "cpu"
[cameras]
ceiling_corners = 1
[randomize]
camera_noise = [0.01, 0.02]
[outputs]
png_frames = true
skeleton = true
depth = true
silhouette = true
""")
    return path


@pytest.fixture(scope="module")
def first_run(config, tmp_path_factory):
    out = tmp_path_factory.mktemp("render_out")
    started = time.perf_counter()
    code = main(["--config", str(config), "--out", str(out), "--workers", "2"])
    print(f"\n2-clip job, 2 workers: {time.perf_counter() - started:.1f} s")
    assert code == EXIT_OK, (out / "log.jsonl").read_text()
    return out


def test_two_clips_render_end_to_end(first_run):
    out = first_run
    assert sorted(p.name for p in (out / "clips").iterdir()) == list(CLIPS)
    assert not any((out / ".partial").iterdir())
    for clip in CLIPS:
        folder = out / "clips" / clip
        for video in ("video.mp4", "skeleton.mp4", "depth.mp4", "silhouette.mp4"):
            assert mp4_video_codec(folder / video) == "avc1", video  # H.264 in an MP4 container
            assert mp4_frame_count(folder / video) == FRAMES, video
        assert sorted(p.name for p in (folder / "frames").iterdir()) == [f"img_{i:05d}.png" for i in range(1, 9)]
        document = json.loads((folder / "annotations.json").read_text())
        assert document["num_frames"] == FRAMES and document["image_size"] == [64, 48]
        assert document["label"] == "talk" and document["clip_id"] == clip
        person = document["frames"][3]["persons"][1]
        assert person["role"] == "patient" and person["action"] == "stand"
        assert np.asarray(person["keypoints"]).shape == (17, 3) and len(person["bbox"]) == 4
        assert np.asarray(person["joints_camera"]).shape == (24, 3)
        assert document["camera"]["lens"]["model"] == "pinhole"
        assert document["settings"]["seed"] == document["seed"]
        assert np.asarray(document["persons"][0]["smpl"]["global_orient"]).shape == (FRAMES, 3)
        assert any(v > 0 for f in document["frames"] for p in f["persons"] for v in np.asarray(p["keypoints"])[:, 2])


def test_data_set_files_are_written(first_run):
    out = first_run
    with open(out / "annotations" / "skeleton_2d.pkl", "rb") as stream:
        skeleton = pickle.load(stream)
    assert sorted(skeleton["split"]) == ["test", "train", "val"]
    assert sorted(sum(skeleton["split"].values(), [])) == list(CLIPS)
    assert [a["frame_dir"] for a in skeleton["annotations"]] == list(CLIPS)
    entry = skeleton["annotations"][0]
    assert entry["keypoint"].shape == (2, FRAMES, 17, 2) and entry["keypoint"].dtype == np.float32
    assert entry["keypoint_score"].shape == (2, FRAMES, 17) and entry["img_shape"] == (48, 64)
    lines = sum(((out / "annotations" / f"{s}_list_videos.txt").read_text().splitlines() for s in ("train", "val", "test")), [])
    assert sorted(lines) == [f"clips/{clip}/video.mp4 {entry['label']}" for clip in CLIPS]
    coco = [json.loads((out / "annotations" / f"coco_keypoints_{s}.json").read_text()) for s in ("train", "val", "test")]
    assert sum(len(c["images"]) for c in coco) == 2 * FRAMES and sum(len(c["annotations"]) for c in coco) == 4 * FRAMES
    for image in (image for c in coco for image in c["images"]):  # png_frames is on: both ways to the frame exist
        assert (out / image["file_name"]).is_file() and (out / image["video"]).is_file()
        assert image["file_name"].endswith(f"img_{image['frame_index'] + 1:05d}.png")
    events = [e["event"] for e in read_log(out / "log.jsonl")]
    assert events.count("clip_done") == 2 and events[-1] == "run_done" and "dataset_written" in events
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["clips"] == 2 and summary["missing"] == []


def test_killed_run_resumes_without_losing_or_duplicating(config, first_run, tmp_path):
    out = tmp_path / "resumed"
    command = [sys.executable, str(REPO / "tools" / "render.py"), "--config", str(config), "--out", str(out)]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first, second = out / "clips" / CLIPS[0], out / ".partial" / CLIPS[1]
    try:
        deadline = time.time() + 240
        while not (first.is_dir() and second.is_dir()):  # one clip finished, the next one half-way
            assert process.poll() is None and time.time() < deadline, "the run ended before it could be killed"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the whole job: the parent and its clip process
        process.wait()
    assert not (out / "clips" / CLIPS[1]).exists()
    finished_at = (first / "annotations.json").stat().st_mtime_ns
    assert main(["--config", str(config), "--out", str(out), "--resume"]) == EXIT_OK
    assert sorted(p.name for p in (out / "clips").iterdir()) == list(CLIPS)
    assert not any((out / ".partial").iterdir())
    assert (first / "annotations.json").stat().st_mtime_ns == finished_at  # kept, not rendered again
    starts = [e["clip"] for e in read_log(out / "log.jsonl") if e["event"] == "clip_start"]
    assert starts.count(CLIPS[0]) == 1 and starts.count(CLIPS[1]) == 2  # the partial one was redone
    lines = sum(((out / "annotations" / f"{s}_list_videos.txt").read_text().splitlines() for s in ("train", "val", "test")), [])
    assert len(lines) == 2 == len(set(lines))
    for clip in CLIPS:  # same seeds, other processes, other run: identical annotations
        assert (out / "clips" / clip / "annotations.json").read_bytes() == \
            (first_run / "clips" / clip / "annotations.json").read_bytes()
