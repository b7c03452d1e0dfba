"""The one warm generation worker of this Blender session (no Blender here).

``client_for`` hands out the running :class:`WorkerClient` for an interpreter, starting a new
process on first use, after the old one died, or when the preferences chose another
interpreter. ``stop_worker`` ends it; the add-on calls it on unregister, and ``atexit`` calls
it when Blender quits (the operators' ``register`` adds it to ``atexit`` and ``unregister``
takes it off again; the worker also exits by itself when its stdin closes, so even a killed
Blender leaves no worker behind).
"""

from __future__ import annotations

import threading

from .environment import Interpreter
from .worker_client import WorkerClient

_lock = threading.Lock()
_client: WorkerClient | None = None


def client_for(interpreter: Interpreter) -> WorkerClient:
    """The warm worker client for ``interpreter`` (started if needed)."""
    global _client
    with _lock:
        if _client is not None and _client.interpreter != interpreter:
            _client.stop()
            _client = None
        if _client is None:
            _client = WorkerClient(interpreter)
        _client.start()
        return _client


def current_client() -> WorkerClient | None:
    """The client if a worker was started in this session (alive or not), else None."""
    return _client


def worker_alive() -> bool:
    return _client is not None and _client.alive


def stop_worker() -> None:
    """Stop the worker process, if any (idempotent)."""
    global _client
    with _lock:
        if _client is not None:
            _client.stop()
            _client = None

