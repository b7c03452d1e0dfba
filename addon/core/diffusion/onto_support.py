"""People on what carries them: lying beside the bed they are laid onto it, hovering they come down.

The scene tokens tell the model roughly where a bed is, but the bundled CPU-trained model lays
"the patient in bed" at about mattress height a metre or two beside the bed, at any angle to it,
lays fallen people a decimetre or more above the floor and lets people standing by a bed
hover (reports/eval.md, Float: 23 % of generated person-frames hovered on the test scenes,
against 2 % of real ones, most of them in the bed scripts; 7 % with this and ``motion.level``).
``onto_support`` wraps the guided model like ``keep_out`` does.

From the scene's height map (``core.placement.height_map``) it finds the beds: connected cells
with tops between SURFACE_MIN_M and SURFACE_MAX_M covering at least BED_AREA_M2 (not chairs),
each with its long axis. For every x0 prediction it takes the person-frames that lie
(``motion.level.lying_weight`` over LYING, on the joints a rig shows) and

1. when the prompt was understood as an action in which someone lies in bed
   (``labels.IN_BED_SCRIPTS``) and the pelvis is RAISED_M or more above the floor: turns the
   body about its pelvis, by at most 90 degrees, until the trunk runs along the long axis of
   the nearest bed within MAX_REACH_M, and moves it across so that its trunk's centre lands
   where the most joints are on that bed, LIE_INSIDE_CELLS inside its edge (staying put, or one
   of the bed's cells on a 0.2 m lattice EDGE_CELLS inside its edge; the shortest move among
   equals). A body lying raised
   after any other action (a fall from the bed) is not moved across;
2. lays every lying body down on what is under its trunk's centre: on a bed (one it was moved
   onto, or one whose top is below its pelvis), its lowest joint over the bed LIE_ABOVE_M above
   the top (lifted, too, where it sank into the mattress); on the floor, its lowest joint not
   over a bed at most LIE_ABOVE_M above the floor (only lowered: the decode keeps bodies above
   the floor);
3. brings everyone else who neither sits (the pelvis within SEATED_ABOVE_M above a seat's or
   bed's top) nor kneels or stands on furniture (the lowest joint over it) down (standing,
   walking, bending, kneeling on the floor, also beside a bed leaning over it) until the lowest
   joint, its lowest over STAND_WINDOW_S either side, is at most STAND_ABOVE_M above the floor:
   the model also lets people standing by a bed hover a decimetre or two, and walkers a
   decimetre above the floor. The window's lowest is a walker's stance foot, so a swinging foot
   keeps its height above it. Walkers were once left out, as their lowered feet slid where the
   foot hold could not plant them; since the sampler's result is filtered along time
   (``temporal_smoothing``), bringing them down takes the held-out test scenes' Float from
   0.064 to 0.039 (real data 0.021) and their foot skating from 0.013 to 0.017 (real 0.020);
   bringing down those whose pelvis hangs over a bed's edge (once taken for sitting) takes
   Float to 0.036 (side runs of the default sampler on the 128 test requests).

Turn and shift are averaged over time like the other pushes (``spacing.smooth_over_time``), so
that lying down and getting up pass smoothly. Sitting is untouched, and only the one who lies
beside the bed moves across: the later denoising steps place the others anew around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from ..motion.level import LYING, lying_weight
from ..motion.representation import POSITIONS, ROOT_ORIENTATION, VELOCITIES, turn_about_vertical
from ..placement import CELL_M, HeightMap, dilate, height_map
from ..skeleton import NUM_BODY_JOINTS
from ..time_series import centred_mean
from .keep_out import KEPT_OUT_JOINTS, rig_joints
from .spacing import SMOOTHING_FRAMES

SURFACE_MIN_M = 0.3  # tops lower than this are steps and rugs, not beds
SURFACE_MAX_M = 1.0  # higher than this: shelves and worktops
BED_AREA_M2 = 1.0  # a surface this large takes a lying body (a single bed is about 2 m x 0.9 m)
EDGE_CELLS = 3  # targets lie this many cells inside the edge of a bed's cells (a cell past the bed): 15 cm in
LIE_INSIDE_CELLS = 2  # joints count as on a bed this many cells inside its cells' edge (5 cm in)
TARGET_STRIDE = 2  # targets on every 2nd cell each way: a 0.2 m lattice
RAISED_M = 0.35  # a lying pelvis this high is not on the floor (there it is about 0.1 m up)
LIE_ABOVE_M = 0.07  # a lying body's lowest joint above what it lies on (joints sit inside the body)
STAND_ABOVE_M = 0.03  # an upright body's lowest joint (a foot's) at most this high (the foot hold plants below 0.05 m)
STAND_WINDOW_S = 1.0  # ... its lowest over this many seconds either side
SEATED_ABOVE_M = 0.3  # a pelvis at most this far above a seat's top sits on it (sitting: about 0.1 m)
MAX_REACH_M = 4.0  # beds further than this from the trunk are not where the body was meant to be
TRUNK_CENTRE_JOINTS = (0, 3, 6, 9, 12)  # pelvis, spine 1-3, neck: a lying body's middle
_PELVIS, _NECK = 0, 12


@dataclass(frozen=True)
class SupportMap:
    """origin: (2,) metres of cell (0, 0)'s corner; top: (X, Y) obstacle tops (m, -inf: none);
    bed: (X, Y) int, the bed each cell belongs to (0: none, 1..K); inner_bed: the same, shrunk
    by LIE_INSIDE_CELLS (where a body counts as lying on a bed); axis: (K + 1,) radians, each
    bed's long axis (from +x, counter-clockwise; [0] unused); targets: (S, 2) metres, target cell
    centres (module docstring); target_bed: (S,) their beds."""

    origin: np.ndarray
    top: np.ndarray
    bed: np.ndarray
    inner_bed: np.ndarray
    axis: np.ndarray
    targets: np.ndarray
    target_bed: np.ndarray


def support_map(points: np.ndarray, grid: HeightMap | None = None) -> SupportMap:
    """The SupportMap of scene points (N, 3) metres (room frame, floor z = 0); a room without a
    bed has no targets (bodies are only laid on its floor). grid: their
    ``placement.height_map``, when made."""
    grid = height_map(points) if grid is None else grid
    surface = (grid.top >= SURFACE_MIN_M) & (grid.top <= SURFACE_MAX_M)
    labels, count = ndimage.label(surface)
    areas = ndimage.sum_labels(surface, labels, index=np.arange(1, count + 1)) * CELL_M**2
    kept = 1 + np.flatnonzero(areas >= BED_AREA_M2)
    bed = np.where(np.isin(labels, kept), np.searchsorted(kept, labels) + 1, 0)
    inner = bed > 0
    inner_bed = None
    for step in range(EDGE_CELLS):
        if step == LIE_INSIDE_CELLS:
            inner_bed = np.where(inner, bed, 0)
        inner = ~dilate(~inner, np.logical_or)
    lattice = np.zeros_like(inner)
    lattice[::TARGET_STRIDE, ::TARGET_STRIDE] = True
    ix, iy = np.nonzero(inner & lattice)
    axis = np.zeros(len(kept) + 1)
    for k in range(1, len(kept) + 1):
        axis[k] = _long_axis(np.argwhere(bed == k) * CELL_M)
    centres = grid.origin + (np.stack([ix, iy], axis=-1) + 0.5) * CELL_M
    return SupportMap(origin=grid.origin, top=grid.top, bed=bed, inner_bed=inner_bed, axis=axis,
                      targets=centres.reshape(-1, 2), target_bed=bed[ix, iy])


def onto_support(model, mean: np.ndarray, std: np.ndarray, maps: list[SupportMap | None],
                 in_bed: list[bool] | None = None, *, fps: float, rest_joints: np.ndarray | None = None):
    """``model`` whose x0 (B, P, T, F), normalised, puts people on what carries them (module docstring).

    mean, std: (F,) the checkpoint's statistics; maps: one SupportMap per batch row, or None
    (no scene); in_bed: per row, whether the prompt was understood as an action in which
    someone lies in bed (None: no row's was); fps: the clips' frame rate; rest_joints: (24, 3)
    metres, the skeleton generation decodes onto, or None (the predicted positions are judged
    then; ``keep_out.rig_joints``).
    """
    if all(m is None for m in maps):
        return model
    in_bed = [False] * len(maps) if in_bed is None else list(in_bed)
    mean64, std64 = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)

    def guided(x_t: Tensor, t: Tensor) -> Tensor:
        x0 = model(x_t, t)
        positions = x0[..., POSITIONS] * torch.as_tensor(std[POSITIONS]).to(x0) + \
            torch.as_tensor(mean[POSITIONS]).to(x0)
        joints = rig_joints(x0, positions, mean, std, rest_joints).detach().to("cpu", torch.float64).numpy()
        turn = np.zeros(joints.shape[:3])
        shift = np.zeros(joints.shape[:3] + (3,))
        for row, support in enumerate(maps):
            if support is not None:
                turn[row], shift[row] = support_moves(joints[row], support, in_bed[row], fps)
        if not turn.any() and not shift.any():
            return x0
        turn = centred_mean(turn, SMOOTHING_FRAMES, axis=2)  # averaged over time like the other pushes
        shift = centred_mean(shift, SMOOTHING_FRAMES, axis=2)
        features = x0.detach().to("cpu", torch.float64).numpy() * std64 + mean64
        moved = turn_about_vertical(features, turn, features[..., 0:2])  # about the pelvis
        moved[..., POSITIONS] += np.tile(shift, NUM_BODY_JOINTS)
        out = x0.clone()
        for part in (POSITIONS, VELOCITIES, ROOT_ORIENTATION):  # what a turn and a shift change
            out[..., part] = torch.as_tensor((moved[..., part] - mean64[part]) / std64[part], dtype=x0.dtype,
                                             device=x0.device)
        return out

    return guided


def support_moves(joints: np.ndarray, support: SupportMap, in_bed: bool, fps: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(P, T, 22, 3) joints (m) at ``fps`` -> (turn (P, T) radians about the pelvis, then shift
    (P, T, 3) metres) that put each person-frame on what carries it (module docstring); zero for
    the frames that are carried already. in_bed: the prompt is about lying in bed."""
    joints = np.asarray(joints, dtype=np.float64)
    lying = np.stack([lying_weight(person) for person in joints]) > LYING  # (P, T)
    turn, shift = np.zeros(joints.shape[:2]), np.zeros(joints.shape[:2] + (3,))
    # Upright over free floor (module docstring, 3.): down to the floor.
    pelvis = joints[:, :, _PELVIS]
    seat = support.top[_cells(pelvis[..., :2], support)]
    # Seated: the pelvis just above something that may carry it (a standing pelvis over a bed's
    # edge, leaning over it, is half a metre above the mattress). Kneeling or standing on a bed:
    # the lowest joint over it.
    seated = (seat >= SURFACE_MIN_M) & (seat <= pelvis[..., 2]) & (pelvis[..., 2] - seat <= SEATED_ABOVE_M)
    low_joint = np.take_along_axis(joints, joints[..., 2].argmin(axis=-1)[..., None, None], axis=2)[:, :, 0]
    on_furniture = support.top[_cells(low_joint[..., :2], support)] >= SURFACE_MIN_M
    upright = ~lying & ~seated & ~on_furniture
    # The lowest over a window: a walker whose stance foot touches the floor keeps the swing
    # foot's height (lowering it there would make a swinging foot slide along the floor).
    window = max(1, round(STAND_WINDOW_S * fps))
    lowest = _window_min(np.where(upright, low_joint[..., 2], np.inf), window)
    shift[..., 2] = np.where(upright & np.isfinite(lowest), np.minimum(0.0, STAND_ABOVE_M - lowest), 0.0)
    if not lying.any():
        return turn, shift
    body = joints[lying]  # (N, 22, 3)
    angle, across = np.zeros(len(body)), np.zeros((len(body), 2))
    raised = body[:, _PELVIS, 2] >= RAISED_M
    if in_bed and len(support.targets) and raised.any():
        angle[raised], across[raised] = _onto_bed(body[raised], support)
    # Lying: across onto the bed (1.), then down onto what is under the trunk's centre (2.).
    moved = _turned(body, angle) + across[:, None]  # (N, 22, 2)
    beds = _bed_at(moved, support)  # (N, 22)
    centre = moved[:, list(TRUNK_CENTRE_JOINTS)].mean(axis=-2)
    top = support.top[_cells(centre, support)]
    # A bed carries a body moved onto it, or one whose pelvis is above its top; a body fallen
    # beside a bed with its trunk under the bed's edge lies on the floor (keep_out moves it out).
    under = np.where((np.abs(across).sum(axis=-1) > 0) | (body[:, _PELVIS, 2] >= top),
                     _bed_at(centre, support), 0)  # (N,) 0: the floor
    on_it = np.where(under[:, None] > 0, beds == under[:, None], beds == 0)  # joints over what carries the body
    trunk_and_legs = np.zeros(body.shape[1], dtype=bool)
    trunk_and_legs[list(KEPT_OUT_JOINTS)] = True
    resting = np.where(on_it.any(axis=-1, keepdims=True), on_it, trunk_and_legs[None])
    lowest = np.where(resting, body[..., 2], np.inf).min(axis=-1)  # a turn about the vertical keeps heights
    down = np.where(under > 0, top + LIE_ABOVE_M - lowest, np.minimum(0.0, LIE_ABOVE_M - lowest))
    turn[lying] = angle
    shift[lying] = np.concatenate([across, down[:, None]], axis=-1)
    return turn, shift


def _onto_bed(body: np.ndarray, support: SupportMap) -> tuple[np.ndarray, np.ndarray]:
    """(N, 22, 3) raised lying bodies -> (turn (N,) radians about the pelvis, move across (N, 2)
    metres): along the nearest bed and onto it (module docstring, 1.); zero where no bed is
    within MAX_REACH_M."""
    centre = body[:, list(TRUNK_CENTRE_JOINTS), :2].mean(axis=-2)  # (N, 2)
    distance = np.linalg.norm(support.targets[None] - centre[:, None], axis=-1)  # (N, S)
    near = distance.min(axis=-1) <= MAX_REACH_M
    chosen = support.target_bed[distance.argmin(axis=-1)]  # (N,)
    trunk = body[:, _NECK, :2] - body[:, _PELVIS, :2]
    heading = np.arctan2(trunk[:, 1], trunk[:, 0])
    angle = (support.axis[chosen] - heading + np.pi / 2) % np.pi - np.pi / 2  # the smaller way round
    angle = np.where(near & (np.linalg.norm(trunk, axis=-1) > 1e-3), angle, 0.0)
    turned = _turned(body, angle)
    turned_centre = turned[:, list(TRUNK_CENTRE_JOINTS)].mean(axis=-2)
    offsets = np.concatenate([np.zeros((len(body), 1, 2)), support.targets[None] - turned_centre[:, None]], axis=1)
    same_bed = np.concatenate([np.ones((len(body), 1), dtype=bool),
                               support.target_bed[None] == chosen[:, None]], axis=1)  # (N, 1 + S)
    over = (_bed_at(turned[:, None] + offsets[:, :, None], support, inner=True) == chosen[:, None, None]).sum(axis=-1)
    length = np.linalg.norm(offsets, axis=-1)
    score = np.where(same_bed, over - length / (2 * MAX_REACH_M), -np.inf)  # most joints, then the shortest move
    across = offsets[np.arange(len(body)), score.argmax(axis=-1)]
    return angle, np.where(near[:, None], across, 0.0)


def _turned(body: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(N, 22, 3) joints and (N,) radians -> (N, 22, 2) their floor-plane positions turned about the pelvis."""
    pelvis = body[:, _PELVIS, None, :2]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    relative = body[..., :2] - pelvis
    return np.stack([cos * relative[..., 0] - sin * relative[..., 1],
                     sin * relative[..., 0] + cos * relative[..., 1]], axis=-1) + pelvis


def _cells(xy: np.ndarray, support: SupportMap) -> tuple[np.ndarray, np.ndarray]:
    """(..., 2) metres -> (ix, iy) cell indices, clipped to the map."""
    index = np.floor((xy - support.origin) / CELL_M).astype(np.int64)
    X, Y = support.bed.shape
    return np.clip(index[..., 0], 0, X - 1), np.clip(index[..., 1], 0, Y - 1)


def _bed_at(xy: np.ndarray, support: SupportMap, inner: bool = False) -> np.ndarray:
    """(..., 2) metres -> (...,) int: the bed under each point (0: none, or off the map); with
    ``inner``, only where the point is LIE_INSIDE_CELLS cells inside the bed's cells (about 5 cm
    inside the bed's true edge: a head at the very edge is not on it)."""
    index = np.floor((xy - support.origin) / CELL_M).astype(np.int64)
    X, Y = support.bed.shape
    in_grid = (index[..., 0] >= 0) & (index[..., 0] < X) & (index[..., 1] >= 0) & (index[..., 1] < Y)
    beds = support.inner_bed if inner else support.bed
    return np.where(in_grid, beds[_cells(xy, support)], 0)


def _long_axis(cells: np.ndarray) -> float:
    """(n, 2) cell positions (m) -> the direction of their largest spread, radians in [0, pi)."""
    centred = cells - cells.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    x, y = vectors[:, -1]
    return float(np.arctan2(y, x) % np.pi)


def _window_min(values: np.ndarray, frames: int) -> np.ndarray:
    """(P, T) -> the same, each value the minimum over ``frames`` either side (what exists at the ends)."""
    padded = np.pad(values, ((0, 0), (frames, frames)), constant_values=np.inf)
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * frames + 1, axis=1).min(axis=-1)
