"""A PNG contact sheet of clips: stick figures in their room, onion-skinned over time, with captions.

Each panel is an oblique orthographic view (azimuth 35 degrees, elevation 30 degrees) of one
clip: furniture boxes as wire frames, the floor outline, every person's skeleton at
``poses_per_clip`` evenly spaced frames (older frames fainter; staff blue, patients orange,
others grey), and the caption wrapped underneath. Pillow only, no Blender.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..files import atomic_write
from ..skeleton import PARENTS

ROLE_COLOURS = {"staff": (40, 110, 220), "patient": (235, 120, 30), "person": (110, 110, 110)}
BOX_COLOUR = (150, 150, 150)


@dataclass(frozen=True)
class SheetClip:
    """joints: (P, T, 22, 3) metres, Z up; roles: P role names; caption: text under the panel;
    boxes: (K, 7) furniture rows [cx, cy, yaw, sx, sy, z0, z1] or empty; room: (width, depth)
    metres or None (then the view fits the bodies)."""

    joints: np.ndarray
    roles: tuple[str, ...]
    caption: str
    boxes: np.ndarray
    room: tuple[float, float] | None = None


def _view(points: np.ndarray, azimuth_deg: float = 35.0, elevation_deg: float = 30.0) -> np.ndarray:
    """(..., 3) world -> (..., 2) screen (x right, y up), orthographic."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    right = np.array([math.cos(a), -math.sin(a), 0.0])
    forward = np.array([math.sin(a), math.cos(a), 0.0])
    up = np.array([-math.sin(e) * forward[0], -math.sin(e) * forward[1], math.cos(e)])
    return np.stack([points @ right, points @ up], -1)


def _box_edges(box: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    cx, cy, yaw, sx, sy, z0, z1 = box
    c, s = math.cos(yaw), math.sin(yaw)
    corners = []
    for lx, ly in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = lx * sx / 2, ly * sy / 2
        corners.append((cx + c * x - s * y, cy + s * x + c * y))
    edges = []
    for k in range(4):
        (xa, ya), (xb, yb) = corners[k], corners[(k + 1) % 4]
        for z in (z0, z1):
            edges.append((np.array([xa, ya, z]), np.array([xb, yb, z])))
        edges.append((np.array([xa, ya, z0]), np.array([xa, ya, z1])))
    return edges


def render_panel(clip: SheetClip, size: tuple[int, int] = (320, 300), poses_per_clip: int = 5,
                 caption_lines: int = 3) -> Image.Image:
    """One clip as an RGB image of ``size`` pixels (the caption takes the bottom lines)."""
    width, height = size
    font = ImageFont.load_default()
    line_h = 12
    draw_h = height - caption_lines * line_h - 6
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image, "RGBA")
    joints = np.asarray(clip.joints, dtype=np.float64)
    P, T = joints.shape[:2]
    floor = []
    if clip.room is not None:
        w, d = clip.room
        floor = [np.array(p) for p in ((0, 0, 0), (w, 0, 0), (w, d, 0), (0, d, 0))]
    corners = [a for box in np.asarray(clip.boxes).reshape(-1, 7) for a, _ in _box_edges(box)]
    extent = [joints.reshape(-1, 3)] + ([np.array(floor)] if floor else []) + ([np.array(corners)] if corners else [])
    screen_all = _view(np.concatenate(extent))
    lo, hi = screen_all.min(0), screen_all.max(0)
    scale = min((width - 16) / max(hi[0] - lo[0], 1e-3), (draw_h - 16) / max(hi[1] - lo[1], 1e-3))

    def to_px(points: np.ndarray) -> np.ndarray:
        s = _view(points)
        x = 8 + (s[..., 0] - lo[0]) * scale
        y = 8 + (hi[1] - s[..., 1]) * scale
        return np.stack([x, y], -1)

    if floor:
        corners = to_px(np.array(floor))
        draw.polygon([tuple(p) for p in corners], outline=(200, 200, 200), fill=(245, 245, 240))
    for box in np.asarray(clip.boxes).reshape(-1, 7):
        for a, b in _box_edges(box):
            pa, pb = to_px(np.stack([a, b]))
            draw.line([tuple(pa), tuple(pb)], fill=BOX_COLOUR + (255,), width=1)
    frames = np.linspace(0, T - 1, min(poses_per_clip, T)).round().astype(int)
    for rank, t in enumerate(frames):
        alpha = int(60 + 195 * (rank + 1) / len(frames))
        for p in range(P):
            colour = ROLE_COLOURS.get(clip.roles[p], ROLE_COLOURS["person"]) + (alpha,)
            px = to_px(joints[p, t])
            for j in range(1, joints.shape[2]):
                draw.line([tuple(px[j]), tuple(px[PARENTS[j]])], fill=colour, width=2)
            head = px[15]
            draw.ellipse([head[0] - 3, head[1] - 3, head[0] + 3, head[1] + 3], outline=colour, width=1)
    lines = textwrap.wrap(clip.caption, width=max(10, width // 6))[:caption_lines]
    for k, line in enumerate(lines):
        draw.text((6, draw_h + 4 + k * line_h), line, fill=(20, 20, 20), font=font)
    return image


def contact_sheet(clips: list[SheetClip], columns: int = 4, panel: tuple[int, int] = (320, 300),
                  title: str = "") -> Image.Image:
    """Panels in a grid, ``columns`` wide, with an optional title row."""
    rows = max(1, math.ceil(len(clips) / columns))
    top = 22 if title else 0
    sheet = Image.new("RGB", (columns * panel[0], rows * panel[1] + top), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((8, 5), title, fill=(0, 0, 0), font=ImageFont.load_default())
    for k, clip in enumerate(clips):
        image = render_panel(clip, panel)
        x, y = (k % columns) * panel[0], top + (k // columns) * panel[1]
        sheet.paste(image, (x, y))
        draw.rectangle([x, y, x + panel[0] - 1, y + panel[1] - 1], outline=(220, 220, 220))
    return sheet


def save_contact_sheet(path: str | Path, clips: list[SheetClip], columns: int = 4, title: str = "") -> Path:
    """Render and write a PNG atomically; returns the path."""
    image = contact_sheet(clips, columns, title=title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: image.save(temporary, format="PNG"))
    return path
