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
sys.path.insert(0, str(REPO_ROOT))  # core and bridge modules are imported directly too


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


def _bench_rigs(count: int):
    """``count`` SMPL armatures built from a plausible T-pose skeleton."""
    import numpy as np

    from addon.bridge import people

    rest = np.array([
        [0.0, -0.22, 0.03], [0.06, -0.31, 0.02], [-0.06, -0.31, 0.02], [0.0, -0.11, 0.0],
        [0.11, -0.68, 0.02], [-0.11, -0.68, 0.02], [0.0, 0.03, 0.03], [0.07, -1.08, -0.02],
        [-0.07, -1.08, -0.02], [0.0, 0.08, 0.03], [0.12, -1.14, 0.1], [-0.12, -1.14, 0.1],
        [0.0, 0.29, 0.0], [0.08, 0.2, 0.01], [-0.08, 0.2, 0.01], [0.01, 0.38, 0.05],
        [0.19, 0.23, -0.02], [-0.19, 0.23, -0.02], [0.45, 0.21, -0.04], [-0.45, 0.21, -0.04],
        [0.71, 0.22, -0.04], [-0.71, 0.22, -0.04], [0.8, 0.21, -0.05], [-0.8, 0.21, -0.05],
    ])
    collection = bpy.data.collections.new("Bench People")
    bpy.context.scene.collection.children.link(collection)
    return [people.create_person(collection, f"Bench {i}", rest).armature for i in range(count)]


def bench_keyframing(frames: int = 3000, rigs: int = 2) -> list[dict]:
    """Bulk keyframing vs keyframe_insert on the same rigs and poses, side by side."""
    import numpy as np

    from addon.bridge import people
    from addon.bridge.armatures import bone_rest_rotations
    from addon.core.rig_pose import bone_channels_from_smpl
    from addon.core.rotations import axis_angle_to_matrix
    from addon.core.skeleton import JOINT_NAMES

    rng = np.random.default_rng(0)
    armatures = _bench_rigs(rigs)
    poses = [axis_angle_to_matrix(rng.normal(scale=0.5, size=(frames, 24, 3))) for _ in armatures]
    transls = [rng.normal(size=(frames, 3)) for _ in armatures]

    started = time.perf_counter()
    for armature, local, transl in zip(armatures, poses, transls):
        people.apply_smpl_poses(armature, local, transl, "bulk", fps=30.0)
    bulk = time.perf_counter() - started

    # The anchors' way: set each pose bone and call keyframe_insert, frame by frame.
    started = time.perf_counter()
    for armature, local, transl in zip(armatures, poses, transls):
        armature.animation_data.action = None
        quats, location = bone_channels_from_smpl(
            local, transl, people.rest_joints_of(armature), bone_rest_rotations(armature, JOINT_NAMES)
        )
        bones = [armature.pose.bones[name] for name in JOINT_NAMES]
        for t in range(frames):
            bones[0].location = location[t]
            bones[0].keyframe_insert("location", frame=t + 1)
            for j, bone in enumerate(bones):
                bone.rotation_quaternion = quats[t, j]
                bone.keyframe_insert("rotation_quaternion", frame=t + 1)
    per_key = time.perf_counter() - started
    label = f"{rigs} rigs x {frames} frames"
    return [
        {"name": f"keyframe {label}: bulk foreach_set", "samples_s": [bulk]},
        {"name": f"keyframe {label}: keyframe_insert", "samples_s": [per_key], "bulk_speedup": round(per_key / bulk, 1)},
    ]


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
    for row in bench_keyframing():
        results.append(summarise(row.pop("name"), row))
    payload = {
        "blender": bpy.app.version_string,
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "results": results,
    }
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    width = max(len(r["name"]) for r in results)
    print(f"{'benchmark':<{width}}  {'median':>10}  {'min':>10}  runs  notes")
    for r in results:
        notes = ", ".join(f"{k}={v}" for k, v in r.items() if k not in {"name", "median_s", "min_s", "runs"})
        print(f"{r['name']:<{width}}  {r['median_s'] * 1e3:>8.2f}ms  {r['min_s'] * 1e3:>8.2f}ms  {r['runs']:>4}  {notes}")
    print(f"bench: wrote {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
