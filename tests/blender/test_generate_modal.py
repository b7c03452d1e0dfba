"""The panel's run of Generate Interaction: invoke, the modal timer, Esc, Blender's cancel(), disabling.

Background Blender never runs its event loop, so these tests play Blender's part: they call the
registered operator's own invoke / modal / cancel with the TIMER and ESC events Blender would
send. Blender only makes operator instances inside an operator call, so the methods run on a
stand-in that answers ``properties.is_property_set`` and ``report`` as the instance would; the
context's window manager and workspace record timers, the modal handler and the status-bar
text (background Blender has no status bar to read back). The worker, the job, the scene and
the panel's properties are real.
"""

import importlib
import time
import types

import bpy
import pytest

import blender_session
from helpers.scene_state import scene_state

PROMPT = "a nurse helps a patient stand up"
LONG_RUN = dict(prompt=PROMPT, roles="staff,patient", seconds=3.0, seed=1, sampler="ddpm", steps=1000)


@pytest.fixture
def ext(extension, tmp_path_factory, monkeypatch):
    from helpers.tiny_checkpoint import write_tiny_checkpoint

    prefs = bpy.context.preferences.addons[extension].preferences
    prefs.checkpoint_path = str(write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt")))
    operator_module = importlib.import_module(f"{extension}.addon.operators.generate_interaction")
    # Background Blender runs invoke synchronously; these tests run the panel's path.
    monkeypatch.setattr(operator_module, "_runs_modal", lambda context: True)
    return types.SimpleNamespace(
        name=extension, checkpoint=prefs.checkpoint_path,
        runtime=importlib.import_module(f"{extension}.addon.core.generation_runtime"),
        service=importlib.import_module(f"{extension}.addon.core.worker_service"),
    )


class WindowManager:
    """The real window manager's properties; timers and modal handlers recorded."""

    def __init__(self):
        self.timers, self.removed, self.handlers = [], [], []

    def __getattr__(self, name):
        return getattr(bpy.context.window_manager, name)

    def event_timer_add(self, time_step, window=None):
        self.timers.append(object())
        return self.timers[-1]

    def event_timer_remove(self, timer):
        self.removed.append(timer)

    def modal_handler_add(self, operator):
        self.handlers.append(operator)
        return True


class Workspace:
    def __init__(self):
        self.status_texts = []

    def status_text_set(self, text):
        self.status_texts.append(text)


def panel_context():
    return types.SimpleNamespace(window_manager=WindowManager(), window=object(), workspace=Workspace(), screen=None,
                                 scene=bpy.context.scene, preferences=bpy.context.preferences, region=None)


class Operator:
    """The registered ISYNTH_OT_generate_interaction's methods on a plain object, with
    ``arguments`` as the operator arguments given (the rest read from the panel)."""

    def __init__(self, **arguments):
        self._class = bpy.types.ISYNTH_OT_generate_interaction
        self.__dict__.update(arguments)
        self.properties = types.SimpleNamespace(is_property_set=lambda name: name in arguments)
        self.reports = []

    def __getattr__(self, name):
        value = getattr(self._class, name)
        return types.MethodType(value, self) if isinstance(value, types.FunctionType) else value

    def report(self, kinds, message):
        self.reports.append((set(kinds), message))


def event(kind, value="NOTHING"):
    return types.SimpleNamespace(type=kind, value=value)


def tick_until(op, context, done, limit_s=300.0):
    """Send TIMER events as Blender would every TIMER_S until ``done(result)``; the last result."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(0.02)
        result = op.modal(context, event("TIMER"))
        if done(result):
            return result
    raise AssertionError("the generation did not get there in time")


def running(ext):
    return lambda result: ext.runtime.last_status is not None and ext.runtime.last_status.progress > 0


def ended(result):
    return result != {"RUNNING_MODAL"}


def test_the_panel_run_shows_progress_and_builds_everything_at_the_end(ext):
    context, status = panel_context(), bpy.context.window_manager.isynth_status
    op = Operator(prompt=PROMPT, roles="staff,patient", seconds=1.0, seed=3, sampler="ddim", steps=20)
    before = scene_state()
    assert op.invoke(context, event("LEFTMOUSE", "PRESS")) == {"RUNNING_MODAL"}
    assert context.window_manager.handlers == [op] and len(context.window_manager.timers) == 1
    assert status.generation_state == "RUNNING" and ext.runtime.active_job() is not None
    assert context.workspace.status_texts == [
        "Generate Interaction: Starting the generation worker (0%). Esc to cancel"]
    assert op.modal(context, event("MOUSEMOVE")) == {"PASS_THROUGH"}

    tick_until(op, context, running(ext))
    assert scene_state() == before, "nothing is built while the worker samples"
    shown = context.workspace.status_texts[-1]
    assert shown.startswith("Generate Interaction: Sampling step ") and shown.endswith("%). Esc to cancel")
    assert status.generation_message.startswith("Sampling step ") and 0 < status.generation_progress < 1

    assert tick_until(op, context, ended) == {"FINISHED"}
    assert status.generation_state == "DONE" and status.generation_progress == 1.0
    assert {"Staff 1", "Patient 2"} <= {o.name for o in bpy.data.objects}
    assert context.workspace.status_texts[-1] is None, "the status bar is given back"
    assert context.window_manager.removed == context.window_manager.timers
    assert ext.runtime.active_job() is None


def test_esc_cancels_and_leaves_the_scene_as_it_was(ext):
    context, status = panel_context(), bpy.context.window_manager.isynth_status
    bpy.ops.isynth.add_demo_room()
    before = scene_state()
    op = Operator(**LONG_RUN)
    assert op.invoke(context, event("LEFTMOUSE", "PRESS")) == {"RUNNING_MODAL"}
    tick_until(op, context, running(ext))
    assert op.modal(context, event("ESC", "PRESS")) == {"RUNNING_MODAL"}
    assert status.generation_state == "CANCELLING"
    assert tick_until(op, context, ended) == {"CANCELLED"}
    assert status.generation_state == "CANCELLED" and "unchanged" in status.generation_message
    assert scene_state() == before
    assert context.workspace.status_texts[-1] is None
    assert context.window_manager.removed == context.window_manager.timers
    assert ext.runtime.active_job() is None


def test_blender_ending_the_operator_cancels_and_clears_the_status_bar(ext):
    """cancel() is what Blender calls when a file is loaded during the run."""
    context, status = panel_context(), bpy.context.window_manager.isynth_status
    op = Operator(**LONG_RUN)
    before = scene_state()
    assert op.invoke(context, event("LEFTMOUSE", "PRESS")) == {"RUNNING_MODAL"}
    tick_until(op, context, running(ext))
    op.cancel(context)
    assert status.generation_state == "CANCELLED" and context.workspace.status_texts[-1] is None
    assert context.window_manager.removed == context.window_manager.timers
    assert ext.runtime.active_job() is None and scene_state() == before
    # The next click runs (the worker stopped the cancelled request).
    assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff", seconds=1.0, seed=1) == {"FINISHED"}


def test_a_target_deleted_during_the_run_is_an_error_and_the_scene_is_unchanged(ext):
    before_rigs = {o.name for o in bpy.data.objects}
    assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="patient", seconds=1.0, seed=1) == {"FINISHED"}
    (rig,) = [o for o in bpy.data.objects if o.type == "ARMATURE" and o.name not in before_rigs]
    context, status = panel_context(), bpy.context.window_manager.isynth_status
    op = Operator(prompt=PROMPT, roles="patient,staff", targets=f"{rig.name},-", seconds=1.0, seed=2,
                  quality="DRAFT")
    assert op.invoke(context, event("LEFTMOUSE", "PRESS")) == {"RUNNING_MODAL"}
    bpy.data.objects.remove(rig)
    before = scene_state()
    assert tick_until(op, context, ended) == {"CANCELLED"}
    assert status.generation_state == "ERROR" and "deleted while the generation ran" in status.generation_message
    assert "the scene is unchanged" in status.generation_message and scene_state() == before
    assert context.workspace.status_texts[-1] is None and ext.runtime.active_job() is None


def test_disabling_the_extension_during_a_run_ends_it_and_generate_works_after_enabling(ext):
    context = panel_context()
    op = Operator(**LONG_RUN)
    assert op.invoke(context, event("LEFTMOUSE", "PRESS")) == {"RUNNING_MODAL"}
    tick_until(op, context, running(ext))
    worker = ext.service.current_client().process
    # Blender frees the running modal operator without calling cancel(); unregister must clean up.
    blender_session.disable(ext.name)
    assert worker.poll() is not None, "the worker process is gone"
    assert ext.runtime.active_job() is None
    assert context.window_manager.removed == context.window_manager.timers
    assert blender_session.enable_from_source() == ext.name
    bpy.context.preferences.addons[ext.name].preferences.checkpoint_path = ext.checkpoint
    assert bpy.ops.isynth.generate_interaction(prompt=PROMPT, roles="staff", seconds=1.0, seed=1) == {"FINISHED"}
