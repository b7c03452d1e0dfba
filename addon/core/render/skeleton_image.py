"""Skeleton-only frames: the COCO-17 skeletons drawn on black, for privacy-minded video.

Only labelled keypoints (v > 0) are drawn; occluded ones (v = 1) dimmer than visible ones.
"""

from __future__ import annotations

import numpy as np

from .coco import COCO_SKELETON

# One colour per person (RGB bytes), cycling.
PERSON_COLOURS = np.array([[255, 140, 40], [60, 170, 255], [120, 230, 90], [230, 80, 200]], dtype=np.float64)


def draw_skeletons(triplets: np.ndarray, width: int, height: int, thickness: float = 1.5) -> np.ndarray:
    """(H, W, 3) uint8 image of P skeletons. triplets: (P, 17, 3) COCO [x, y, v], pixels.

    thickness: line half-width in pixels (scaled up for large images by the caller).
    """
    image = np.zeros((height, width, 3), dtype=np.float64)
    for p, person in enumerate(np.asarray(triplets, dtype=np.float64)):
        colour = PERSON_COLOURS[p % len(PERSON_COLOURS)]
        for a, b in COCO_SKELETON:
            a, b = a - 1, b - 1
            if person[a, 2] <= 0 or person[b, 2] <= 0:
                continue
            strength = 1.0 if min(person[a, 2], person[b, 2]) >= 2 else 0.5
            # Only the pixels of the segment's bounding box (plus the line's width) are tested.
            low = np.floor(np.minimum(person[a, :2], person[b, :2]) - thickness).astype(int).clip(0, [width, height])
            high = np.ceil(np.maximum(person[a, :2], person[b, :2]) + thickness).astype(int).clip(0, [width, height])
            if (high <= low).any():
                continue
            ys, xs = np.mgrid[low[1]:high[1], low[0]:high[0]]
            centres = np.stack([xs + 0.5, ys + 0.5], axis=-1).reshape(-1, 2)  # pixel centres
            mask = _segment_mask(centres, person[a, :2], person[b, :2], thickness).reshape(xs.shape)
            window = image[low[1]:high[1], low[0]:high[0]]
            window[mask] = np.maximum(window[mask], colour * strength)
    return image.round().clip(0, 255).astype(np.uint8)


def _segment_mask(points: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """(N,) bool: points within ``radius`` of the segment a-b."""
    ab = b - a
    length2 = float(ab @ ab)
    t = np.zeros(len(points)) if length2 == 0 else np.clip((points - a) @ ab / length2, 0.0, 1.0)
    nearest = a + t[:, None] * ab
    return np.sum((points - nearest) ** 2, axis=1) <= radius * radius
