"""Enabling, registration, the demo room and a Workbench still."""

import subprocess
import sys

import bpy

from . import repeat


def run(context: dict) -> list[dict]:
    repo_root, module_name = context["repo_root"], context["module_name"]
    script = (
        "import time, sys; t = time.perf_counter();"
        "import addon.core.api, addon.core.room, addon.core.environment;"
        "print(time.perf_counter() - t, 'torch' in sys.modules)"
    )
    import_samples, torch_loaded = [], False
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", script], cwd=repo_root, capture_output=True, text=True, check=True)
        seconds, loaded = out.stdout.split()
        import_samples.append(float(seconds))
        torch_loaded |= loaded == "True"
    module = sys.modules[module_name]

    def cycle():
        module.unregister()
        module.register()

    scene = bpy.context.scene
    rows = [
        {"name": "enable extension (first, from source)", "samples_s": [context["enable_s"]]},
        {"name": "import addon.core (fresh process)", "samples_s": import_samples, "torch_imported": torch_loaded},
        {"name": "unregister + register", "samples_s": repeat(cycle, 20)},
        {"name": "isynth.add_demo_room", "samples_s": repeat(lambda: bpy.ops.isynth.add_demo_room(), 10)},
    ]
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 320, 240, 100
    bpy.ops.render.render(write_still=False)  # the first render compiles shaders
    rows.append(
        {"name": "Workbench still 320x240 (demo room)", "samples_s": repeat(lambda: bpy.ops.render.render(write_still=False), 5)}
    )
    return rows
