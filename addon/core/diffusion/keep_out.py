"""Out of the furniture during sampling: bodies that would stand or fall inside a bed or chair move out.

The scene tokens tell the model where furniture is, but a small CPU-trained model still lets
a leg pass through a bed's side now and then, and a fall land in a chair. ``keep_out`` wraps
the guided model like ``spacing.keep_apart`` does: from the scene's points it makes a height
map once per request (``core.placement.height_map``: the tallest obstacle point below 2.2 m in
each 10 cm cell), and for every x0 prediction finds the person-frames in which a joint of the
legs or the trunk (KEPT_OUT_JOINTS: knees, ankles, feet, pelvis, hips, spine, neck, head) is
below the top of the obstacle under it. Such a person moves, whole, by the way out of one of
its inside joints (to the nearest cell without an obstacle taller than 0.3 m, plus a margin),
the one that leaves the fewest joints inside, the push averaged over time like the spacing
push, so that it never drags planted feet. Sitting on a seat, lying on a bed and
standing beside furniture are untouched (the joints are above the top, or outside the
footprint); arms are not counted (hands rest on beds and armrests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from ..motion.decode import decoded_pose
from ..placement import CELL_M, HeightMap, height_map
from .spacing import SMOOTHING_FRAMES, shift_guidance, smooth_over_time

LOW_OBSTACLE_M = 0.3  # cells with something taller than this are not free to stand in
INSIDE_TOLERANCE_M = 0.05
MARGIN_M = 0.1  # how far past the free cell's centre a pushed person goes
LEG_JOINTS = (4, 5, 7, 8, 10, 11)  # knees, ankles, feet
TRUNK_JOINTS = (0, 1, 2, 3, 6, 9, 12, 15)  # pelvis, hips, spine 1-3, neck, head
KEPT_OUT_JOINTS = LEG_JOINTS + TRUNK_JOINTS


@dataclass(frozen=True)
class EscapeMap:
    """origin: (2,) metres of cell (0, 0)'s corner; top: (X, Y) obstacle top (m, -inf: none);
    escape: (X, Y, 2) metres from each cell's centre to the nearest free cell's centre, plus
    MARGIN_M along that direction (zero in free cells)."""

    origin: np.ndarray
    top: np.ndarray
    escape: np.ndarray


def escape_map(points: np.ndarray, grid: HeightMap | None = None) -> EscapeMap | None:
    """The EscapeMap of scene points (N, 3) metres (room frame, floor z = 0); None when the
    scene has no obstacles or no free cell. grid: their ``placement.height_map``, when made."""
    if grid is None:
        grid = height_map(points)  # the same map placement uses: tallest obstacle per cell, gaps closed
    origin, top = grid.origin, grid.top
    shape = top.shape
    blocked = top > LOW_OBSTACLE_M
    if not blocked.any() or blocked.all():
        return None
    # The nearest free cell of every cell (exact Euclidean distance transform, ~1 ms for a room;
    # among equally near free cells it picks one, the escape's length is the same).
    _, nearest = ndimage.distance_transform_edt(blocked, return_indices=True)  # (2, X, Y) cell indices
    cells = np.stack(np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij"))
    step = np.moveaxis(nearest - cells, 0, -1) * CELL_M  # (X, Y, 2) metres
    length = np.linalg.norm(step, axis=-1, keepdims=True)
    escape = np.where(blocked[..., None], step + MARGIN_M * step / np.maximum(length, 1e-9), 0.0)
    return EscapeMap(origin=origin, top=top, escape=escape)


def keep_out(model, mean: np.ndarray, std: np.ndarray, maps: list[EscapeMap | None], *,
             rest_joints: np.ndarray | None = None, frames: int = SMOOTHING_FRAMES):
    """``model`` whose x0 (B, P, T, F), normalised, moves people whose legs or trunk are inside furniture.

    maps: one EscapeMap (or None: no scene) per batch row. rest_joints: (24, 3) metres, the
    skeleton generation decodes onto, or None. Given, the legs are those of forward kinematics
    of the predicted rotations on the predicted pelvis (what the decode, ``motion.decode``, keys
    a rig with), not the predicted leg positions, which can be decimetres off that pose.
    frames: the push is averaged over this many frames (``spacing.smooth_over_time``).
    """
    if all(m is None for m in maps):
        return model
    grids = [None if m is None else (torch.as_tensor(m.origin, dtype=torch.float32),
                                     torch.as_tensor(m.top, dtype=torch.float32),
                                     torch.as_tensor(m.escape, dtype=torch.float32)) for m in maps]

    def push(x0: Tensor, positions: Tensor) -> Tensor:
        legs = rig_joints(x0, positions, mean, std, rest_joints)[..., list(KEPT_OUT_JOINTS), :]  # (B, P, T, L, 3)
        shift = torch.zeros(*positions.shape[:3], 2, dtype=x0.dtype, device=x0.device)
        for row, grid in enumerate(grids):
            if grid is not None:
                shift[row] = _row_push(legs[row], *(g.to(x0.device) for g in grid))
        return smooth_over_time(shift, frames)

    return shift_guidance(model, mean, std, push)


def rig_joints(x0: Tensor, positions: Tensor, mean: np.ndarray, std: np.ndarray,
               rest_joints: np.ndarray | None) -> Tensor:
    """x0 (B, P, T, F) normalised and its positions (B, P, T, 66) metres -> (B, P, T, 22, 3) metres,
    x0's dtype: the joints a rig shows (``motion.decode.decoded_pose`` without the foot hold:
    the predicted rotations, lying bodies levelled, legs folded in mid-air reaching the floor, on
    the predicted pelvis kept above the floor),
    computed in float64 numpy like the decode so that they do not depend on torch's thread count;
    with ``rest_joints`` None, the predicted positions."""
    if rest_joints is None:
        return positions.reshape(*positions.shape[:3], 22, 3)
    features = x0.detach().to("cpu", torch.float64).numpy() * np.asarray(std, dtype=np.float64) + \
        np.asarray(mean, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    joints = np.stack([np.stack([decoded_pose(person, rest)[2] for person in row]) for row in features])
    return torch.as_tensor(joints, dtype=x0.dtype, device=x0.device)


def depth_below_top(legs: Tensor, origin: Tensor, top: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(..., 3) joints (m) on a height map (origin (2,) m, top (X, Y) m) -> (depth (...) m below
    the top of the obstacle under each joint, inside (...) bool: deeper than INSIDE_TOLERANCE_M
    in an obstacle taller than LOW_OBSTACLE_M, (ix, iy) the cells)."""
    index = torch.floor((legs[..., :2] - origin) / CELL_M).long()
    X, Y = top.shape
    inside_grid = (index[..., 0] >= 0) & (index[..., 0] < X) & (index[..., 1] >= 0) & (index[..., 1] < Y)
    ix, iy = index[..., 0].clamp(0, X - 1), index[..., 1].clamp(0, Y - 1)
    depth = top[ix, iy] - legs[..., 2]
    inside = inside_grid & (depth > INSIDE_TOLERANCE_M) & (top[ix, iy] > LOW_OBSTACLE_M)
    return depth, inside, (ix, iy)


def _row_push(legs: Tensor, origin: Tensor, top: Tensor, escape: Tensor) -> Tensor:
    """(P, T, L, 3) leg and trunk joints -> (P, T, 2): per person-frame with a joint inside, the
    escape of one of its inside joints, the one after which the fewest joints are inside (a body
    lying half in a bed leaves by the way that takes all of it out), the deepest among equals."""
    depth, inside, (ix, iy) = depth_below_top(legs, origin, top)
    candidates = escape[ix, iy]  # (P, T, L, 2): each joint's way out
    shift = torch.cat([candidates, torch.zeros_like(candidates[..., :1])], dim=-1)  # (P, T, L, 3)
    moved = legs[..., None, :, :] + shift[..., :, None, :]  # (P, T, L candidates, L joints, 3)
    still_inside = depth_below_top(moved, origin, top)[1].sum(dim=-1)  # (P, T, L)
    score = torch.where(inside, -still_inside.to(depth.dtype) * 100.0 + depth.clamp(-1.0, 1.0),
                        torch.full_like(depth, -torch.inf))
    best = score.argmax(dim=-1, keepdim=True)  # (P, T, 1)
    chosen = torch.gather(candidates, -2, best[..., None].expand(*best.shape, 2)).squeeze(-2)
    return torch.where(inside.any(dim=-1, keepdim=True), chosen, torch.zeros_like(chosen))
