"""Blender's side of the sampler service: start, talk to, and stop the worker process.

No Blender here either (the operators poll :meth:`WorkerClient.poll` from a timer).
The worker is started on first use with the interpreter the preferences choose
(``environment.select_interpreter``) and kept warm; if it dies, the next request
starts a new one.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .environment import Interpreter

ADDON_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the ``addon`` package


class WorkerDied(RuntimeError):
    """The worker process exited (crash, out of memory, killed); the message has its last words."""


@dataclass
class WorkerClient:
    """One worker process and its reply queue.

    interpreter: which Python runs it (its PYTHONPATH gets the add-on's root).
    """

    interpreter: Interpreter
    process: subprocess.Popen | None = None
    replies: "queue.Queue[dict]" = field(default_factory=queue.Queue)
    stderr_tail: list[str] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the worker if it is not running."""
        if self.alive:
            return
        env = Interpreter(self.interpreter.executable, (str(ADDON_ROOT), *self.interpreter.extra_paths)).environment()
        self.process = subprocess.Popen(
            [self.interpreter.executable, "-m", "addon.core.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1, env=env, cwd=str(ADDON_ROOT),
        )
        self.replies = queue.Queue()
        self.stderr_tail = []
        threading.Thread(target=self._read_stdout, args=(self.process,), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self.process,), daemon=True).start()

    def _read_stdout(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            try:
                self.replies.put(json.loads(line))
            except json.JSONDecodeError:
                self.stderr_tail.append(f"(stdout) {line.rstrip()}")

    def _read_stderr(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            self.stderr_tail = (self.stderr_tail + [line.rstrip()])[-20:]

    def send(self, message: dict) -> int:
        """Send one request (an ``id`` is added); returns the id. Starts the worker if needed."""
        self.start()
        message = {**message, "id": message.get("id", next(self._ids))}
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self.last_words()) from None
        return message["id"]

    def poll(self) -> list[dict]:
        """Every reply received so far (never blocks). Raises WorkerDied when the process is gone."""
        messages = []
        while True:
            try:
                messages.append(self.replies.get_nowait())
            except queue.Empty:
                break
        if not messages and self.process is not None and self.process.poll() is not None:
            raise WorkerDied(self.last_words())
        return messages

    def wait_for(self, request_id: int, timeout_s: float, on_progress=None) -> dict:
        """Block until the final reply for ``request_id`` (headless use); progress goes to ``on_progress``."""
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                message = self.replies.get(timeout=0.1)
            except queue.Empty:
                if not self.alive:
                    raise WorkerDied(self.last_words()) from None
                continue
            if message.get("id") != request_id:
                continue
            if message.get("type") == "progress":
                if on_progress is not None:
                    on_progress(message["step"], message["total"])
                continue
            return message
        raise TimeoutError(f"the worker did not answer request {request_id} within {timeout_s:.0f} s")

    def cancel(self) -> None:
        if self.alive:
            self.send({"type": "cancel"})

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the worker to exit; kill it if it does not."""
        if self.process is None:
            return
        if self.alive:
            try:
                self.process.stdin.write(json.dumps({"type": "shutdown"}) + "\n")
                self.process.stdin.flush()
                self.process.wait(timeout=timeout_s)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        self.process = None

    def last_words(self) -> str:
        code = self.process.poll() if self.process is not None else None
        tail = " | ".join(self.stderr_tail[-3:]) or "no output"
        return f"the generation worker exited (code {code}): {tail}"
