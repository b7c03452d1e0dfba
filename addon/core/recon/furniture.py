"""Furniture as gravity-aligned oriented boxes fitted to labelled world points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FURNITURE_LABELS = ("bed", "chair", "sofa", "table", "wheelchair", "cabinet")


@dataclass(frozen=True)
class FurnitureBox:
    """label; center (3,), size (3,) full extents, metres, world; yaw_deg about +Z."""

    label: str
    center: np.ndarray
    size: np.ndarray
    yaw_deg: float


def fit_box(points: np.ndarray, label: str, low_percentile: float = 2.0, high_percentile: float = 98.0) -> FurnitureBox:
    """An upright box around ``points`` (N, 3) (world, Z up).

    1. yaw from the principal axis of the footprint (PCA of x, y);
    2. extents in the rotated frame between robust percentiles (depth noise and
       mislabelled pixels stretch min/max);
    3. the box stands on the floor: z from 0 to the upper percentile.
    """
    xy = points[:, :2] - points[:, :2].mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(xy.T))
    major = vectors[:, -1]
    yaw = float(np.arctan2(major[1], major[0]))
    rotation = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
    local = points[:, :2] @ rotation  # coordinates along (major, minor)
    low = np.percentile(local, low_percentile, axis=0)
    high = np.percentile(local, high_percentile, axis=0)
    top = float(np.percentile(points[:, 2], high_percentile))
    center_xy = rotation @ ((low + high) / 2.0)
    return FurnitureBox(
        label=label,
        center=np.array([center_xy[0], center_xy[1], top / 2.0]),
        size=np.array([high[0] - low[0], high[1] - low[1], top]),
        yaw_deg=float(np.degrees(yaw)),
    )


def furniture_boxes(points: np.ndarray, labels: np.ndarray, label_names, min_points: int = 30) -> list[tuple[FurnitureBox, np.ndarray]]:
    """One box per furniture label present (with its point indices). Several items of one
    label are merged into one box (the masks do not separate instances)."""
    found = []
    for label_id, name in enumerate(label_names):
        if name not in FURNITURE_LABELS:
            continue
        index = np.flatnonzero(labels == label_id)
        if len(index) >= min_points:
            found.append((fit_box(points[index], name), index))
    return found
