"""Re-keying a retarget so that it holds through the target's constraints, measured in Blender.

Called when the in-Blender check (:mod:`.retarget_check`) finds that the rig does not show
the keyed pose (a control rig whose constraints or drivers move the keyed bones, like a
generated Rigify rig's head, neck and FK spine). Frame by frame, the keyed bones are posed,
the rig is evaluated, and each keyed basis is corrected by what Blender shows
(:mod:`..core.retarget.through_constraints`) until every keyed bone is within
``TOLERANCE_DEG`` of the solve's rotation; each frame starts from the correction of the
frame before, turned on as it turned between the two frames before (a linear extrapolation),
so most frames need one or two evaluations (1.7 a frame on a generated Rigify rig, against 3
without the extrapolation). Then the action's rotation F-curves
are overwritten in place. The scene's frame is restored; the rig's rest data is not touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import bpy
import numpy as np
from mathutils import Matrix

from ..core.retarget.api import RetargetResult
from ..core.retarget.quality import keys_overridden
from ..core.retarget.rotmath import orthonormalize
from ..core.retarget.through_constraints import (
    MAX_PASSES,
    TOLERANCE_DEG,
    angles_deg,
    corrected_basis,
    goal_rotations,
    keyed_basis,
    keyed_parents,
    unresponsive,
    with_basis,
)
from .actions import overwrite_channels
from .retarget_check import evaluated_direction_errors

HELD_DEG = 1.0  # a keyed bone still this far from its goal after the passes is held by its constraints
from .retarget import bone_data_path


@dataclass(frozen=True)
class ConstraintFit:
    """What the refinement did: frames re-keyed, evaluations spent, the worst keyed bone's
    angle from its goal at the first frame with the solve's keys and, over all frames, with
    the new ones (degrees; bones in ``held`` aside; NaN when every keyed bone is held), the
    keyed bones that the constraints hold whatever their keys (kept at the solve's keys),
    seconds, and how many bones are keyed."""

    frames: int
    evaluations: int
    before_deg: float
    after_deg: float
    held: tuple[str, ...]
    seconds: float
    keyed: int = 0

    def summary(self) -> str:
        # With most bones held, "0.00 max after" alone (over the few that follow, or none) read
        # as a success: say how many bones it is over, and how many the constraints hold.
        text = (f"re-keyed through the rig's constraints: keyed bones {self.before_deg:.1f} deg off at the "
                f"first frame, ")
        if np.isnan(self.after_deg):
            text += "none follows its keys"
        elif self.held:
            text += (f"{self.after_deg:.2f} max after on the {self.keyed - len(self.held)} of {self.keyed} "
                     "that follow their keys")
        else:
            text += f"{self.after_deg:.2f} max after"
        text += f", {self.frames} frames in {self.seconds:.1f} s"
        if self.held:
            text += f"; {len(self.held)} held by constraints whatever their keys: {', '.join(self.held)}"
        return text

    def warning(self) -> str:
        """The warning for keyed bones that constraints hold, "" for none. The in-Blender check
        may not see them (it samples a few frames and scores only bones with a direction: a
        held head, toe or in-between bone), so the operator warns from this too."""
        if not self.held:
            return ""
        return (f"WARNING: constraints hold {len(self.held)} keyed bone(s) whatever their keys, so Blender does "
                "not show the retargeted pose on them (map bones that no constraint drives: on a generated "
                "Rigify rig its FK controls, not its DEF bones)")


def follow_through_constraints(
    obj: bpy.types.Object,
    result: RetargetResult,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RetargetResult, ConstraintFit]:
    """Re-key ``obj`` (the object ``result`` was written to, its action active) so that its
    evaluated keyed bones match the solve; returns the re-keyed result and what it did.

    progress(done, total) is called after every frame.
    """
    started = time.perf_counter()
    names = [result.rig.bone_names[b] for b in result.solution.keyed]
    pose_bones = [obj.pose.bones[name] for name in names]
    goals = goal_rotations(result)  # (T, K, 3, 3)
    parents = keyed_parents(result.solution.keyed, result.rig.parents)
    basis = keyed_basis(result)  # (T, K, 3, 3), refined in place frame by frame
    T = len(basis)
    scene, view_layer = bpy.context.scene, bpy.context.view_layer
    current = scene.frame_current, scene.frame_subframe
    first = int(np.floor(result.frame_start))
    subframe = float(result.frame_start - first)
    correction = np.broadcast_to(np.eye(3), basis.shape[1:]).copy()  # B_refined = B_solve · correction
    change = correction.copy()  # how the correction turned from the frame before to the last one
    solved = basis.copy()
    worst = np.zeros(basis.shape[1])  # (K,) each bone's largest remaining angle, degrees
    before = 0.0
    evaluations = 0
    root = obj.pose.bones[result.rig.bone_names[result.solution.root]]
    self_contained = depends_on_itself_only(obj)
    try:
        for t in range(T):
            if t == 0 or not self_contained:
                scene.frame_set(first + t, subframe=subframe)  # the action's own values: switches, root
            else:  # the rest of the action is constant: posing the root and the keyed bones is the frame
                root.location = result.solution.root_location[t]
            solve_basis = basis[t].copy()
            if t == 0:
                before = float(angles_deg(_evaluated(pose_bones), goals[0]).max())
            current_basis = orthonormalize(solve_basis @ correction @ change)  # extrapolated
            best_basis, best_error = current_basis, None
            moves, previous = np.ones(len(names), dtype=bool), None  # previous: (basis, evaluated)
            for _ in range(MAX_PASSES):
                _pose(pose_bones, current_basis)
                view_layer.update()
                evaluations += 1
                evaluated = _evaluated(pose_bones)
                errors = angles_deg(evaluated, goals[t])
                if best_error is None or errors.sum() < best_error.sum():
                    best_basis, best_error = current_basis, errors
                if previous is not None:
                    moves &= ~unresponsive(previous[0], current_basis, previous[1], evaluated, parents)
                if np.all((errors <= TOLERANCE_DEG) | ~moves):
                    break
                previous = current_basis, evaluated
                current_basis = corrected_basis(current_basis, evaluated, goals[t], parents, moves)
            basis[t] = best_basis
            new_correction = np.swapaxes(solve_basis, -1, -2) @ best_basis
            if t > 0:  # the first frame's correction is from nothing, not a trend
                change = np.swapaxes(correction, -1, -2) @ new_correction
            correction = new_correction
            worst = np.maximum(worst, best_error)
            if progress is not None:
                progress(t + 1, T)
        held = worst > HELD_DEG
        basis[:, held] = solved[:, held]  # keys that change nothing stay the solve's
        refined = with_basis(result, basis)
        keyed = set(names)
        overwrite_channels(obj, {(bone_data_path(c.bone, c.prop), c.index): c.values
                                 for c in refined.channels if c.bone in keyed and c.prop.startswith("rotation")})
    finally:
        scene.frame_set(current[0], subframe=current[1])  # the frame back, evaluated with the new keys
    after = float(worst[~held].max()) if (~held).any() else float("nan")
    fit = ConstraintFit(T, evaluations, before, after, tuple(n for n, h in zip(names, held) if h),
                        time.perf_counter() - started, len(names))
    return refined, fit


def hold_through_constraints(
    obj: bpy.types.Object,
    result: RetargetResult,
    progress: Callable[[int, int], None] | None = None,
    errors: np.ndarray | None = None,
) -> tuple[RetargetResult, ConstraintFit | None]:
    """``result`` (written to ``obj``) re-keyed by :func:`follow_through_constraints` when the
    rig has constraints or drivers and the in-Blender check finds its evaluated pose farther
    from SMPL than the keys themselves (:func:`..core.retarget.quality.keys_overridden`);
    else ``(result, None)`` unchanged, at the cost of a few evaluations at most.

    errors: the check's (F, M) degrees for ``result`` as written, when the caller measured them
    already (:func:`.retarget_check.evaluated_direction_errors`); None: measured here if needed.
    """
    if obj.data.pose_position == "REST" or not has_constraints_or_drivers(obj):
        return result, None  # (an armature showing its rest position evaluates to it whatever the keys)
    if errors is None:
        errors = evaluated_direction_errors(obj, result)
    if not errors.size or not keys_overridden(float(errors.max()), result.score.direction_max_deg):
        return result, None
    return follow_through_constraints(obj, result, progress)


def depends_on_itself_only(obj: bpy.types.Object) -> bool:
    """Whether the armature's constraints and drivers read nothing but the armature itself (its
    object and data), no driver reads the frame and no unmuted NLA track plays: then posing its
    keyed bones and root gives what Blender shows at any frame of the new action (whose other
    channels are constant), and the re-keying need not evaluate the whole scene at every frame
    (a generated Rigify rig's do: its 300-frame re-keying went from 11.1 s to 6.9 s in the
    benchmark's scene, which holds two SMPL bodies)."""
    own = {obj, obj.data}
    anim = obj.animation_data
    if anim is not None and any(not track.mute for track in anim.nla_tracks):
        return False  # NLA strips play under the new action and change with the frame
    for pb in obj.pose.bones:
        for constraint in pb.constraints:
            if constraint.mute:
                continue
            targets = [getattr(constraint, "target", None)]
            targets += [t.target for t in getattr(constraint, "targets", ())]  # the Armature constraint
            if any(target is not None and target not in own for target in targets):
                return False
    for driver in (fcurve.driver for fcurve in _driver_curves(obj)):
        if "frame" in driver.expression:
            return False
        for variable in driver.variables:
            if any(target.id is not None and target.id not in own for target in variable.targets):
                return False
    return True


def has_constraints_or_drivers(obj: bpy.types.Object) -> bool:
    """Whether anything but keys and the hierarchy can move the armature's bones: a pose bone
    constraint (muted ones aside) or a driver on the object or its armature data."""
    if any(not c.mute for pb in obj.pose.bones for c in pb.constraints):
        return True
    return any(True for _ in _driver_curves(obj))


def _driver_curves(obj: bpy.types.Object):
    """The driver F-curves of the armature object and of its armature data."""
    for owner in (obj, obj.data):
        anim = getattr(owner, "animation_data", None)
        if anim is not None:
            yield from anim.drivers


def _evaluated(pose_bones) -> np.ndarray:
    """(K, 3, 3) the pose bones' evaluated armature-space matrices (rotation and scale)."""
    return np.array([[row[:3] for row in pb.matrix[:3]] for pb in pose_bones], dtype=np.float64)


def _pose(pose_bones, basis: np.ndarray) -> None:
    """Give each pose bone the basis rotation (3, 3), keeping its location and scale."""
    for pb, rotation in zip(pose_bones, basis):
        matrix = np.array(pb.matrix_basis, dtype=np.float64)
        scale = np.linalg.norm(matrix[:3, :3], axis=0)
        matrix[:3, :3] = rotation * scale
        pb.matrix_basis = Matrix(matrix.tolist())
