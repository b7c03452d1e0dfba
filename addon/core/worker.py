"""The sampler service: a separate process that keeps a checkpoint warm (DESIGN.md, Processes).

    python -m addon.core.worker            (or: python path/to/worker.py, any Python with torch)

Protocol: JSON lines. Requests on stdin, one per line; replies on stdout, one per
line, each carrying the request's ``id``. Nothing else is ever written to stdout
(logs go to stderr), and the worker never imports bpy.

    {"id": 1, "type": "ping"}
        -> {"id": 1, "type": "pong", "python": "3.11.7", "torch": "2.14.1", "cuda": false}
    {"id": 2, "type": "generate", "checkpoint": PATH, "device": "auto", "clip_weights": "",
     "out_dir": DIR, "request": {"prompt", "roles", "seconds", "fps", "seed", "guidance",
     "sampler", "steps", "anchor_prompt", "hand_contact", "smoothing_s",
     "scene_points_file": optional .npy (N, 3)}}
        -> {"id": 2, "type": "progress", "step": k, "total": n}            (per sampler step)
        -> {"id": 2, "type": "result", "motions": [.npz per person], "joints": .npy,
            "fps", "device", "seconds_taken", "steps", "understood_as": [[caption, weight], ...],
            "hands_placed": bool, "caveat": str ("" or one line: the action is weak in this checkpoint)}
        or {"id": 2, "type": "cancelled"} or {"id": 2, "type": "error", "message": ...}
        An error the GPU raised (``device_failed``) carries ``"fatal": true`` and the worker
        exits right after it (code EXIT_DEVICE_FAILED): the next request gets a fresh process.
    {"id": 3, "type": "cancel"}   stops the running generation within one sampler step
    {"type": "shutdown"}          exits (so does the end of stdin)

Requests run one at a time on a worker thread; the reader thread stays free to take
``cancel`` and ``shutdown`` while a generation runs. Every other failure is an error reply
and the worker lives on.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import traceback
from pathlib import Path

PROTOCOL_VERSION = 1
EXIT_DEVICE_FAILED = 3


class _Replies:
    """Serialises reply lines from both threads onto stdout."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: dict) -> None:
        line = json.dumps(message)
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _ping(message: dict) -> dict:
    import platform

    import torch

    return {
        "id": message.get("id"),
        "type": "pong",
        "protocol": PROTOCOL_VERSION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": bool(torch.cuda.is_available()),
    }


def _generate(message: dict, replies: _Replies, cancel: threading.Event) -> dict:
    import numpy as np

    from .generate import GenerationRequest, load_generator
    from .motion.amass import write_amass_npz

    fields = dict(message["request"])
    scene_file = fields.pop("scene_points_file", None)
    if scene_file:
        fields["scene_points"] = np.load(scene_file, allow_pickle=False)
    request = GenerationRequest(**{**fields, "roles": tuple(fields.get("roles", ()))})
    generator = load_generator(message["checkpoint"], message.get("device", "auto"), message.get("clip_weights") or None)

    def progress(step: int, total: int) -> bool:
        replies.send({"id": message.get("id"), "type": "progress", "step": step, "total": total})
        return cancel.is_set()

    result = generator.generate(request, callback=progress)
    out_dir = Path(message["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for index, motion in enumerate(result.motions):
        path = out_dir / f"person_{index}_{motion.role}.npz"
        write_amass_npz(path, motion)
        files.append(str(path))
    joints = out_dir / "joints.npy"
    np.save(joints, result.joints)
    return {
        "id": message.get("id"),
        "type": "result",
        "motions": files,
        "joints": str(joints),
        "fps": result.fps,
        "device": result.device,
        "seconds_taken": result.seconds_taken,
        "steps": result.steps,
        "understood_as": [[text, weight] for text, weight in result.understood_as],
        "hands_placed": result.hands_placed,
        "caveat": result.caveat,
    }


def device_failed(error: BaseException) -> bool:
    """Whether ``error`` came from the GPU, after which this process must not sample again.

    A CUDA error (a device-side assert, an illegal memory access, a lost device) leaves the
    process's CUDA context unusable: every later request would fail the same way, or
    silently compute garbage. torch raises them as ``torch.cuda.*`` errors or as
    RuntimeError subclasses whose message says "CUDA" (``torch.AcceleratorError``, out of
    memory). Checks made before any CUDA work ("no CUDA GPU") are ValueErrors and do not count.
    """
    module = type(error).__module__ or ""
    return module.startswith("torch.cuda") or (isinstance(error, RuntimeError) and "CUDA" in str(error))


def _run_jobs(jobs: "queue.Queue[dict | None]", replies: _Replies, cancel: threading.Event) -> None:
    while True:
        message = jobs.get()
        if message is None:
            return
        cancel.clear()
        try:
            if message.get("type") == "ping":
                replies.send(_ping(message))
            else:
                replies.send(_generate(message, replies, cancel))
        except Exception as error:  # every failure is reported
            if type(error).__name__ == "SamplingCancelled":
                replies.send({"id": message.get("id"), "type": "cancelled"})
                continue
            traceback.print_exc(file=sys.stderr)
            fatal = device_failed(error)
            reply = {"id": message.get("id"), "type": "error", "message": f"{type(error).__name__}: {error}"}
            replies.send({**reply, "fatal": True} if fatal else reply)
            if fatal:
                # The reply is out; end the whole process now. The reader thread is blocked on
                # stdin and a poisoned CUDA context can hang an orderly interpreter exit.
                sys.stderr.flush()
                os._exit(EXIT_DEVICE_FAILED)


def serve(stdin=None, stdout=None) -> int:
    """Read requests until ``shutdown`` or end of input; returns the exit code."""
    stdin = stdin or sys.stdin
    replies = _Replies(stdout or sys.stdout)
    jobs: queue.Queue = queue.Queue()
    cancel = threading.Event()
    runner = threading.Thread(target=_run_jobs, args=(jobs, replies, cancel), daemon=True)
    runner.start()
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError as error:
            replies.send({"id": None, "type": "error", "message": f"not JSON: {error}"})
            continue
        kind = message.get("type")
        if kind == "shutdown":
            break
        if kind == "cancel":
            cancel.set()
        elif kind in ("ping", "generate"):
            jobs.put(message)
        else:
            replies.send({"id": message.get("id"), "type": "error", "message": f"unknown request type {kind!r}"})
    cancel.set()
    jobs.put(None)
    runner.join(timeout=10)
    return 0


if __name__ == "__main__":
    # Run as a file (python .../addon/core/worker.py): make the package importable.
    if __package__ in (None, ""):
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        from addon.core.worker import serve as _serve

        sys.exit(_serve())
    sys.exit(serve())
