"""The few entry points the Blender side calls. Operators call exactly one of these."""

from __future__ import annotations

from pathlib import Path

from .environment import (
    EnvironmentReport,
    probe_interpreter,
    select_interpreter,
)
from .room import RoomLayout, RoomScene, demo_room_scene
from .settings import BUNDLED_CHECKPOINT, Preferences


def demo_room(layout: RoomLayout) -> RoomScene:
    """The demo care room with its monitoring camera (see :mod:`.room`)."""
    return demo_room_scene(layout)


def check_environment(
    prefs: Preferences, blender_python: str, blender_paths: tuple[str, ...] = ()
) -> EnvironmentReport:
    """Probe the interpreter that the preferences choose for generation."""
    return probe_interpreter(select_interpreter(prefs, blender_python, blender_paths))


def prepare_motion_import(
    paths: list[str],
    prefs: Preferences,
    scene_fps: float,
    fps_mode: str = "SCENE",
    with_body: bool = True,
    pose_correctives: bool = False,
):
    """Read motion files and the body model; returns (list of PersonBuild, shared fps).

    Nothing here touches Blender, so a bad file fails before the scene changes.
    """
    from .body.model import preferred_body_model
    from .people import person_build, read_motions

    motions, fps = read_motions(paths, scene_fps, fps_mode)
    builds = []
    for motion in motions:
        body = preferred_body_model(prefs.smpl_model_dir or None, motion.gender, hands=motion.hand_pose is not None)
        builds.append(
            person_build(motion, body, motion.name or "Person", with_body=with_body, pose_correctives=pose_correctives)
        )
    return builds, fps


def export_motion(path: str, motion) -> None:
    """Write one motion as an AMASS-style .npz (atomically)."""
    from .motion.amass import write_amass_npz

    write_amass_npz(path, motion)


def prepare_reconstruction_import(path: str, prefs: Preferences, with_body: bool = True):
    """Read a reconstruction bundle and the body model; returns (Bundle, list of PersonBuild).

    Everything is read and checked here, before Blender is touched.
    """
    from .recon.bundle import read_bundle

    bundle = read_bundle(path)
    return bundle, person_builds_for_bundle(bundle, prefs, with_body)


def person_builds_for_bundle(bundle, prefs: Preferences, with_body: bool = True) -> list:
    """One PersonBuild per person of a bundle, with the preferred body model."""
    from .body.model import preferred_body_model
    from .people import motions_from_bundle, person_build

    body = preferred_body_model(prefs.smpl_model_dir or None)
    return [person_build(motion, body, motion.name, with_body=with_body) for motion in motions_from_bundle(bundle)]


def reconstruct_sequence(folder: str, prefs: Preferences, config=None, progress=None, *, refine: bool = False):
    """Read a Teton sequence folder and reconstruct it into a bundle (see core.recon.pipeline).

    config: a ReconstructionConfig (None: the defaults, with ``refine``). The pipeline
    and scipy load here, on use, not when Blender starts.
    """
    from .body.model import preferred_body_model
    from .recon.pipeline import ReconstructionConfig, reconstruct
    from .recon.sequence import read_sequence

    sequence = read_sequence(folder)
    body = preferred_body_model(prefs.smpl_model_dir or None)
    return reconstruct(sequence, body, config or ReconstructionConfig(refine=refine), progress)


def generation_checkpoint(prefs: Preferences) -> str:
    """The checkpoint generation uses: ``prefs.checkpoint_path``, or the bundled one when empty.

    Raises FileNotFoundError when the preference is empty and no checkpoint is bundled yet.
    """
    if prefs.checkpoint_path.strip():
        return prefs.checkpoint_path

    if not BUNDLED_CHECKPOINT.is_file():
        raise FileNotFoundError(
            f"No generation checkpoint is set, and the bundled one ({BUNDLED_CHECKPOINT}) is not trained yet. "
            "Set Preferences > Add-ons > Interaction Synth > Checkpoint to a generation checkpoint "
            "(a .safetensors with its .json beside it), or pass --checkpoint PATH to ./run generate."
        )
    return str(BUNDLED_CHECKPOINT)


def generate(prefs: Preferences, request, callback=None):
    """Run a GenerationRequest with the preferred checkpoint; returns a GenerationResult.

    The checkpoint comes from ``generation_checkpoint(prefs)`` and stays warm between calls
    (``core.generate.load_generator``). Device: the request's, or the preference's when the
    request says "auto". callback(step, total) -> True cancels (raises SamplingCancelled).
    torch loads here, on the first generation, not when Blender starts.
    """
    from .generate import load_generator

    device = prefs.compute_device.lower() if request.device == "auto" else request.device
    generator = load_generator(generation_checkpoint(prefs), device, prefs.clip_weights_path or None)
    return generator.generate(request, callback)


def checkpoint_summary(prefs: Preferences) -> tuple[str, bool]:
    """(a one-line description of the checkpoint generation will use, whether it exists).

    Reads only the file system and the checkpoint's JSON (no torch), so a panel can draw it.
    """
    import json

    path = Path(prefs.checkpoint_path) if prefs.checkpoint_path.strip() else BUNDLED_CHECKPOINT
    which = "Bundled" if not prefs.checkpoint_path.strip() else "Custom"
    if not path.is_file():
        return f"{which} checkpoint missing: {path.name}", False
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        rep = meta["representation"]
        return f"{which}: {path.stem}, {rep['fps']:g} fps, up to {rep['max_frames'] / rep['fps']:g} s", True
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return f"{which}: {path.name} (metadata unreadable)", False


# ---------------------------------------------------------------------------------------------
# Generate Interaction (the panel and isynth.generate_interaction)


def plan_generation(prefs: Preferences, settings, scene_points=None):
    """Check everything about one Generate click before a worker runs or the scene changes.

    settings: a ``GenerationSettings``; scene_points: (N, 3) world metres of the chosen scene,
    or None. Returns a ``GenerationPlan``; raises ``SettingsError`` (missing checkpoint,
    duration beyond its limit, too many persons, a scene without a floor).
    """
    from .generation_plan import make_plan

    return make_plan(prefs, settings, generation_checkpoint_or_error(prefs), scene_points)


def generation_checkpoint_or_error(prefs: Preferences) -> str:
    """``generation_checkpoint`` with its FileNotFoundError as a SettingsError (for the panel)."""
    from .generation_settings import SettingsError

    try:
        return generation_checkpoint(prefs)
    except FileNotFoundError as error:
        raise SettingsError(f"checkpoint: {error}") from None


def generated_people(plan, results, prefs: Preferences):
    """The finished job's motions as PersonBuilds in the scene's floor frame, placed on free floor.

    results: the job's ``VariationResult`` list. Returns one ``GeneratedVariation`` per result.
    Reads every file before returning, so a bad file changes nothing in Blender.
    """
    from .generation_plan import people_from_results

    return people_from_results(plan, results, prefs)
