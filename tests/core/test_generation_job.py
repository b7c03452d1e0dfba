"""GenerationJob against the real worker process: variations in order, progress, cancel, a crash."""

import sys

import numpy as np
import pytest

from addon.core.environment import Interpreter
from addon.core.generation_job import GenerationJob
from addon.core.generation_settings import GenerationSettings
from addon.core.worker_client import WorkerClient


@pytest.fixture(scope="module")
def client():
    worker = WorkerClient(Interpreter(sys.executable))
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from helpers.tiny_checkpoint import write_tiny_checkpoint

    return str(write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt")))


def test_variations_run_one_after_another_with_rising_progress(client, checkpoint):
    settings = GenerationSettings(prompt="two people talk", roles=("staff", "patient"), seconds=1.0, seed=3,
                                  variations=2, quality="DRAFT")
    points = np.column_stack([np.random.default_rng(0).uniform(0, 4, (300, 2)), np.zeros(300)])
    job = GenerationJob(settings, checkpoint, "cpu", scene_points=points)
    job.start(client)
    seen = []
    final = job.run_blocking(300, seen.append)
    assert final.state == "done" and final.progress == 1.0 and "2 variation(s)" in final.message
    progress = [s.progress for s in seen]
    assert progress == sorted(progress) and progress[0] < 0.5
    assert [r.seed for r in job.results] == [3, 4] and job.device_used == "cpu"
    first = np.load(job.results[0].joints_file)
    second = np.load(job.results[1].joints_file)
    assert first.shape == second.shape == (2, 20, 22, 3) and not np.allclose(first, second)
    work = job.work_dir
    assert (work / "scene_points.npy").is_file()
    job.cleanup()
    assert not work.exists()


def test_cancel_ends_the_job_and_the_worker_stays_usable(client, checkpoint):
    settings = GenerationSettings(prompt="a patient falls", roles=("patient",), seconds=1.0, sampler="ddpm",
                                  steps=1000)
    job = GenerationJob(settings, checkpoint, "cpu")
    job.start(client)

    def cancel_once_running(status):
        if status.progress > 0:
            job.cancel()

    final = job.run_blocking(300, cancel_once_running)
    assert final.state == "cancelled" and "unchanged" in final.message and not job.results
    job.cleanup()
    again = GenerationJob(GenerationSettings(prompt="a patient falls", roles=("patient",), seconds=0.5), checkpoint,
                          "cpu")
    again.start(client)
    assert again.run_blocking(300).state == "done"
    again.cleanup()


def test_a_worker_error_is_the_jobs_message(client, checkpoint):
    job = GenerationJob(GenerationSettings(prompt="x", roles=("staff",), seconds=1.0), "/nowhere/missing.safetensors", "cpu")
    job.start(client)
    final = job.run_blocking(120)
    assert final.state == "error" and "missing" in final.message
    job.cleanup()


@pytest.mark.parametrize("hand_contact", [True, False])
def test_the_status_line_says_when_hands_were_put_on_the_patient(client, hand_contact):
    """Through the worker with the bundled checkpoint: a helping prompt gets hands placed unless
    the panel's Hand Contact is off, and the status line says so."""
    from addon.core.generate import BUNDLED_CHECKPOINT

    settings = GenerationSettings(prompt="a nurse helps a patient who fell get up", roles=("staff", "patient"),
                                  seconds=2.0, seed=0, quality="DRAFT", hand_contact=hand_contact)
    job = GenerationJob(settings, str(BUNDLED_CHECKPOINT), "cpu")
    job.start(client)
    final = job.run_blocking(300)
    assert final.state == "done"
    assert job.results[0].hands_placed is hand_contact
    assert ("hands placed on the other person" in final.message) is hand_contact
    job.cleanup()


def test_a_prompt_in_an_action_the_bundled_checkpoint_does_poorly_carries_its_caveat(client):
    """Through the worker: the result says what the shipped evaluation counts say of the action."""
    import json

    from addon.core.action_caveats import action_caveat
    from addon.core.generate import BUNDLED_CHECKPOINT

    evaluation = json.loads(BUNDLED_CHECKPOINT.with_suffix(".json").read_text())["evaluation"]
    counts = evaluation["summary"]["script_agreement"]
    assert len(counts) == 20 and all(clips > 0 for _, clips in counts.values())  # every action evaluated
    settings = GenerationSettings(prompt="a nurse walks into the room", roles=("staff",), seconds=1.0, seed=0,
                                  quality="DRAFT")
    job = GenerationJob(settings, str(BUNDLED_CHECKPOINT), "cpu")
    job.start(client)
    assert job.run_blocking(300).state == "done"
    assert job.results[0].caveat == action_caveat(evaluation, "walk_through")
    job.cleanup()
