"""Blender's side of the sampler service: start, talk to, and stop the worker process.

No Blender here either (the operators poll :meth:`WorkerClient.poll` from a timer).
The worker is started on first use with the interpreter the preferences choose
(``environment.select_interpreter``) and kept warm; if it dies, the next request
starts a new one. A worker whose GPU failed says so (``"fatal"`` on its error reply) and
exits; the client waits for that exit, so the very next request already starts a fresh one.
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
# How long a dead (or exiting) worker's last output may take to arrive through its pipes, s.
DRAIN_TIMEOUT_S = 2.0
# How long a worker that replied "fatal" may take to exit before it is killed, s.
RETIRE_TIMEOUT_S = 5.0


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
    _readers: tuple[threading.Thread, ...] = ()

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
        self._readers = (threading.Thread(target=self._read_stdout, args=(self.process,), daemon=True),
                         threading.Thread(target=self._read_stderr, args=(self.process,), daemon=True))
        for reader in self._readers:
            reader.start()

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
        """Every reply received so far. Raises WorkerDied when the process is gone and said nothing more.

        Never blocks while the worker lives; once it has exited, its pipes are read to the end
        first (at most DRAIN_TIMEOUT_S), so a reply written just before the exit is not lost.
        """
        messages = self._take_replies()
        if not messages and self.process is not None and self.process.poll() is not None:
            self._drain()
            messages = self._take_replies()
            if not messages:
                raise WorkerDied(self.last_words())
        if any(message.get("fatal") for message in messages):
            self._retire()
        return messages

    def _take_replies(self) -> list[dict]:
        messages = []
        while True:
            try:
                messages.append(self.replies.get_nowait())
            except queue.Empty:
                return messages

    def _drain(self) -> None:
        """Let the reader threads take the exited process's last lines (both pipes are at EOF)."""
        for reader in self._readers:
            reader.join(DRAIN_TIMEOUT_S)

    def _retire(self) -> None:
        """The worker replied that its GPU failed and exits by itself: wait for that (kill it
        after RETIRE_TIMEOUT_S), so that ``alive`` is False and the next ``send`` starts a new one."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=RETIRE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

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
            if message.get("fatal"):
                self._retire()
            return message
        raise TimeoutError(f"the worker did not answer request {request_id} within {timeout_s:.0f} s")

    def cancel(self) -> None:
        if self.alive:
            self.send({"type": "cancel"})

    def kill(self) -> None:
        """End the worker process at once (it does not answer); the next ``send`` starts a new one."""
        if self.alive:
            self.process.kill()
            self.process.wait()

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
        """One line on how the worker ended: its exit code and its last stderr lines.

        Called when the worker is gone or going (a broken pipe): it waits for the exit and for
        the stderr reader to reach the end (at most DRAIN_TIMEOUT_S each), so the lines that
        explain a crash are in it rather than still in the pipe.
        """
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=DRAIN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
            else:
                self._drain()
        tail = " | ".join(self.stderr_tail[-3:]) or "no output"
        return f"the generation worker exited (code {code}): {tail}"
