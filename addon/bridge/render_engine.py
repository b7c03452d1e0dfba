"""Engine settings and the render passes of a clip: RGB frames, then depth and silhouette frames.

Engine ids differ by version: EEVEE is ``BLENDER_EEVEE_NEXT`` in 4.2-4.5 and ``BLENDER_EEVEE`` again
in 5.0. Depth and silhouette passes render with Cycles at one sample through an emission-only
material override (no lights, no bounces), which works with every camera, fisheye included,
and gives exact values per pixel centre; the view transform is ``Raw`` (or ``Standard`` where
``Raw`` is missing), so bytes are the emission values.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy

from .render_video import FRAME_PATTERN


def eevee_engine_id() -> str:
    return "BLENDER_EEVEE_NEXT" if (4, 2, 0) <= bpy.app.version < (5, 0, 0) else "BLENDER_EEVEE"


def configure_engine(scene: bpy.types.Scene, engine: dict, look: dict, color_type: str, threads: int) -> None:
    """Engine, samples, denoising, threads, motion blur, colour management for the RGB pass.

    engine: the job's engine table; look: its look (studio light rotation, motion-blur shutter);
    color_type: Workbench colouring ("MATERIAL", or "VERTEX" for coloured points); threads: 0 = all.
    """
    render = scene.render
    name = engine["name"]
    if name == "workbench":
        render.engine = "BLENDER_WORKBENCH"
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = color_type
        shading.studiolight_rotate_z = math.radians(float(look["light"]["studio_rotation_deg"]))
        shading.show_shadows = False
        shading.show_cavity = True
        scene.display.render_aa = engine.get("workbench_aa", "FXAA")
    elif name == "eevee":
        render.engine = eevee_engine_id()
        scene.eevee.taa_render_samples = int(engine["samples"])
    else:
        render.engine = "CYCLES"
        scene.cycles.device = "CPU"
        scene.cycles.samples = int(engine["samples"])
        scene.cycles.use_adaptive_sampling = True
        scene.cycles.use_denoising = bool(engine["denoise"])
    wanted = int(engine.get("threads") or threads)
    render.threads_mode = "FIXED" if wanted > 0 else "AUTO"
    if wanted > 0:
        render.threads = wanted
    shutter = float(look.get("motion_blur_shutter", 0.0))
    render.use_motion_blur = shutter > 0.0
    if shutter > 0.0:
        render.motion_blur_shutter = shutter
    scene.view_settings.view_transform = "Standard"  # predictable colours in every engine
    render.film_transparent = False


def set_png_output(scene: bpy.types.Scene, folder: Path) -> None:
    """Frames go to ``folder/img_00001.png`` ... (8-bit RGB)."""
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5.0+
        settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "8"
    settings.compression = 15
    scene.render.use_file_extension = True
    folder.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(folder / FRAME_PATTERN.split("{")[0]) + "#####"


def render_frames(scene: bpy.types.Scene, folder: Path, on_frame=None) -> int:
    """Render the scene's frame range to PNGs in ``folder``; returns the frame count.

    on_frame(done, total) after each frame (a render_post handler, removed afterwards).
    """
    set_png_output(scene, folder)
    total = scene.frame_end - scene.frame_start + 1
    done = [0]

    def handler(*_args):
        done[0] += 1
        if on_frame is not None:
            on_frame(done[0], total)

    bpy.app.handlers.render_post.append(handler)
    try:
        bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        bpy.app.handlers.render_post.remove(handler)
    missing = [i for i in range(1, total + 1) if not (folder / FRAME_PATTERN.format(i)).is_file()]
    if missing:
        raise RuntimeError(f"render: frames {missing[:5]} were not written to {folder}")
    return total


def emission_override(name: str, kind: str, near: float, far: float) -> bpy.types.Material:
    """An emission-only material: white (silhouette) or 1 - (distance - near) / (far - near) (depth)."""
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputMaterial")
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Strength"].default_value = 1.0
    links.new(emission.outputs["Emission"], output.inputs["Surface"])
    if kind == "depth":
        camera_data = nodes.new("ShaderNodeCameraData")
        mapping = nodes.new("ShaderNodeMapRange")
        mapping.clamp = True
        mapping.inputs["From Min"].default_value = near
        mapping.inputs["From Max"].default_value = far
        mapping.inputs["To Min"].default_value = 1.0
        mapping.inputs["To Max"].default_value = 0.0
        links.new(camera_data.outputs["View Distance"], mapping.inputs["Value"])
        links.new(mapping.outputs["Result"], emission.inputs["Color"])
    else:
        emission.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    return material


def render_override_pass(scene: bpy.types.Scene, kind: str, folder: Path, hidden: list, near: float = 0.5,
                         far: float = 10.0) -> int:
    """Render the depth or silhouette pass to ``folder``; restores the scene's settings afterwards.

    hidden: objects to hide for this pass (the room, for silhouettes).
    """
    render, cycles, view_layer = scene.render, scene.cycles, scene.view_layers[0]
    saved = {
        "engine": render.engine, "view": scene.view_settings.view_transform, "blur": render.use_motion_blur,
        "override": view_layer.material_override, "world": scene.world, "dither": render.dither_intensity,
    }
    saved_hidden = [(obj, obj.hide_render) for obj in hidden]
    world = bpy.data.worlds.new(f"isynth {kind} world")
    world.color = (0.0, 0.0, 0.0)
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    for node in world.node_tree.nodes if world.node_tree else ():
        if node.type == "BACKGROUND":
            node.inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
            node.inputs["Strength"].default_value = 0.0
    cycles_saved = (cycles.samples, cycles.use_denoising, cycles.max_bounces, cycles.filter_width,
                    cycles.use_adaptive_sampling)
    try:
        render.engine = "CYCLES"
        cycles.samples, cycles.use_denoising, cycles.max_bounces = 1, False, 0
        cycles.use_adaptive_sampling = False
        cycles.filter_width = 0.01  # one sample at the pixel centre: hard edges, exact values
        try:  # the enum is filled from the colour configuration at run time: ask by setting it
            scene.view_settings.view_transform = "Raw"
        except TypeError:
            scene.view_settings.view_transform = "Standard"
        render.use_motion_blur = False
        render.dither_intensity = 0.0  # exact mask and depth values (4.2 dithers 8-bit output by default)
        scene.world = world
        view_layer.material_override = emission_override(f"isynth {kind}", kind, near, far)
        for obj in hidden:
            obj.hide_render = True
        return render_frames(scene, folder)
    finally:
        (cycles.samples, cycles.use_denoising, cycles.max_bounces, cycles.filter_width,
         cycles.use_adaptive_sampling) = cycles_saved
        render.engine, scene.view_settings.view_transform = saved["engine"], saved["view"]
        render.use_motion_blur, render.dither_intensity = saved["blur"], saved["dither"]
        view_layer.material_override = saved["override"]
        scene.world = saved["world"]
        for obj, flag in saved_hidden:
            obj.hide_render = flag
