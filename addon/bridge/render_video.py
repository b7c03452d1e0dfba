"""Frames on disk: numpy <-> PNG through Blender's image API, and PNG sequences -> H.264 MP4.

Encoding goes through a throwaway scene whose sequencer holds the frames as one image strip and
whose output is FFMPEG (MPEG-4 container, H.264, yuv420p): the 3D scene renders once, to PNG, and
every video (RGB, skeleton, depth, silhouette) is encoded the same way. Blender 5.0 moved video
output under ``image_settings.media_type = 'VIDEO'`` and renamed the sequencer's ``sequences``
to ``strips``; both spellings are handled here.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

FRAME_PATTERN = "img_{:05d}.png"  # MMAction2 RawframeDataset's default template is img_{:05}.jpg


def read_png(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8, top row first, of an 8-bit PNG."""
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        width, height = image.size
        pixels = np.empty(width * height * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    rgb = pixels.reshape(height, width, 4)[::-1, :, :3]  # Blender's rows run bottom-up
    return np.round(rgb * 255.0).astype(np.uint8)


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write (H, W, 3) uint8 (top row first) as an 8-bit RGB PNG."""
    height, width = rgb.shape[:2]
    image = bpy.data.images.new("isynth_frame", width, height, alpha=False)
    try:
        rgba = np.ones((height, width, 4), dtype=np.float32)
        rgba[..., :3] = np.asarray(rgb, dtype=np.float32)[::-1] / 255.0
        image.pixels.foreach_set(rgba.ravel())
        image.filepath_raw = str(path)
        image.file_format = "PNG"
        image.save()
    finally:
        bpy.data.images.remove(image)


def set_video_output(scene: bpy.types.Scene, filepath: str, quality: str = "HIGH") -> None:
    """FFMPEG output: MPEG-4 container, H.264, constant rate factor ``quality``, no audio."""
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5.0+
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    ffmpeg = scene.render.ffmpeg
    ffmpeg.format = "MPEG4"
    ffmpeg.codec = "H264"
    ffmpeg.constant_rate_factor = quality
    ffmpeg.ffmpeg_preset = "GOOD"
    ffmpeg.audio_codec = "NONE"
    ffmpeg.gopsize = 10
    scene.render.filepath = filepath


def encode_frames(folder: str | Path, count: int, fps: float, out_path: str | Path) -> Path:
    """Encode ``folder/img_00001.png`` .. ``img_<count>.png`` into ``out_path`` (H.264 MP4).

    Uses a temporary scene (removed afterwards), so the caller's scene is untouched.
    Raises RuntimeError when Blender wrote no file (e.g. a build without FFMPEG).
    """
    from .scene_time import set_scene_fps

    folder, out_path = Path(folder), Path(out_path)
    first = folder / FRAME_PATTERN.format(1)
    if not first.is_file():
        raise RuntimeError(f"encode: {first} does not exist")
    probe = bpy.data.images.load(str(first), check_existing=False)
    width, height = probe.size
    bpy.data.images.remove(probe)
    scene = bpy.data.scenes.new("isynth_encode")
    try:
        scene.render.resolution_x, scene.render.resolution_y = width, height
        scene.render.resolution_percentage = 100
        scene.render.use_sequencer = True
        scene.render.use_compositing = False
        scene.view_settings.view_transform = "Standard"  # frames are display-ready already
        set_scene_fps(scene, fps)
        scene.frame_start, scene.frame_end = 1, count
        editor = scene.sequence_editor_create()
        strips = editor.strips if hasattr(editor, "strips") else editor.sequences
        strip = strips.new_image("frames", str(first), 1, 1)
        for index in range(2, count + 1):
            strip.elements.append(FRAME_PATTERN.format(index))
        if hasattr(strip, "frame_final_duration"):
            strip.frame_final_duration = count
        # Blender appends its own suffix to movie paths unless told not to.
        scene.render.use_file_extension = False
        set_video_output(scene, str(out_path))
        with bpy.context.temp_override(scene=scene):
            bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        bpy.data.scenes.remove(scene)
    if not out_path.is_file() or out_path.stat().st_size == 0:
        raise RuntimeError(f"encode: Blender wrote no video at {out_path} (is FFMPEG built in? "
                           f"bpy.app.build_options.codec_ffmpeg = {bpy.app.build_options.codec_ffmpeg})")
    return out_path

