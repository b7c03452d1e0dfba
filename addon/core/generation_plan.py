"""From a Generate click to a job, and from the job's files to people in the scene (numpy only).

``make_plan`` checks the settings against the checkpoint and the scene (before anything runs)
and lays the scene's points out in the model's room frame (``scene_frame``). After the worker
has finished, ``people_from_results`` reads its motion files, moves them back into the
scene's floor frame, shifts the group onto free floor when a start pose is inside furniture
(``placement``), and returns what the bridge keys onto rigs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .generation_settings import CheckpointLimits, GenerationSettings, SettingsError, checkpoint_limits
from .motion.amass import read_amass_npz
from .motion.motion import Motion
from .placement import Placement, has_floor, place_on_free_floor
from .scene_frame import SceneFrame, canonical_frame, translate_motion
from .settings import Preferences
from .skeleton import NUM_BODY_JOINTS, forward_kinematics

MAX_SCENE_POINTS = 4096  # what the model was trained with (configs/care.toml max_scene_points)


@dataclass(frozen=True)
class GenerationPlan:
    """Everything one click needs, checked.

    settings, limits: the request and what the checkpoint allows; checkpoint: its path;
    device: "auto", "cuda" or "cpu" for the worker; clip_weights: local open_clip weights or "";
    frame: world <-> the model's room frame; scene_points_world: (N, 3) metres or None;
    scene_points_room: the same points in the room frame (what the model sees) or None.
    """

    settings: GenerationSettings
    limits: CheckpointLimits
    checkpoint: str
    device: str
    clip_weights: str
    frame: SceneFrame
    scene_points_world: np.ndarray | None
    scene_points_room: np.ndarray | None


@dataclass(frozen=True)
class GeneratedVariation:
    """One seed's people. builds: ``core.people.PersonBuild`` per person (world frame);
    joints: (P, T, 22, 3) world metres, what the rigs will show; placement: the group shift
    applied (None without a scene); device, seconds: where and how long the worker sampled."""

    seed: int
    builds: list
    joints: np.ndarray
    placement: Placement | None
    device: str
    seconds: float


def make_plan(prefs: Preferences, settings: GenerationSettings, checkpoint: str,
              scene_points: np.ndarray | None, rng_seed: int = 0) -> GenerationPlan:
    """The checked plan; SettingsError for anything that cannot run."""
    limits = checkpoint_limits(checkpoint)
    settings.check_against(limits)
    device = (prefs.compute_device if settings.device == "AUTO" else settings.device).lower()
    frame, world, room = SceneFrame(), None, None
    if scene_points is not None:
        world = np.asarray(scene_points, dtype=np.float64)
        if world.ndim != 2 or world.shape[1] != 3 or len(world) == 0 or not np.isfinite(world).all():
            raise SettingsError(f"scene: its points must be (N > 0, 3) finite metres, got shape {world.shape}")
        if not has_floor(world):
            raise SettingsError("scene: it has no floor (no points at z = 0); import a reconstruction or add a "
                                "room whose floor is the XY plane, or choose no scene")
        if len(world) > MAX_SCENE_POINTS:
            world = world[np.random.default_rng(rng_seed).choice(len(world), MAX_SCENE_POINTS, replace=False)]
        frame = canonical_frame(world)
        room = frame.to_room(world)
    return GenerationPlan(settings=settings, limits=limits, checkpoint=checkpoint, device=device,
                          clip_weights=prefs.clip_weights_path, frame=frame, scene_points_world=world,
                          scene_points_room=room)


def people_from_results(plan: GenerationPlan, results, prefs: Preferences) -> list[GeneratedVariation]:
    """One GeneratedVariation per finished ``VariationResult`` (see the module doc)."""
    from .body.model import preferred_body_model
    from .people import person_build

    body = preferred_body_model(prefs.smpl_model_dir or None)
    variations = []
    for result in results:
        motions = [read_amass_npz(path) for path in result.motion_files]
        if [m.role for m in motions] != list(plan.settings.roles):
            raise SettingsError(f"the worker returned roles {[m.role for m in motions]}, "
                                f"expected {list(plan.settings.roles)}")
        rest = [body.rest_joints(m.betas) for m in motions]
        motions = [plan.frame.motion_to_world(m, r[0]) for m, r in zip(motions, rest)]
        joints = np.stack([world_joints(m, r) for m, r in zip(motions, rest)])
        placement = None
        if plan.scene_points_world is not None:
            placement = place_on_free_floor(joints, plan.scene_points_world)
            if placement.moved:
                motions = [translate_motion(m, placement.shift) for m in motions]
                joints = joints + placement.shift
        builds = []
        for index, motion in enumerate(motions):
            motion.name = f"{motion.role.title()} {index + 1}"
            builds.append(person_build(motion, body, motion.name))
        variations.append(GeneratedVariation(seed=result.seed, builds=builds, joints=joints, placement=placement,
                                             device=result.device, seconds=result.seconds))
    return variations


def world_joints(motion: Motion, rest_joints: np.ndarray) -> np.ndarray:
    """(T, 22, 3) float64 world joints (metres, Z up) of ``motion`` on ``rest_joints`` (24, 3)."""
    _, joints = forward_kinematics(motion.local_rotations(), np.asarray(rest_joints, np.float64), motion.transl)
    return joints[:, :NUM_BODY_JOINTS]


def new_job(plan: GenerationPlan):
    """The worker job for ``plan`` (not started; see ``GenerationJob.start``)."""
    from .generation_job import GenerationJob

    return GenerationJob(settings=plan.settings, checkpoint=plan.checkpoint, device=plan.device,
                         clip_weights=plan.clip_weights, scene_points=plan.scene_points_room)
