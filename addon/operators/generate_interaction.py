"""``isynth.generate_interaction``: prompt + roles (+ scene) -> keyed rigs, without freezing Blender.

From the panel (INVOKE) the sampler runs in the warm worker process while a modal timer
polls it: progress in the panel and the status bar, Esc or Cancel stops within one sampler
step. In background mode (``blender -b``) or from a script (EXEC) the same work runs
synchronously. Either way nothing in the scene changes until every variation is finished;
then one step builds it all (one undo step), and a failure anywhere in that step puts the
scene back as it was. The operator is UNDO but not REGISTER: F9 and Repeat Last would re-run
the whole sampling synchronously.

The clip is keyed at the scene's frame rate unless told otherwise (resampled in the worker);
Set Scene FPS and Set Frame Range are separate choices, and keys whose rate differs from the
scene's are reported as a warning.

Every panel setting is also an operator argument; an argument that is not given takes the
panel's value, so scripts can call ``bpy.ops.isynth.generate_interaction(prompt=...,
roles="staff,patient", seconds=6, seed=3)`` without touching the panel.
"""

import sys

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..bridge.generated import add_generated_interaction, is_smpl_rig, restore_scene, snapshot_scene
from ..bridge.generated_avatars import check_avatar, retarget_onto_avatars
from ..bridge.scene_points import collection_scene_points
from ..bridge.scene_time import scene_fps
from ..core import api, generation_runtime, worker_service
from ..core.environment import GenerationEnvironmentError, select_interpreter
from ..core.generation_plan import new_job
from ..core.generation_settings import (MAX_SMOOTHING_S, GenerationSettings, SettingsError, check_target_names,
                                        parse_roles)
from ..core.placement import SEARCH_RADIUS_M
from ..core.worker_client import WorkerDied
from ..preferences import preferences_of
from ..properties import DEVICE_ITEMS, QUALITY_ITEMS, SAMPLER_ITEMS, panel_fps, panel_roles, panel_targets

TIMER_S = 0.1
BLOCKING_TIMEOUT_S = 1800.0
# What can go wrong before anything runs: a setting, the environment, the worker's start.
_SETUP_ERRORS = (SettingsError, GenerationEnvironmentError, ValueError, OSError, WorkerDied)
# (window manager, timer) of the panel's running generation. Module state, not the operator's:
# disabling the extension frees a running modal operator without calling its cancel(), and
# stop_running_generation must still find the timer to remove it.
_modal_timer: tuple | None = None


def _argument(prop, **kwargs):
    return prop(options={"SKIP_SAVE"}, **kwargs)


class ISYNTH_OT_generate_interaction(bpy.types.Operator):
    """Generate the interaction the prompt describes and key it onto rigs in the scene"""

    bl_idname = "isynth.generate_interaction"
    bl_label = "Generate Interaction"
    # UNDO without REGISTER: Blender still pushes the one undo step (OPTYPE_UNDO alone does),
    # but F9 "Adjust Last Operation" and Repeat Last, which need REGISTER, cannot re-run
    # execute(): that would sample synchronously, freezing Blender, with every SKIP_SAVE
    # argument reset to empty.
    bl_options = {"UNDO"}

    prompt: _argument(StringProperty, name="Prompt")
    roles: _argument(StringProperty, name="Roles", description="Comma-separated, e.g. 'staff,patient'")
    seconds: _argument(FloatProperty, name="Duration (s)", min=0.0)
    fps: _argument(FloatProperty, name="fps", description="Output frame rate, resampled (0: the checkpoint's); "
                   "not given: the panel's Frame Rate (the scene's by default)", min=0.0)
    seed: _argument(IntProperty, name="Seed", min=0)
    guidance: _argument(FloatProperty, name="Guidance")
    quality: _argument(EnumProperty, name="Quality", items=[(k, n, "") for k, n, _ in QUALITY_ITEMS])
    sampler: _argument(EnumProperty, name="Sampler", items=SAMPLER_ITEMS)
    steps: _argument(IntProperty, name="Steps", min=0)
    device: _argument(EnumProperty, name="Device", items=DEVICE_ITEMS)
    variations: _argument(IntProperty, name="Variations", min=1)
    anchor_prompt: _argument(BoolProperty, name="Anchor Prompt", default=True,
                             description="Understand the prompt through the checkpoint's training captions")
    hand_contact: _argument(BoolProperty, name="Hand Contact", default=True,
                            description="Put helpers' hands on the other person when the prompt implies touch")
    smoothing_s: _argument(FloatProperty, name="Smoothing (s)", min=0.0, max=MAX_SMOOTHING_S,
                           description="Time filter on the sampled motion, seconds (0: none)")
    scene: _argument(StringProperty, name="Scene", description="Scene collection by name ('' with the "
                     "argument given: no scene)")
    targets: _argument(StringProperty, name="Targets", description="Comma-separated rig or avatar names, one "
                       "per role ('' or '-': a new SMPL rig). An avatar that is not an SMPL rig gets the motion "
                       "retargeted from a new SMPL rig")
    set_frame_range: _argument(BoolProperty, name="Set Frame Range", default=True)
    set_scene_fps: _argument(BoolProperty, name="Set Scene FPS", default=False,
                             description="Make the scene play at the clip's frame rate")

    _job = None
    _plan = None

    # -- reading the settings -----------------------------------------------------------------

    def _value(self, panel, name: str, panel_name: str | None = None):
        """The argument when given, else the panel's setting."""
        if self.properties.is_property_set(name):
            return getattr(self, name)
        return getattr(panel, panel_name or name)

    def _number(self, panel, name: str) -> float:
        """A float setting as typed: Blender keeps floats in single precision (0.1 comes back as
        0.10000000149), and scripts and job files pass the decimal itself."""
        return round(float(self._value(panel, name)), 4)

    def _settings(self, context):
        """(GenerationSettings, targets, scene collection or None); SettingsError on bad input."""
        panel = context.scene.isynth_generation
        roles = parse_roles(self.roles) if self.properties.is_property_set("roles") else panel_roles(panel)
        if self.properties.is_property_set("fps"):
            fps = self._number(panel, "fps") or None
        else:
            fps = panel_fps(panel, scene_fps(context.scene))
        sampler = self._value(panel, "sampler")
        settings = GenerationSettings(
            prompt=self._value(panel, "prompt"), roles=roles, seconds=self._number(panel, "seconds"),
            fps=fps, seed=int(self._value(panel, "seed")), guidance=self._number(panel, "guidance"),
            quality=self._value(panel, "quality"), sampler="" if sampler == "PRESET" else sampler,
            steps=int(self._value(panel, "steps")), device=self._value(panel, "device"),
            variations=int(self._value(panel, "variations")),
            anchor_prompt=bool(self._value(panel, "anchor_prompt")),
            hand_contact=bool(self._value(panel, "hand_contact")),
            smoothing_s=self._number(panel, "smoothing_s"),
        )
        return settings, self._targets(panel, len(roles)), self._scene_collection(panel)

    def _targets(self, panel, persons: int) -> list:
        if self.properties.is_property_set("targets"):
            names = [n.strip() for n in self.targets.split(",")] if self.targets.strip() else []
        else:
            names = panel_targets(panel)[:persons]
        check_target_names(names, persons)
        found = []
        for index, name in enumerate(names):
            if name in ("", "-"):
                found.append(None)
            elif name not in bpy.data.objects:
                raise SettingsError(f"person {index + 1}: no object named {name!r}")
            else:
                found.append(bpy.data.objects[name])
        for index, obj in enumerate(found):
            if obj is None or is_smpl_rig(obj):
                continue
            if obj.type != "ARMATURE":
                raise SettingsError(f"person {index + 1}: target '{obj.name}' is not an armature")
            try:
                check_avatar(obj)
            except ValueError as error:
                raise SettingsError(f"person {index + 1}: avatar '{obj.name}' cannot be retargeted onto: {error}") from None
        return found + [None] * (persons - len(found))

    def _scene_collection(self, panel):
        name = self.scene if self.properties.is_property_set("scene") else panel.scene_collection
        if not name.strip():
            return None
        collection = bpy.data.collections.get(name)
        if collection is None:
            raise SettingsError(f"scene: no collection named {name!r}")
        return collection

    def _prepare(self, context):
        """Everything checked, the worker started: (plan, job, targets); raises on any problem."""
        settings, targets, collection = self._settings(context)
        points = collection_scene_points(collection, settings.seed) if collection is not None else None
        prefs = preferences_of(context)
        plan = api.plan_generation(prefs, settings, points)
        interpreter = select_interpreter(prefs, sys.executable, tuple(sys.path))
        job = new_job(plan)
        job.start(worker_service.client_for(interpreter))
        return plan, job, targets

    # -- running --------------------------------------------------------------------------------

    def execute(self, context):
        """Synchronous: background mode and scripts."""
        if generation_runtime.active_job() is not None:
            self.report({"ERROR"}, "A generation is already running; cancel it or wait")
            return {"CANCELLED"}
        status = context.window_manager.isynth_status
        status.generation_warning = ""
        try:
            plan, job, targets = self._prepare(context)
        except _SETUP_ERRORS as error:
            return self._fail(status, str(error))
        generation_runtime.begin(job)

        def on_progress(job_status):
            generation_runtime.update(job_status)
            if generation_runtime.cancel_requested.is_set():
                job.cancel()

        try:
            final = job.run_blocking(BLOCKING_TIMEOUT_S, on_progress)
            return self._finish(context, plan, job, targets, final)
        finally:
            generation_runtime.end()
            job.cleanup()

    def invoke(self, context, event):
        if not _runs_modal(context):
            return self.execute(context)
        if generation_runtime.active_job() is not None:
            self.report({"ERROR"}, "A generation is already running; cancel it or wait")
            return {"CANCELLED"}
        status = context.window_manager.isynth_status
        status.generation_warning = ""
        try:
            self._plan, self._job, self._targets_found = self._prepare(context)
        except _SETUP_ERRORS as error:
            return self._fail(status, str(error))
        generation_runtime.begin(self._job)
        self._show(context, self._job.status())
        _add_timer(context)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            generation_runtime.request_cancel()
        if generation_runtime.cancel_requested.is_set():
            self._job.cancel()
            generation_runtime.cancel_requested.clear()
        if event.type not in ("TIMER", "ESC"):
            return {"PASS_THROUGH"}
        job_status = self._job.poll()
        generation_runtime.update(job_status)
        if job_status.state in ("running", "cancelling"):
            self._show(context, job_status)
            return {"RUNNING_MODAL"}
        _remove_timer()
        _clear_status_text(context)
        try:
            return self._finish(context, self._plan, self._job, self._targets_found, job_status)
        finally:
            generation_runtime.end()
            self._job.cleanup()
            _redraw(context)

    def cancel(self, context):
        """Blender ends the modal operator (a file loads, Blender quits): stop the worker's
        request; nothing was built, so the scene is as it was."""
        _remove_timer()
        generation_runtime.abandon()
        status = context.window_manager.isynth_status
        status.generation_state = "CANCELLED"
        status.generation_message = "Cancelled: Blender ended the generation (a file was loaded)"
        _clear_status_text(context)

    # -- results ----------------------------------------------------------------------------

    def _show(self, context, job_status) -> None:
        status = context.window_manager.isynth_status
        status.generation_state = job_status.state.upper()
        status.generation_progress = job_status.progress
        status.generation_message = job_status.message
        context.workspace.status_text_set(
            f"Generate Interaction: {job_status.message} ({job_status.progress:.0%}). Esc to cancel")
        _redraw(context)

    def _flag(self, context, name: str) -> bool:
        return bool(self._value(context.scene.isynth_generation, name))

    def _finish(self, context, plan, job, targets, final):
        """The job ended: build the scene from its files (all or nothing) and report."""
        status = context.window_manager.isynth_status
        status.generation_progress = final.progress
        if final.state == "cancelled":
            status.generation_state, status.generation_message = "CANCELLED", final.message
            self.report({"WARNING"}, final.message)
            return {"CANCELLED"}
        if final.state != "done":
            return self._fail(status, final.message)
        try:
            variations = api.generated_people(plan, job.results, preferences_of(context))
        except (ValueError, OSError) as error:
            return self._fail(status, f"could not read the generated motions: {error}")
        scene, before = context.scene, None
        try:
            before = snapshot_scene(scene, targets)
            made, warnings = self._build(context, plan, variations, job.results[0].fps, targets)
        except Exception as error:  # one click is all or nothing: whatever failed, the scene goes back
            if before is not None:
                restore_scene(scene, before)
            if isinstance(error, ReferenceError):
                error = "a chosen target was deleted while the generation ran"
            return self._fail(status, f"could not build the generated people, the scene is unchanged: {error}")
        device = job.device_used
        notice = ""
        if plan.device == "auto" and not device.startswith("cuda"):
            notice = " (no CUDA GPU in the generation Python; ran on the CPU)"
        status.generation_device = device + notice
        status.generation_state = "DONE"
        placed, blocked = placement_note(variations)
        caveat = next((r.caveat for r in job.results if r.caveat), "")  # one prompt: one action for every variation
        warnings = ([caveat] if caveat else []) + ([blocked] if blocked else []) + warnings
        # Every person, whatever its target: counting the new armatures said "1 person(s)" for a
        # click onto an existing SMPL rig and an avatar (only the avatar's SMPL rig is new).
        status.generation_message = (f"{final.message}: {len(made.rigs)} person(s) in "
                                     f"'{made.collection.name}' at {job.results[0].fps:g} fps{placed}")
        status.generation_warning = "; ".join(warnings)
        self.report({"INFO"}, status.generation_message + notice)
        for warning in warnings:
            self.report({"WARNING"}, warning)
        return {"FINISHED"}

    def _build(self, context, plan, variations, fps: float, targets) -> tuple:
        """Key the variations and retarget onto avatars: (GeneratedObjects, warnings)."""
        scene = context.scene
        smpl_targets = [t if is_smpl_rig(t) else None for t in targets]
        made = add_generated_interaction(scene, plan.settings.prompt, variations, smpl_targets, fps,
                                         scene.frame_start, self._flag(context, "set_frame_range"),
                                         set_fps=self._flag(context, "set_scene_fps"))
        warnings = []
        avatars = [(made.rigs[i], t) for i, t in enumerate(targets) if t is not None and smpl_targets[i] is None]
        try:
            for line in retarget_onto_avatars(avatars):
                self.report({"INFO"}, f"retargeted {line}")
        except ValueError as error:  # checked before generating; a failure here leaves the SMPL rigs keyed
            # (their bodies shown) and every avatar as it was (retarget_onto_avatars puts them back)
            warnings.append(f"generated onto SMPL rigs, but retargeting failed: {error}")
        shown = scene_fps(scene)
        if abs(shown - fps) > 1e-3:
            warnings.append(f"the keys are at {fps:g} fps but the scene plays at {shown:g} fps: turn on Set Scene "
                            "FPS, or choose Frame Rate: Scene")
        return made, warnings

    def _fail(self, status, message: str):
        status.generation_state, status.generation_message = "ERROR", message
        self.report({"ERROR"}, message)
        return {"CANCELLED"}


def placement_note(variations: list) -> tuple[str, str]:
    """(the status line's note on start positions, a warning or "").

    variations: ``core.generation_plan.GeneratedVariation``s (``placement`` None without a
    scene). ``place_on_free_floor`` returns its best shift even when no shift frees every start
    pose: such a variation is a warning, not "moved onto free floor".
    """
    placements = [v.placement for v in variations if v.placement is not None]
    inside = sum(p.still_inside for p in placements)
    moved = sum(p.moved and not p.still_inside for p in placements)
    note = f"; moved {moved} variation(s) onto free floor" if moved else ""
    warning = ""
    if inside:
        warning = (f"{inside} variation(s) still start inside furniture or walls: no free floor within "
                   f"{SEARCH_RADIUS_M:g} m of where the model put them; move the rigs or choose another scene")
    return note, warning


class ISYNTH_OT_cancel_generation(bpy.types.Operator):
    """Stop the running generation (within one sampler step); the scene stays as it was"""

    bl_idname = "isynth.cancel_generation"
    bl_label = "Cancel Generation"
    bl_options = {"REGISTER"}

    def execute(self, context):
        if not generation_runtime.request_cancel():
            self.report({"INFO"}, "No generation is running")
            return {"CANCELLED"}
        return {"FINISHED"}


class ISYNTH_OT_randomize_seed(bpy.types.Operator):
    """Pick a new random seed for Generate Interaction"""

    bl_idname = "isynth.randomize_seed"
    bl_label = "Randomise Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        import random

        context.scene.isynth_generation.seed = random.SystemRandom().randrange(0, 2**31 - 1)
        return {"FINISHED"}


def _runs_modal(context) -> bool:
    """Whether invoke may run without blocking: the modal timer needs Blender's event loop, which
    background Blender (``-b``, the bpy module) never runs even though it has a window."""
    return not bpy.app.background and context.window is not None


def _add_timer(context) -> None:
    global _modal_timer
    _modal_timer = (context.window_manager, context.window_manager.event_timer_add(TIMER_S, window=context.window))


def _remove_timer() -> None:
    global _modal_timer
    if _modal_timer is not None:
        window_manager, timer = _modal_timer
        _modal_timer = None
        window_manager.event_timer_remove(timer)


def _clear_status_text(context) -> None:
    if context.workspace is not None:
        context.workspace.status_text_set(None)


def stop_running_generation() -> None:
    """The extension is disabled while the panel's generation runs. Blender then frees the modal
    operator without calling its cancel() (it has no context to give it), so what cancel()
    would do happens here: the job is cancelled and forgotten (else every Generate after
    re-enabling is refused as "already running"), its timer removed, the status bar cleared."""
    was_modal = _modal_timer is not None
    _remove_timer()
    generation_runtime.abandon()
    if not was_modal:
        return
    for window in bpy.context.window_manager.windows:
        # status_text_set acts on the context's window, whichever workspace it is called on.
        with bpy.context.temp_override(window=window):
            window.workspace.status_text_set(None)


def _redraw(context) -> None:
    screen = context.screen
    if screen is None:
        return
    for area in screen.areas:
        if area.type == "VIEW_3D":
            area.tag_redraw()
