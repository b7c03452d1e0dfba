"""The product's main job on its embedded defaults (`./run demo`).

Today: enable the extension headless, build the demo care room with its
monitoring camera, save a .blend and render a still; then write a short
procedural motion as an AMASS-style .npz, import it through
``isynth.import_smpl_motion`` onto the bundled stand-in body, and render it posed.
Then the bundled sample Teton sequence is reconstructed, imported with
``isynth.import_reconstruction`` and rendered through its recorded camera. Last, the bundled
checkpoint generates "a nurse helps a patient who fell get up" in that room through
``isynth.generate_interaction`` (the panel's button, headless) and the clip is rendered to MP4.
Later issues extend this until it renders a labelled clip of a generated
interaction in a reconstructed room.

Writes under --out (default out/demo/): demo.blend, still.png, wave.npz,
person.blend, person.png, sample_reconstruction.npz, reconstruction.blend,
reconstruction.png, generated.mp4, generated.blend, generated.png, report.json.
Each file is written to a temporary name first and renamed when complete.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Before bpy loads: a throwaway Blender user folder, never the user's own configuration.
from throwaway_blender_user import use_throwaway_user_folder  # noqa: E402

use_throwaway_user_folder("isynth_demo_user_")

import bpy  # noqa: E402

import blender_session  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from addon.core.body.model import load_body_model  # noqa: E402
from addon.core.demo_motion import grounded, waving_motion  # noqa: E402
from addon.core.motion.amass import write_amass_npz  # noqa: E402
from addon.core.recon.bundle import write_bundle  # noqa: E402
from addon.core.recon.pipeline import ReconstructionConfig, reconstruct  # noqa: E402
from addon.core.recon.sequence import read_sequence  # noqa: E402

SAMPLE_SEQUENCE = Path(__file__).resolve().parents[1] / "addon" / "assets" / "sample_sequence"


def configure_render(scene: bpy.types.Scene, width: int, height: int) -> None:
    """Workbench (fast, no GPU needed) with flat material colours, shadows and cavity."""
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "MATERIAL"
    shading.show_shadows = False  # studio light without shadows keeps the walls readable
    shading.show_cavity = True
    scene.render.image_settings.file_format = "PNG"


def render_still(scene: bpy.types.Scene, path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial.png")
    scene.render.filepath = str(partial)
    bpy.ops.render.render(write_still=True)
    os.replace(partial, path)


def save_blend(path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial.blend")
    bpy.ops.wm.save_as_mainfile(filepath=str(partial), copy=True, compress=True)
    os.replace(partial, path)


DEMO_PROMPT = "a nurse helps a patient who fell get up"


def generate_in_room(collection, scene: bpy.types.Scene, out: Path) -> dict | None:
    """Click Generate Interaction headless: DEMO_PROMPT, staff + patient, 8 s, Best quality,
    in the reconstructed room ``collection``; render a short MP4 of it through the recorded
    camera. None (with a message) when no checkpoint is bundled yet."""
    from addon.bridge.render_video import set_video_output
    from addon.core.generate import BUNDLED_CHECKPOINT

    if not BUNDLED_CHECKPOINT.is_file():
        print(f"demo: {BUNDLED_CHECKPOINT} is missing; skipping the generated interaction", file=sys.stderr)
        return None
    before = {o.name for o in bpy.data.objects}
    started = time.perf_counter()
    result = bpy.ops.isynth.generate_interaction(prompt=DEMO_PROMPT, roles="staff,patient", seconds=8.0, seed=0,
                                                 quality="BEST", scene=collection.name,
                                                 fps=0, set_scene_fps=True)  # the monitoring camera's 10 fps
    if result != {"FINISHED"}:
        raise RuntimeError(f"isynth.generate_interaction returned {result}")
    click_s = time.perf_counter() - started
    status = bpy.context.window_manager.isynth_status
    rigs = sorted(o.name for o in bpy.data.objects if o.type == "ARMATURE" and o.name not in before)
    video = out / "generated.mp4"
    partial = out / ".generated.partial.mp4"
    set_video_output(scene, str(partial))
    scene.render.use_file_extension = False
    bpy.ops.render.render(animation=True)
    os.replace(partial, video)
    if hasattr(scene.render.image_settings, "media_type"):  # Blender 5.0: the kind first, then the format
        scene.render.image_settings.media_type = "IMAGE"
    scene.render.image_settings.file_format = "PNG"
    return {"prompt": DEMO_PROMPT, "roles": ["staff", "patient"], "rigs": rigs, "message": status.generation_message,
            "device": status.generation_device, "frames": scene.frame_end - scene.frame_start + 1,
            "click_to_keys_s": round(click_s, 3), "video": str(video)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "out" / "demo")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def timed(name, function, *a, **k):
        started = time.perf_counter()
        result = function(*a, **k)
        timings[name] = round(time.perf_counter() - started, 3)
        return result

    bpy.ops.wm.read_factory_settings(use_empty=True)
    module = timed("enable_extension_s", blender_session.enable_from_source)
    scene = bpy.context.scene
    result = timed("add_demo_room_s", bpy.ops.isynth.add_demo_room)
    if result != {"FINISHED"}:
        print(f"demo: isynth.add_demo_room returned {result}", file=sys.stderr)
        return 1
    configure_render(scene, args.width, args.height)
    blend, still = args.out / "demo.blend", args.out / "still.png"
    timed("save_blend_s", save_blend, blend)
    timed("render_still_s", render_still, scene, still)
    # The stand-in body, posed: a procedural motion written to disk and imported
    # the way a user imports AMASS files (File > Import > SMPL Motion).
    motion = waving_motion()
    body = load_body_model(None)
    first = body.forward(motion.global_orient[:1], motion.body_pose[:1], motion.transl[:1])
    motion = grounded(motion, float(first.vertices[0, :, 2].min()))
    npz = args.out / "wave.npz"
    write_amass_npz(npz, motion)
    scene.render.fps = int(motion.fps)
    result = timed("import_motion_s", bpy.ops.isynth.import_smpl_motion, filepath=str(npz))
    if result != {"FINISHED"}:
        print(f"demo: isynth.import_smpl_motion returned {result}", file=sys.stderr)
        return 1
    scene.frame_set(scene.frame_start + 12)
    person_blend, person_png = args.out / "person.blend", args.out / "person.png"
    timed("save_person_blend_s", save_blend, person_blend)
    timed("render_person_s", render_still, scene, person_png)

    # The bundled sample Teton sequence: reconstructed, imported, seen through the recorded camera.
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_session.enable_from_source()
    scene = bpy.context.scene
    bundle = timed("reconstruct_s", reconstruct, read_sequence(SAMPLE_SEQUENCE), body, ReconstructionConfig(point_budget=120_000))
    bundle_path = args.out / "sample_reconstruction.npz"
    write_bundle(bundle_path, bundle)
    result = timed("import_reconstruction_s", bpy.ops.isynth.import_reconstruction, filepath=str(bundle_path))
    if result != {"FINISHED"}:
        print(f"demo: isynth.import_reconstruction returned {result}", file=sys.stderr)
        return 1
    configure_render(scene, *bundle.image_size)
    scene.display.shading.color_type = "VERTEX"  # the active colour attribute: the points. colours
    scene.frame_set(scene.frame_start + bundle.num_frames // 2)
    recon_blend, recon_png = args.out / "reconstruction.blend", args.out / "reconstruction.png"
    timed("save_reconstruction_blend_s", save_blend, recon_blend)
    timed("render_reconstruction_s", render_still, scene, recon_png)

    # Generate Interaction in the sample room (the bundled checkpoint), rendered as a short clip.
    room = next(c for c in bpy.data.collections if c.name.startswith("Reconstruction"))
    generated = timed("generate_and_render_clip_s", generate_in_room, room, scene, args.out)
    if generated is not None:
        scene.frame_set(scene.frame_start + generated["frames"] * 2 // 3)
        generated_blend, generated_png = args.out / "generated.blend", args.out / "generated.png"
        timed("save_generated_blend_s", save_blend, generated_blend)
        timed("render_generated_s", render_still, scene, generated_png)
        generated["files"] = [generated["video"], str(generated_blend), str(generated_png)]

    report = {
        "blender": bpy.app.version_string,
        "extension_module": module,
        "objects_in_last_scene": sorted(o.name for o in scene.objects),
        "camera": scene.camera.name,
        "render": {"engine": scene.render.engine, "width": args.width, "height": args.height},
        "files": {
            "blend": str(blend),
            "still": str(still),
            "motion": str(npz),
            "person_blend": str(person_blend),
            "person_still": str(person_png),
            "reconstruction_bundle": str(bundle_path),
            "reconstruction_blend": str(recon_blend),
            "reconstruction_still": str(recon_png),
        },
        "reconstruction": {
            "points": int(len(bundle.points)),
            "people": bundle.person_roles,
            "furniture": bundle.furniture_labels,
            "frames": bundle.num_frames,
        },
        "person": {"frames": motion.num_frames, "fps": motion.fps, "body": body.kind, "vertices": body.num_vertices},
        "generated": generated or "no bundled checkpoint (./run train configs/care.toml, ./run bundle-checkpoint)",
        "timings": timings,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"demo: wrote {blend}, {still}, {npz}, {person_blend}, {person_png}, {bundle_path}, {recon_blend}, {recon_png} and {args.out / 'report.json'}")
    print("demo: " + ", ".join(f"{k} {v}" for k, v in timings.items()))
    # Last: a small labelled data set (3 clips, 3 s, 160x120) rendered headless from the bundled sample.
    from render import render_demo_dataset  # tools/render.py; docs/batch_rendering.md

    dataset = render_demo_dataset(args.out / "dataset")
    print(f"demo: labelled data set of {dataset['clips']} clips ({dataset['people']}) in {dataset['where']}")
    from render import render_demo_avatar_dataset

    avatars = render_demo_avatar_dataset(args.out / "dataset_avatar")
    print(f"demo: {avatars['clips']} clip with its people on a rigged avatar (retargeted) in {avatars['where']}")
    return 0 if dataset["ok"] and avatars["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
