"""One click of Generate Interaction, run by the worker process: requests out, replies in.

A :class:`GenerationJob` sends one ``generate`` request per variation (seed, seed + 1, ...)
to the warm worker, one after another, and turns the worker's replies into a
:class:`JobStatus` each time :meth:`GenerationJob.poll` is called (the modal operator's timer
calls it; headless runs call :meth:`GenerationJob.run_blocking`). Nothing here touches
Blender: the job only gathers file paths of finished motions; the scene changes afterwards,
in one go, when every variation is done.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .generation_settings import GenerationSettings
from .worker_client import WorkerClient, WorkerDied

State = Literal["running", "cancelling", "done", "cancelled", "error"]
# A worker that has not answered a cancel within this long is stuck (a GPU hang, a step that
# never returns to the sampler's callback) and is killed, s.
CANCEL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class VariationResult:
    """One finished variation. motion_files: one AMASS .npz per person (role order);
    joints_file: (P, T, 22, 3) .npy; fps; device: where it ran ("cpu", "cuda:0");
    seconds: the worker's sampling time; understood_as: the training captions the prompt was
    anchored to, (caption, weight) heaviest first (empty: used as written); hands_placed: the
    decode put helpers' hands on the other person (the prompt implies touch); caveat: one line
    when the prompt was placed in an action the checkpoint does poorly, else ""."""

    seed: int
    motion_files: tuple[str, ...]
    joints_file: str
    fps: float
    device: str
    seconds: float
    understood_as: tuple[tuple[str, float], ...] = ()
    hands_placed: bool = False
    caveat: str = ""


@dataclass(frozen=True)
class JobStatus:
    """What the panel shows. progress: 0..1 over all variations; message: one line."""

    state: State
    progress: float
    message: str


@dataclass
class GenerationJob:
    """settings: what to generate; checkpoint: weights path; device: "auto", "cuda" or "cpu";
    clip_weights: local open_clip weights or ""; scene_points: (N, 3) metres in the model's
    room frame, or None; cancel_timeout_s: how long a cancel may go unanswered before the
    worker is killed (seconds)."""

    settings: GenerationSettings
    checkpoint: str
    device: str
    clip_weights: str = ""
    scene_points: np.ndarray | None = None
    cancel_timeout_s: float = CANCEL_TIMEOUT_S
    results: list[VariationResult] = field(default_factory=list)
    state: State = "running"
    error: str = ""
    _cancel_sent: float = 0.0
    _cancel_note: str = ""
    _client: WorkerClient | None = None
    _request_id: int | None = None
    _step: int = 0
    _total: int = 1
    _work_dir: Path | None = None
    _started: float = 0.0

    def start(self, client: WorkerClient) -> None:
        """Send the first variation's request to ``client`` (a started worker)."""
        self._client = client
        self._work_dir = Path(tempfile.mkdtemp(prefix="isynth_generate_"))
        self._started = time.perf_counter()
        self._send_next()

    @property
    def work_dir(self) -> Path | None:
        """Where the worker writes this job's motion files (removed by :meth:`cleanup`)."""
        return self._work_dir

    def _request(self, seed: int) -> dict:
        sampler, steps = self.settings.sampler_and_steps
        request = {
            "prompt": self.settings.prompt, "roles": list(self.settings.roles), "seconds": self.settings.seconds,
            "fps": self.settings.fps, "seed": seed, "guidance": self.settings.guidance,
            "sampler": sampler, "steps": steps, "anchor_prompt": bool(self.settings.anchor_prompt),
            "hand_contact": bool(self.settings.hand_contact), "smoothing_s": float(self.settings.smoothing_s),
        }
        if self.scene_points is not None:
            points_file = self._work_dir / "scene_points.npy"
            if not points_file.exists():
                np.save(points_file, np.asarray(self.scene_points, dtype=np.float32))
            request["scene_points_file"] = str(points_file)
        return request

    def _send_next(self) -> None:
        seed = self.settings.seeds[len(self.results)]
        out_dir = self._work_dir / f"seed_{seed}"
        self._step = 0
        self._request_id = self._client.send({
            "type": "generate", "checkpoint": self.checkpoint, "device": self.device,
            "clip_weights": self.clip_weights, "out_dir": str(out_dir), "request": self._request(seed),
        })

    def cancel(self) -> None:
        """Ask the worker to stop; the job ends as "cancelled" at its next reply."""
        if self.state == "running" and self._client is not None:
            self.state = "cancelling"
            self._cancel_sent = time.monotonic()
            try:
                self._client.cancel()
            except WorkerDied as died:
                self._fail(str(died))

    def poll(self) -> JobStatus:
        """Take every reply that arrived (never blocks) and return the new status.

        A cancel the worker has not answered within ``cancel_timeout_s`` kills the worker: the
        job ends cancelled and the next Generate starts a new one.
        """
        if self.state in ("running", "cancelling"):
            try:
                for message in self._client.poll():
                    self._take(message)
            except WorkerDied as died:
                self._fail(f"{died}. Blender is fine; the next Generate starts a new worker.")
        if self.state == "cancelling" and time.monotonic() - self._cancel_sent > self.cancel_timeout_s:
            self._client.kill()
            self.state = "cancelled"
            self._cancel_note = f" (the worker did not stop within {self.cancel_timeout_s:g} s and was ended)"
        return self.status()

    def run_blocking(self, timeout_s: float = 1800.0, on_progress=None, poll_s: float = 0.02) -> JobStatus:
        """Poll until the job ends (headless use). on_progress(status) after every poll."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.poll()
            if on_progress is not None:
                on_progress(status)
            if status.state in ("done", "cancelled", "error"):
                return status
            if time.monotonic() > deadline:
                self.cancel()
                self._fail(f"generation did not finish within {timeout_s:.0f} s")
                return self.status()
            time.sleep(poll_s)

    def _take(self, message: dict) -> None:
        if message.get("id") != self._request_id:
            return  # a stale reply (e.g. a cancelled earlier request)
        kind = message.get("type")
        if kind == "progress":
            self._step, self._total = int(message["step"]), max(int(message["total"]), 1)
        elif kind == "result":
            self.results.append(VariationResult(
                seed=self.settings.seeds[len(self.results)], motion_files=tuple(message["motions"]),
                joints_file=message["joints"], fps=float(message["fps"]), device=str(message["device"]),
                seconds=float(message["seconds_taken"]),
                understood_as=tuple((str(t), float(w)) for t, w in message.get("understood_as", ())),
                hands_placed=bool(message.get("hands_placed", False)),
                caveat=str(message.get("caveat", "")),
            ))
            if self.state == "cancelling":
                self.state = "cancelled"
            elif len(self.results) == self.settings.variations:
                self.state = "done"
            else:
                self._send_next()
        elif kind == "cancelled":
            self.state = "cancelled"
        elif kind == "error":
            restarted = " (the GPU failed: the next Generate starts a new worker)" if message.get("fatal") else ""
            self._fail(str(message.get("message", "unknown error")) + restarted)

    def _fail(self, message: str) -> None:
        self.state = "error"
        self.error = message

    def status(self) -> JobStatus:
        done = len(self.results)
        fraction = min(1.0, (done + self._step / self._total) / self.settings.variations)
        if self.state == "error":
            return JobStatus("error", fraction, self.error)
        if self.state == "cancelled":
            return JobStatus("cancelled", fraction, "Cancelled: the scene is unchanged" + self._cancel_note)
        if self.state == "done":
            seconds = time.perf_counter() - self._started
            understood = self.results[-1].understood_as
            said = f'; understood as "{understood[0][0]}"' if understood else ""
            said += "; hands placed on the other person" if self.results[-1].hands_placed else ""
            return JobStatus("done", 1.0,
                             f"Generated {done} variation(s) in {seconds:.1f} s on {self.device_used}{said}")
        if self.state == "cancelling":
            return JobStatus("cancelling", fraction, "Cancelling...")
        variation = f" (variation {done + 1}/{self.settings.variations})" if self.settings.variations > 1 else ""
        what = "Starting the generation worker" if self._step == 0 and not done else \
            f"Sampling step {self._step}/{self._total}"
        return JobStatus("running", fraction, what + variation)

    @property
    def device_used(self) -> str:
        """Where the last finished variation ran ("" before any)."""
        return self.results[-1].device if self.results else ""

    def cleanup(self) -> None:
        """Remove the job's temporary files (after the scene has been built from them)."""
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None
