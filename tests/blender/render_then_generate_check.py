"""Run by test_render_then_generate.py in a fresh interpreter: in one Blender process, render a
Workbench still of the demo room, then generate with the bundled checkpoint in this process (as
the batch renderer and scripts calling core.api do) and through Generate Interaction headless.
The first text-encoder load in Blender's process after a render used to crash it
(core/triton_guard.py).

Usage: python render_then_generate_check.py OUT_DIR  (BLENDER_USER_RESOURCES must point at an empty folder)
Prints one JSON object with what it observed.
"""

import importlib
import json
import os
import sys

import bpy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import blender_session  # noqa: E402

out_dir = sys.argv[1]
seen: dict = {}
bpy.ops.wm.read_factory_settings(use_empty=True)
module = blender_session.enable_from_source()
seen["room"] = sorted(bpy.ops.isynth.add_demo_room())
scene = bpy.context.scene
scene.render.engine = "BLENDER_WORKBENCH"
scene.render.resolution_x, scene.render.resolution_y = 64, 48
scene.render.filepath = os.path.join(out_dir, "still.png")
bpy.ops.render.render(write_still=True)
seen["rendered"] = os.path.isfile(scene.render.filepath)
generate = importlib.import_module(f"{module}.addon.core.generate")
request = generate.GenerationRequest(prompt="a nurse helps a patient who fell get up", roles=("staff", "patient"),
                                     seconds=2.0, fps=None, seed=0, device="cpu")
result = generate.load_generator(generate.BUNDLED_CHECKPOINT, "cpu").generate(request)
seen["in_process"] = list(result.joints.shape)
before = {o.name for o in bpy.data.objects}
seen["generate"] = sorted(bpy.ops.isynth.generate_interaction(
    prompt="a nurse helps a patient who fell get up", roles="staff,patient", seconds=2.0, seed=0, quality="DRAFT"))
seen["new_rigs"] = sorted(o.name for o in bpy.data.objects if o.name not in before and o.type == "ARMATURE")
seen["triton"] = "absent" if sys.modules.get("triton", 0) is None else "loaded" if "triton" in sys.modules else "untouched"
print(json.dumps(seen))
