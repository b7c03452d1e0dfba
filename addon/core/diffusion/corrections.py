"""The x0 corrections every sampling run applies, in their order, for Generate Interaction and the evaluation alike.

A guided model (``model(x_t, t) -> x0``, normalised (B, P, T, F)) is wrapped, innermost first:

1. ``spacing.keep_apart``: pelvises at least 0.6 m apart;
2. with a scene, ``onto_support.onto_support``: lying bodies laid on what carries them, those
   lying beside the bed turned, moved and laid onto it when the prompt is about lying in bed;
3. with a scene, ``keep_out.keep_out``: legs and trunks out of the furniture (after the bed
   placement, whose time-averaged move can carry a sitting person's legs into the bed's side;
   a body laid on the bed is above its top and stays);
4. ``body_separation.keep_bodies_apart``: the bone capsules of the decoded bodies apart, last,
   so that what the sampler returns is what it checked (its centimetre pushes are split so that
   they put nobody into furniture).

What the sampler returns is finished by :meth:`Corrections.finish`:

0. with a scene and a prompt about sitting on a chair, ``seating.seat_sitters``: a sitter
   beside a chair moved (the whole clip, rigidly) and sat down on it, before the finishing
   push out of the furniture (once, not on every prediction: the model answers moved
   predictions with wilder sitters); with a prompt about sitting on a bed's edge (getting into
   or out of bed ...), ``bed_edge.sit_on_bed_edges``: a sitter beside a bed moved (the frames
   that do not lie) and sat down on its edge;
1. with a scene, ``keep_out`` once more, its push averaged over FINISH_KEEP_OUT_FRAMES frames
   instead of 21: during sampling each prediction is a fresh one, so the last is left with one
   push averaged over two seconds, which takes a leg that enters a bed for a few frames only
   part of the way out (legs and trunks inside furniture in 3.6 % of the person-frames of the
   bed and fall scripts of the test scenes). On the 128 held-out test requests this takes scene
   penetration from 2.4 % to 1.4 % of person-frames at the default setting (DDIM 25 steps) and
   from 2.5 % to 1.2 % at the panel's Standard (DPM-Solver++ 10 steps; real data 0.6 %), at the
   price of foot skating 0.017 -> 0.019 and 0.020 -> 0.022 (real 0.020, its band ends at
   0.0235) and Float 0.036 -> 0.039, as a shorter average moves planted feet with the body.
   Over 11 frames: 1.1 % / 0.0190 at the default, 1.0 % / 0.0232 at Standard; over 21 frames:
   1.6 % / 0.0176 and 1.4 % / 0.0221; two pushes over 21 frames 1.3 % / 0.0197; three over 11
   frames after the filter 0.6 % / 0.0245 (scene penetration / foot skating);
2. filtered along time (``temporal_smoothing``: the model's frame-to-frame shake, a tenth of a
   second; after the push, so that the filter also smooths the push's ends);
3. with a prompt about a walk, ``walking.walk_walkers``: a walker the model leaves shuffling on
   the spot stepped along a straight route free of furniture (the rest of the clip moved with
   the walk's end), after the filter, which would blur the locked stance feet into sliding
   (foot skating of the walking test requests 0.01 -> 0.09);
4. the body separation once more, on a fresh decode (it measures the capsules on one decode per
   call and moves people by its rounds, so a deep overlap in the last prediction can leave a
   shallow one behind, and the filter can move a body by a centimetre or two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .bed_edge import Beds, beds_of, sit_on_bed_edges
from .body_separation import keep_bodies_apart
from .keep_out import EscapeMap, escape_map, keep_out
from .onto_support import SupportMap, onto_support, support_map
from .seating import Chairs, chairs_of, seat_sitters
from .spacing import Model, keep_apart
from ..generation_settings import DEFAULT_SMOOTHING_S
from ..placement import HeightMap, height_map
from .temporal_smoothing import gaussian_over_time
from .walking import walk_walkers

FINISH_KEEP_OUT_FRAMES = 15  # the finishing keep_out's push is averaged over this many frames (1.5 s at 10 fps)


@dataclass(frozen=True, eq=False)
class Corrections:
    """The corrections of one sampling run, their scene maps made once per run.

    mean, std: (F,) the checkpoint's statistics; persons_valid: (B, P) bool; rest_joints: (24, 3)
    metres, the skeleton the decode uses; fps: the checkpoint's; frames_valid: (B, T) bool, the
    real (unpadded) frames, or None for all; escape, support: per batch row the scene's maps
    (None: no scene), or None for no scene at all; in_bed: per batch row, whether its prompt was
    understood as an action in which someone lies in bed (only those rows' bodies are moved
    onto beds), or None for none; chairs: per batch row the scene's chairs (made by
    :meth:`for_scenes` when someone may sit), or None; seated: per batch row, per person
    whether they may be put onto a chair (``seating.sitting_persons`` of the rows whose prompt
    was understood as an action in which someone sits on one; None: nobody), or None for no
    row; beds, bed_sitters: the same for sitting on a bed's edge (``bed_edge``); walkers: per
    batch row, per person whether they may be stepped along a route (``walking.walking_persons``
    of the rows whose prompt was understood as a walk; None: nobody), or None for no row; roles:
    per batch row the persons' roles (their walking speed), or None; grids: per batch row the
    scene's height map (made by :meth:`for_scenes` when someone may walk), or None; smoothing_s:
    the standard deviation of the time filter of :meth:`finish`, seconds (0: none).
    """

    mean: np.ndarray
    std: np.ndarray
    persons_valid: Tensor
    rest_joints: np.ndarray
    fps: float
    frames_valid: Tensor | None = None
    escape: list[EscapeMap | None] | None = None
    support: list[SupportMap | None] | None = None
    in_bed: Sequence[bool] | None = None
    chairs: list[Chairs | None] | None = None
    seated: Sequence[Sequence[bool] | None] | None = None
    beds: list[Beds | None] | None = None
    bed_sitters: Sequence[Sequence[bool] | None] | None = None
    walkers: Sequence[Sequence[bool] | None] | None = None
    roles: Sequence[Sequence[str] | None] | None = None
    grids: list[HeightMap | None] | None = None
    smoothing_s: float = DEFAULT_SMOOTHING_S

    @classmethod
    def for_scenes(cls, mean: np.ndarray, std: np.ndarray, persons_valid: Tensor,
                   scenes: Sequence[np.ndarray | None] | None, **settings) -> "Corrections":
        """Corrections for one (N, 3) scene point array (metres, floor z = 0) or None per batch
        row (``scenes`` None: no scene at all); ``settings``: the other fields."""
        escape = support = chairs = beds = walk_grids = None
        if scenes is not None and any(points is not None for points in scenes):
            grids = [None if points is None else height_map(points) for points in scenes]  # one per scene
            escape = [None if points is None else escape_map(points, grid) for points, grid in zip(scenes, grids)]
            support = [None if points is None else support_map(points, grid) for points, grid in zip(scenes, grids)]
            if settings.get("seated") is not None and any(settings["seated"]):
                chairs = [None if points is None or not seated else chairs_of(points, grid)
                          for points, grid, seated in zip(scenes, grids, settings["seated"])]
            if settings.get("bed_sitters") is not None and any(settings["bed_sitters"]):
                beds = [None if points is None or not sitters else beds_of(points, grid)
                        for points, grid, sitters in zip(scenes, grids, settings["bed_sitters"])]
            if settings.get("walkers") is not None and any(settings["walkers"]):
                walk_grids = grids
        return cls(mean, std, persons_valid, escape=escape, support=support, chairs=chairs, beds=beds,
                   grids=walk_grids, **settings)

    def wrap(self, model: Model) -> Model:
        """``model`` with the corrections of the module docstring."""
        model = keep_apart(model, self.mean, self.std, self.persons_valid)
        if self.escape is not None:
            model = onto_support(model, self.mean, self.std, self.support, self.in_bed, fps=self.fps,
                                 rest_joints=self.rest_joints)
            model = keep_out(model, self.mean, self.std, self.escape, rest_joints=self.rest_joints)
        return self._separation(model)

    def finish(self, x0: Tensor) -> Tensor:
        """A sampler's result x0 (B, P, T, F), normalised, with sitters put on chairs and bed
        edges, walkers stepped along a route, legs and trunks moved out of the furniture once more, filtered along time and then
        with ``body_separation`` run once more (module docstring)."""
        t = torch.zeros(len(x0), dtype=torch.long, device=x0.device)
        if self.chairs is not None:
            x0 = seat_sitters(x0, self.mean, self.std, self.chairs, self.seated, fps=self.fps,
                              rest_joints=self.rest_joints)
        if self.beds is not None:
            x0 = sit_on_bed_edges(x0, self.mean, self.std, self.beds, self.bed_sitters, fps=self.fps,
                                  rest_joints=self.rest_joints)
        if self.escape is not None:
            x0 = keep_out(lambda x, t: x, self.mean, self.std, self.escape, rest_joints=self.rest_joints,
                          frames=FINISH_KEEP_OUT_FRAMES)(x0, t)
        x0 = gaussian_over_time(x0, self.smoothing_s * self.fps, self.frames_valid)
        if self.walkers is not None and any(self.walkers):
            x0 = walk_walkers(x0, self.mean, self.std, self.grids, self.walkers, self.roles, fps=self.fps,
                              rest_joints=self.rest_joints, frames_valid=self.frames_valid)
        return self._separation(lambda x, t: x)(x0, t)

    def _separation(self, model: Model) -> Model:
        return keep_bodies_apart(model, self.mean, self.std, self.persons_valid, rest_joints=self.rest_joints,
                                 frames_valid=self.frames_valid, fps=self.fps, maps=self.escape)
