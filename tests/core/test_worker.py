"""The sampler service in its own process: protocol, generation, cancel, crash and restart."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from addon.core.environment import Interpreter
from addon.core.motion.amass import read_amass_npz
from addon.core.worker_client import WorkerClient, WorkerDied

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client():
    worker = WorkerClient(Interpreter(sys.executable))
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from helpers.tiny_checkpoint import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def test_ping_reports_the_interpreter(client):
    reply = client.wait_for(client.send({"type": "ping"}), timeout_s=120)
    assert reply["type"] == "pong" and reply["python"] == ".".join(map(str, sys.version_info[:3]))
    import torch

    assert reply["torch"] == torch.__version__


def test_bad_requests_get_errors_and_the_worker_lives_on():
    process = subprocess.run(
        [sys.executable, "-m", "addon.core.worker"], input='not json\n{"id": 5, "type": "fly"}\n',
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    replies = [json.loads(line) for line in process.stdout.splitlines()]
    assert replies[0]["type"] == "error" and "not JSON" in replies[0]["message"]
    assert replies[1] == {"id": 5, "type": "error", "message": "unknown request type 'fly'"}
    assert process.returncode == 0


def test_generation_writes_motions_and_reports_progress(client, tiny_checkpoint, tmp_path):
    steps = []
    request = {"prompt": "a nurse helps a patient stand up", "roles": ["staff", "patient"], "seconds": 1.0,
               "fps": 20.0, "seed": 3, "steps": 4, "sampler": "ddim"}
    reply = client.wait_for(
        client.send({"type": "generate", "checkpoint": str(tiny_checkpoint), "device": "cpu",
                     "out_dir": str(tmp_path / "out"), "request": request}),
        timeout_s=300, on_progress=lambda step, total: steps.append((step, total)),
    )
    assert reply["type"] == "result", reply
    assert [s for s, _ in steps] == list(range(1, len(steps) + 1)) and steps[-1][1] == len(steps)
    motions = [read_amass_npz(path) for path in reply["motions"]]
    assert [m.role for m in motions] == ["staff", "patient"] and motions[0].num_frames == 20
    assert np.load(reply["joints"], allow_pickle=False).shape == (2, 20, 22, 3)


def test_a_dead_worker_is_reported_and_replaced(client):
    client.wait_for(client.send({"type": "ping"}), timeout_s=120)
    client.process.kill()
    client.process.wait()
    with pytest.raises(WorkerDied, match="exited"):
        client.poll()
    reply = client.wait_for(client.send({"type": "ping"}), timeout_s=120)  # a new worker
    assert reply["type"] == "pong"


def test_cancel_stops_within_a_step(client, tiny_checkpoint, tmp_path):
    request = {"prompt": "two people talk", "roles": ["person"], "seconds": 1.0, "fps": 20.0, "seed": 1,
               "steps": 400, "sampler": "ddpm"}
    ident = client.send({"type": "generate", "checkpoint": str(tiny_checkpoint), "device": "cpu",
                         "out_dir": str(tmp_path / "out"), "request": request})
    seen = []

    def on_progress(step, total):
        seen.append(step)
        if step == 3:
            client.cancel()

    reply = client.wait_for(ident, timeout_s=300, on_progress=on_progress)
    assert reply["type"] == "cancelled"
    # The worker checks for a cancel before every step; with the tiny network a step takes about
    # a millisecond, so a few steps pass while the cancel line travels (7 seen on a loaded CPU).
    assert max(seen) <= 25, "stopped within a few steps of the cancel, far before the 400th"
    assert not (tmp_path / "out").exists(), "nothing written for a cancelled request"
