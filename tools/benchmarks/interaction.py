"""Generate Interaction, click to keys: 2 persons x 10 s at Standard quality, in the demo room, on CPU.

Times the whole ``isynth.generate_interaction`` call as a headless script makes it (the
panel's button runs the same work, spread over timer events): reading the settings, the
room's points, the request to the warm worker process, sampling (DPM-Solver++ 2M, 10 steps,
guided), the motion files back, placement, and the rigs, bodies and keys in Blender.
"cold" is the first click after the worker was stopped (process start, torch import,
checkpoint and text encoder load); "warm" clicks reuse the worker. The bundled checkpoint
is used when it exists, else a default-size network with random weights (the latency does
not depend on the weights).
"""

from __future__ import annotations

import importlib
import tempfile
import time
from pathlib import Path

import bpy

SECONDS = 10.0
TARGET_WARM_S = 2.0  # issue 7
WARM_RUNS = 3


def _clear_generated(before: set) -> None:
    for obj in [o for o in bpy.data.objects if o.name not in before]:
        bpy.data.objects.remove(obj)
    for action in list(bpy.data.actions):
        if "isynth_prompt" in action:
            bpy.data.actions.remove(action)


def run(context: dict) -> list[dict]:
    module = context["module_name"]
    service = importlib.import_module(f"{module}.addon.core.worker_service")
    settings_module = importlib.import_module(f"{module}.addon.core.settings")
    prefs = bpy.context.preferences.addons[module].preferences
    checkpoint = settings_module.BUNDLED_CHECKPOINT
    which = "bundled"
    folder = tempfile.TemporaryDirectory(prefix="isynth_bench_interaction_")
    if not checkpoint.is_file():
        from benchmarks.generation import write_random_checkpoint

        checkpoint, which = write_random_checkpoint(Path(folder.name)), "random weights, default size"
    prefs.checkpoint_path = str(checkpoint)
    prefs.compute_device = "CPU"
    bpy.ops.isynth.add_demo_room()
    room = next(c for c in bpy.data.collections if c.name.startswith("Care Room"))
    before = {o.name for o in bpy.data.objects}
    arguments = dict(prompt="a nurse helps a patient who fell get up", roles="staff,patient", seconds=SECONDS,
                     seed=0, quality="STANDARD", scene=room.name)

    frames: list[int] = []

    def click() -> tuple[float, float]:
        started = time.perf_counter()
        result = bpy.ops.isynth.generate_interaction(**arguments)
        elapsed = time.perf_counter() - started
        if result != {"FINISHED"}:
            raise RuntimeError(f"generate_interaction returned {result}")
        status = bpy.context.window_manager.isynth_status.generation_message
        round_trip = float(status.split(" in ")[1].split(" s")[0])  # "Generated 1 variation(s) in X s on cpu: ..."
        frames.append(bpy.context.scene.frame_end - bpy.context.scene.frame_start + 1)
        _clear_generated(before)
        return elapsed, round_trip

    service.stop_worker()
    cold, cold_worker = click()
    warm = [click() for _ in range(WARM_RUNS)]
    service.stop_worker()
    folder.cleanup()
    return [
        {"name": "Generate Interaction, click to keys, 2 persons x 10 s, Standard, CPU (cold: new worker)",
         "samples_s": [cold], "worker_round_trip_s": round(cold_worker, 3), "checkpoint": which},
        {"name": "Generate Interaction, click to keys, 2 persons x 10 s, Standard, CPU (warm)",
         "samples_s": [w for w, _ in warm], "worker_round_trip_s": round(min(s for _, s in warm), 3),
         "target_s": TARGET_WARM_S, "checkpoint": which, "frames_per_person": frames[-1]},
    ]
