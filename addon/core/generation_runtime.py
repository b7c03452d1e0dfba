"""The one generation that runs at a time in this Blender session, and the request to stop it.

Plain module state shared by the Generate operator (which runs the job), the Cancel operator
and the panel (which only read it). Thread-safe enough for its use: the flag is an Event and
the rest is replaced, never mutated, from Blender's main thread.
"""

from __future__ import annotations

import threading

from .generation_job import GenerationJob, JobStatus

cancel_requested = threading.Event()
_active: GenerationJob | None = None
last_status: JobStatus | None = None


def begin(job: GenerationJob) -> None:
    global _active, last_status
    cancel_requested.clear()
    _active, last_status = job, job.status()


def active_job() -> GenerationJob | None:
    return _active


def update(status: JobStatus) -> None:
    global last_status
    last_status = status


def end() -> None:
    global _active
    _active = None
    cancel_requested.clear()


def abandon() -> None:
    """Blender drops the running generation (a file loads, the extension is disabled): ask the
    worker to stop, remove the job's files and forget it, so the next Generate may run."""
    job = _active
    if job is not None:
        job.cancel()
        job.cleanup()
    end()


def request_cancel() -> bool:
    """Ask the running generation to stop; False when none runs."""
    if _active is None:
        return False
    cancel_requested.set()
    return True
