"""Run clip jobs, one Blender process per clip, K at a time; retry a failed clip once.

A clip is done when ``DIR/clips/<clip_id>`` exists (it is renamed into place only when complete).
Children share the parent's process group, so killing the group (Ctrl-C, ``scancel``, ``kill --
-PGID``) stops them all; on Linux each child also dies with its parent (``PR_SET_PDEATHSIG``),
so an orphan never keeps writing a partial clip that a resumed run is redoing.
Each child's output goes to ``DIR/logs/<clip_id>.log``; the JSON log records every start,
finish, retry and failure with the tail of that output.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .progress import JsonLog, ProgressBar

POLL_S = 0.2
TAIL_CHARS = 1500


@dataclass
class Running:
    job: dict
    attempt: int
    process: subprocess.Popen
    started: float
    log_path: Path


@dataclass(frozen=True)
class RunResult:
    """Keys of the clips that finished, and of those that failed twice."""

    done: tuple[str, ...]
    failed: tuple[str, ...]


def clip_done(root: Path, clip_id: str) -> bool:
    return (root / "clips" / clip_id / "annotations.json").is_file()


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when its parent dies (Linux prctl; elsewhere nothing)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def run_clips(
    jobs: list[dict],
    root: Path,
    command: Callable[[dict], list[str]],
    workers: int,
    log: JsonLog,
    bar: ProgressBar,
    retries: int = 1,
    timeout_s: float | None = None,
) -> RunResult:
    """Run ``command(job)`` for every job (at most ``workers`` at once) until each clip is done
    or has failed ``1 + retries`` times. Interrupts terminate the children and re-raise."""
    queue = deque((job, 1) for job in jobs)
    running: list[Running] = []
    done: list[str] = []
    failed: list[str] = []
    total = len(jobs)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    bar.update(0, total, f"{workers} worker{'s' if workers != 1 else ''}")
    try:
        while queue or running:
            while queue and len(running) < workers:
                job, attempt = queue.popleft()
                log_path = root / "logs" / f"{job['clip_id']}.log"
                with open(log_path, "a", encoding="utf-8") as stream:
                    stream.write(f"=== attempt {attempt} ===\n")
                output = open(log_path, "a", encoding="utf-8")
                try:
                    process = subprocess.Popen(
                        command(job), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                    )
                finally:
                    output.close()
                running.append(Running(job, attempt, process, time.perf_counter(), log_path))
                log("clip_start", clip=job["clip_id"], key=job["key"], attempt=attempt, pid=process.pid)
            time.sleep(POLL_S)
            for item in list(running):
                code = item.process.poll()
                elapsed = time.perf_counter() - item.started
                if code is None and timeout_s is not None and elapsed > timeout_s:
                    item.process.kill()
                    code = item.process.wait()
                    log("clip_timeout", clip=item.job["clip_id"], seconds=round(elapsed, 1))
                if code is None:
                    continue
                running.remove(item)
                clip_id = item.job["clip_id"]
                if code == 0 and clip_done(root, clip_id):
                    done.append(item.job["key"])
                    log("clip_done", clip=clip_id, key=item.job["key"], attempt=item.attempt,
                        seconds=round(elapsed, 2))
                elif item.attempt <= retries:
                    log("clip_retry", clip=clip_id, key=item.job["key"], attempt=item.attempt, exit_code=code,
                        error=_tail(item.log_path))
                    queue.append((item.job, item.attempt + 1))
                else:
                    failed.append(item.job["key"])
                    log("clip_failed", clip=clip_id, key=item.job["key"], attempt=item.attempt, exit_code=code,
                        error=_tail(item.log_path), log=str(item.log_path))
                bar.update(len(done) + len(failed), total, f"{len(failed)} failed" if failed else "")
    except BaseException:
        for item in running:
            item.process.terminate()
        for item in running:
            try:
                item.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                item.process.kill()
        raise
    return RunResult(done=tuple(done), failed=tuple(failed))


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-TAIL_CHARS:]

