"""Batch rendering: seconds per 100-frame 320x240 clip (Workbench, generation included), and the
throughput of 2 workers.

Each clip is what a render node does: its own process (``addon/batch/blender_render.py`` on the
bpy module) that imports torch, loads the checkpoint, generates 2 persons x 10 s at 10 fps in the
bundled sample reconstruction, builds the scene, computes the labels, renders 100 frames with
Workbench and encodes the H.264 MP4 (+ the skeleton video). The checkpoint is the bundled one
when it exists, else the shipped network size with RANDOM weights (latency does not depend on the
weights; ``benchmarks.generation`` does the same). DESIGN.md's target: < 60 s per clip on 2 cores.

Rows: one clip at a time with 2 render/torch threads (per-clip wall time, from the run's log, and
the stage timings of the clip's render.json); then 4 clips with ``--workers 2`` (1 thread each):
clips per minute; then the first row's clips with both people drawn as a rigged avatar from a
.blend (the stand-in body as a Mixamo-named rig: appended, retargeted and evaluated per frame for
its labels), side by side with the first row in the same run.

The rows are also written to ``<bench out>/render/results.json`` (``context["out"]``, default
``out/bench``) with the machine they ran on and its load: the docs' and README's render numbers
cite that file.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # alone: the repository root and tools/ on the path, as bench.py arranges
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.batch.cli import EXIT_OK, main  # noqa: E402
from addon.batch.progress import read_log  # noqa: E402
from addon.core.generate import BUNDLED_CHECKPOINT  # noqa: E402
from standin_avatar import write_standin_avatar  # noqa: E402  (tools/)

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "addon" / "assets" / "sample_reconstruction.npz"
TARGET_S = 60.0


def job_file(folder: Path, checkpoint: Path, variations: int, jittered: int, avatar: Path | None = None) -> Path:
    path = folder / f"bench_{variations}x{jittered}{'_avatar' if avatar else ''}.toml"
    rigged = f"""
[[avatars]]
name = "rigged"
blend = "{avatar}"
[randomize]
avatars = ["rigged"]
""" if avatar else ""
    path.write_text(rigged + f"""
[dataset]
name = "bench"
[[scenes]]
name = "sample"
bundle = "{SAMPLE}"
[[prompts]]
name = "help_up"
text = "a nurse helps a patient who fell get up"
roles = ["staff", "patient"]
label = "help_up"
variations = {variations}
[clip]
seconds = 10.0
fps = 10.0
width = 320
height = 240
[generation]
checkpoint = "{checkpoint}"
device = "cpu"
[cameras]
jittered = {jittered}
[outputs]
skeleton = true
""")
    return path


def render(config: Path, out: Path, workers: int, threads: int) -> float:
    started = time.perf_counter()
    code = main(["--config", str(config), "--out", str(out), "--workers", str(workers), "--threads", str(threads)])
    if code != EXIT_OK:
        raise RuntimeError(f"render bench failed ({code}); see {out / 'log.jsonl'}")
    return time.perf_counter() - started


def run(context: dict) -> list[dict]:
    rows = measure()
    record(rows, Path(context.get("out", REPO_ROOT / "out" / "bench")) / "render" / "results.json")
    return rows


def record(rows: list[dict], path: Path) -> None:
    """Write the rows (raw samples, median per row) and the machine that measured them to ``path``."""
    import bpy

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    payload = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "blender": bpy.app.version_string,
        "python": platform.python_version(), "cpu_count": os.cpu_count(), "usable_cores": cores,
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "results": [{**row, "median_s": round(statistics.median(row["samples_s"]), 2)} for row in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"bench render: wrote {path}", file=sys.stderr)


def measure() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="isynth_bench_render_") as tmp:
        folder = Path(tmp)
        if BUNDLED_CHECKPOINT.is_file():
            checkpoint, weights = BUNDLED_CHECKPOINT, "bundled checkpoint"
        else:
            from benchmarks.generation import write_random_checkpoint

            checkpoint, weights = write_random_checkpoint(folder), "shipped network size, random weights"
        single = folder / "single"
        render(job_file(folder, checkpoint, 2, 0), single, workers=1, threads=2)
        seconds = [e["seconds"] for e in read_log(single / "log.jsonl") if e["event"] == "clip_done"]
        rows = [{
            "name": "render 1 clip: 100 frames 320x240 Workbench + generation (2 persons x 10 s), 1 worker x 2 threads",
            "samples_s": seconds, "target_s": TARGET_S, "checkpoint": weights, "stages_median_s": stage_medians(single),
        }]
        wall = render(job_file(folder, checkpoint, 2, 1), folder / "pair", workers=2, threads=1)
        rows.append({
            "name": "render 4 clips (100 frames 320x240 each), 2 workers x 1 thread",
            "samples_s": [wall], "clips_per_minute": round(4 * 60.0 / wall, 2), "s_per_clip": round(wall / 4, 1),
            "checkpoint": weights,
        })
        blend = folder / "avatar.blend"
        vertices = write_standin_avatar(blend)
        rigged = folder / "rigged"
        render(job_file(folder, checkpoint, 2, 0, blend), rigged, workers=1, threads=2)
        rows.append({
            "name": f"render 1 clip as the first row, both persons on a rigged avatar ({vertices} vertices), "
                    "1 worker x 2 threads",
            "samples_s": [e["seconds"] for e in read_log(rigged / "log.jsonl") if e["event"] == "clip_done"],
            "target_s": TARGET_S, "checkpoint": weights, "stages_median_s": stage_medians(rigged),
        })
        return rows


def stage_medians(out: Path) -> dict[str, float]:
    """The median of every stage timing over the clips' render.json files."""
    stages: dict[str, list[float]] = {}
    for clip in sorted((out / "clips").iterdir()):
        for name, value in json.loads((clip / "render.json").read_text())["timings"].items():
            stages.setdefault(name, []).append(value)
    return {k: round(statistics.median(v), 2) for k, v in stages.items()}


if __name__ == "__main__":
    from throwaway_blender_user import use_throwaway_user_folder

    use_throwaway_user_folder("isynth_bench_user_")
    for row in run({"out": REPO_ROOT / "out" / "bench"}):
        samples = row.pop("samples_s")
        print(f"{row.pop('name')}: median {statistics.median(samples):.1f} s, {row}")
