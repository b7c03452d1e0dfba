"""A worker that cannot go on is replaced: after a GPU error, after an unanswered cancel, and a
crash is reported with the output that explains it.

Real worker processes throughout. The GPU error is made on a CPU-only machine by a
``sitecustomize`` on the worker's PYTHONPATH that swaps the checkpoint loader for one raising
the error torch raises after an illegal memory access: the rest (the reply, the exit, the
client noticing) is the code a user runs.
"""

import os
import signal
import stat
import sys

import pytest

from addon.core.environment import Interpreter
from addon.core.generation_job import GenerationJob
from addon.core.generation_settings import GenerationSettings
from addon.core.worker import EXIT_DEVICE_FAILED, device_failed
from addon.core.worker_client import WorkerClient, WorkerDied

ILLEGAL_ACCESS = "CUDA error: an illegal memory access was encountered"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from helpers.tiny_checkpoint import write_tiny_checkpoint

    return str(write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt")))


@pytest.fixture
def stopped_clients():
    clients = []
    yield clients
    for client in clients:
        if client.process is not None and client.process.poll() is None:
            os.kill(client.process.pid, signal.SIGCONT)
        client.stop()


def test_gpu_errors_are_told_apart_from_other_failures():
    import torch

    assert device_failed(torch.AcceleratorError(ILLEGAL_ACCESS))
    assert device_failed(RuntimeError("CUDA error: device-side assert triggered"))
    assert device_failed(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    # Checked before any CUDA work, or not about the GPU at all: the worker lives on.
    assert not device_failed(ValueError("device 'cuda' was asked for but this torch sees no CUDA GPU"))
    assert not device_failed(RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"))
    assert not device_failed(FileNotFoundError("/nowhere/missing.safetensors"))


def test_after_a_gpu_error_the_worker_exits_and_the_next_request_gets_a_new_one(tmp_path, checkpoint,
                                                                               stopped_clients):
    (tmp_path / "sitecustomize.py").write_text(
        "import addon.core.generate as generate\n\n\n"
        "def load_generator(*args, **kwargs):\n"
        f"    raise RuntimeError({ILLEGAL_ACCESS!r})\n\n\n"
        "generate.load_generator = load_generator\n"
    )
    client = WorkerClient(Interpreter(sys.executable, (str(tmp_path),)))
    stopped_clients.append(client)
    client.start()
    poisoned = client.process
    job = GenerationJob(GenerationSettings(prompt="a patient falls", roles=("patient",), seconds=1.0), checkpoint,
                        "cuda")
    job.start(client)
    final = job.run_blocking(120)
    assert final.state == "error" and ILLEGAL_ACCESS in final.message and "new worker" in final.message
    # Gone by the time the job reports the error: a click right now already gets a fresh worker.
    assert poisoned.poll() == EXIT_DEVICE_FAILED and not client.alive
    job.cleanup()
    reply = client.wait_for(client.send({"type": "ping"}), timeout_s=120)
    assert reply["type"] == "pong" and client.process.pid != poisoned.pid


def test_a_cancel_the_worker_does_not_answer_ends_it(checkpoint, stopped_clients):
    client = WorkerClient(Interpreter(sys.executable))
    stopped_clients.append(client)
    client.start()
    stuck = client.process
    settings = GenerationSettings(prompt="a patient falls", roles=("patient",), seconds=1.0, sampler="ddpm",
                                  steps=1000)
    job = GenerationJob(settings, checkpoint, "cpu", cancel_timeout_s=0.5)
    job.start(client)

    def hang_then_cancel(status):
        if status.progress > 0 and job.state == "running":
            os.kill(stuck.pid, signal.SIGSTOP)  # a worker that no longer reads or answers anything
            job.cancel()

    final = job.run_blocking(60, hang_then_cancel)
    assert final.state == "cancelled" and "unchanged" in final.message
    assert "did not stop within 0.5 s" in final.message
    assert stuck.poll() == -signal.SIGKILL and not job.results
    job.cleanup()
    reply = client.wait_for(client.send({"type": "ping"}), timeout_s=120)
    assert reply["type"] == "pong" and client.process.pid != stuck.pid


def test_a_crash_is_reported_with_its_last_output(tmp_path, stopped_clients):
    """A "Python" that fails the way a broken environment does: some output, exit 7, and the
    line that explains it still on its way through the stderr pipe (written by a process that
    outlives it by half a second, as a crash handler's would; a full pipe does the same, by chance)."""
    crashing = tmp_path / "python"
    crashing.write_text("#!/bin/sh\necho 'loading the worker' >&2\n"
                        "(sleep 0.5; echo 'ImportError: libcudart.so.12: cannot open shared object file' >&2) &\n"
                        "exit 7\n")
    crashing.chmod(crashing.stat().st_mode | stat.S_IXUSR)
    client = WorkerClient(Interpreter(str(crashing)))
    stopped_clients.append(client)
    client.start()
    client.process.wait()
    with pytest.raises(WorkerDied, match=r"code 7\): loading the worker \| ImportError: libcudart.so.12"):
        client.poll()
