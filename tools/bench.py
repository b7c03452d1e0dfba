"""Benchmarks (`./run bench`): each measured several times in one run; medians reported.

Writes --out/results.json (default out/bench/) and prints a table. Ratios are
measured side by side in the same process because this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from throwaway_blender_user import use_throwaway_user_folder  # noqa: E402

use_throwaway_user_folder("isynth_bench_user_")

import bpy  # noqa: E402

import blender_session  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def repeat(function, times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def bench_core_import() -> dict:
    """Importing every addon.core module in a fresh interpreter, and whether torch came along."""
    script = (
        "import time, sys; t = time.perf_counter();"
        "import addon.core.api, addon.core.room, addon.core.environment;"
        "print(time.perf_counter() - t, 'torch' in sys.modules)"
    )
    samples, torch_loaded = [], False
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        seconds, loaded = out.stdout.split()
        samples.append(float(seconds))
        torch_loaded |= loaded == "True"
    return {"samples_s": samples, "torch_imported": torch_loaded}


def bench_register_cycle(module_name: str) -> dict:
    module = sys.modules[module_name]

    def cycle():
        module.unregister()
        module.register()

    return {"samples_s": repeat(cycle, 20)}


def bench_add_demo_room() -> dict:
    def add():
        bpy.ops.isynth.add_demo_room()

    return {"samples_s": repeat(add, 10)}


def bench_render_still(width: int = 320, height: int = 240) -> dict:
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100

    def render():
        bpy.ops.render.render(write_still=False)

    render()  # the first render compiles shaders; measure steady state separately
    return {"samples_s": repeat(render, 5), "resolution": [width, height]}


def summarise(name: str, result: dict) -> dict:
    samples = result.pop("samples_s")
    return {
        "name": name,
        "median_s": round(statistics.median(samples), 6),
        "min_s": round(min(samples), 6),
        "runs": len(samples),
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "bench")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    started = time.perf_counter()
    module_name = blender_session.enable_from_source()
    enable_s = [time.perf_counter() - started]
    results = [
        summarise("enable extension (first, from source)", {"samples_s": enable_s}),
        summarise("import addon.core (fresh process)", bench_core_import()),
        summarise("unregister + register", bench_register_cycle(module_name)),
        summarise("isynth.add_demo_room", bench_add_demo_room()),
        summarise("Workbench still 320x240 (demo room)", bench_render_still()),
    ]
    payload = {
        "blender": bpy.app.version_string,
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "results": results,
    }
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    width = max(len(r["name"]) for r in results)
    print(f"{'benchmark':<{width}}  {'median':>10}  {'min':>10}  runs")
    for r in results:
        print(f"{r['name']:<{width}}  {r['median_s'] * 1e3:>8.2f}ms  {r['min_s'] * 1e3:>8.2f}ms  {r['runs']}")
    print(f"bench: wrote {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
