"""Benchmarks (`./run bench`): each measured in one run on this machine; medians reported.

Writes --out/results.json (default out/bench/) and prints a table: the groups run now replace their
earlier rows, the other groups' rows stay (each row says when it was measured). Ratios are
measured side by side in the same process because this machine is shared and noisy.
Groups live in tools/benchmarks/ (``--only foundation,people,reconstruction,generation``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

from throwaway_blender_user import use_throwaway_user_folder  # noqa: E402

use_throwaway_user_folder("isynth_bench_user_")

import bpy  # noqa: E402

import blender_session  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # core and bridge modules are imported directly too
GROUPS = ("foundation", "people", "reconstruction", "generation", "data", "interaction", "render", "retarget")


def summarise(row: dict) -> dict:
    samples = row.pop("samples_s")
    return {
        "name": row.pop("name"),
        "median_s": round(statistics.median(samples), 6),
        "min_s": round(min(samples), 6),
        "runs": len(samples),
        **row,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "bench")
    parser.add_argument("--only", default=",".join(GROUPS), help="comma-separated groups")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    started = time.perf_counter()
    module_name = blender_session.enable_from_source()
    context = {"repo_root": REPO_ROOT, "module_name": module_name, "enable_s": time.perf_counter() - started,
               "out": args.out}
    results = []
    for group in args.only.split(","):
        module = importlib.import_module(f"benchmarks.{group}")
        for row in module.run(context):
            results.append({"group": group, **summarise(row), "date": time.strftime("%Y-%m-%dT%H:%M:%S")})
            print(f"bench: {results[-1]}", file=sys.stderr)
    payload = {
        "blender": bpy.app.version_string,
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "results": kept_rows(args.out / "results.json", {r["group"] for r in results}) + results,
    }
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    width = max(len(r["name"]) for r in results)
    print(f"{'benchmark':<{width}}  {'median':>11}  {'min':>11}  runs  notes")
    for r in results:
        notes = ", ".join(f"{k}={v}" for k, v in r.items() if k not in {"group", "name", "median_s", "min_s", "runs"})
        print(f"{r['name']:<{width}}  {r['median_s'] * 1e3:>9.2f}ms  {r['min_s'] * 1e3:>9.2f}ms  {r['runs']:>4}  {notes}")
    print(f"bench: wrote {args.out / 'results.json'}")
    return 0


def kept_rows(path: Path, replaced: set[str]) -> list[dict]:
    """The rows of an earlier results file whose group was not run now ([] without a readable one)."""
    try:
        rows = json.loads(path.read_text()).get("results", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [row for row in rows if isinstance(row, dict) and row.get("group") not in replaced]


if __name__ == "__main__":
    sys.exit(main())
