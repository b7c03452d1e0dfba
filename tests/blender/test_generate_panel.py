"""The Generate Interaction panel draws in every state, with real properties and operators.

Background Blender has no regions to draw into, so ``draw`` gets a layout that records every
call and checks it the way Blender's own layout would: each ``prop`` names an existing RNA
property of its data, each ``operator`` an existing operator, each enum value is valid.
"""

import importlib

import bpy
import pytest


class RecordingLayout:
    """Accepts UILayout calls, validates them against RNA and records (kind, detail)."""

    def __init__(self, calls=None):
        self.calls = [] if calls is None else calls
        self.enabled = True
        self.use_property_split = False

    def _child(self, *args, **kwargs):
        return RecordingLayout(self.calls)

    row = column = box = split = _child

    def prop(self, data, name, **kwargs):
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        if "icon" in kwargs:
            _check_icon(kwargs["icon"])
        self.calls.append(("prop", name))

    def prop_search(self, data, name, search_data, search_name, **kwargs):
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        assert hasattr(search_data, search_name), f"no collection {search_name!r} to search"
        if "icon" in kwargs:
            _check_icon(kwargs["icon"])
        self.calls.append(("prop", name))

    def operator(self, idname, **kwargs):
        category, name = idname.split(".")
        assert name in dir(getattr(bpy.ops, category)), f"no operator {idname}"
        if "icon" in kwargs:
            _check_icon(kwargs["icon"])
        self.calls.append(("operator", idname))

    def label(self, text="", icon="NONE", **kwargs):
        _check_icon(icon)
        self.calls.append(("label", text))

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0 and type in ("BAR", "RING")
        self.calls.append(("progress", text))


def _check_icon(icon: str) -> None:
    icons = bpy.types.UILayout.bl_rna.functions["prop"].parameters["icon"].enum_items.keys()
    assert icon in icons, f"unknown icon {icon!r}"


def draw(panel_class) -> list:
    layout = RecordingLayout()

    class Self:
        pass

    me = Self()
    me.layout = layout
    panel_class.draw(me, bpy.context)
    return layout.calls


@pytest.mark.compat
def test_the_panel_draws_in_every_state(extension):
    panels = bpy.types.ISYNTH_PT_generate, bpy.types.ISYNTH_PT_interaction
    runtime = importlib.import_module(f"{extension}.addon.core.generation_runtime")
    job_module = importlib.import_module(f"{extension}.addon.core.generation_job")
    settings_module = importlib.import_module(f"{extension}.addon.core.generation_settings")
    status = bpy.context.window_manager.isynth_status
    settings = bpy.context.scene.isynth_generation

    idle = draw(panels[0])
    assert ("operator", "isynth.generate_interaction") in idle
    assert [c for c in idle if c[0] == "prop" and c[1].startswith("role_")] == [("prop", "role_1"), ("prop", "role_2")]
    settings.persons, settings.show_advanced = 4, True
    advanced = draw(panels[0])
    assert ("prop", "role_4") in advanced and ("prop", "sampler") in advanced and ("prop", "steps") in advanced

    for state, message in (("DONE", "Generated 1 variation(s)"), ("ERROR", "prompt: type what"),
                           ("CANCELLED", "Cancelled")):
        status.generation_state, status.generation_message, status.generation_device = state, message, "cpu"
        calls = draw(panels[0])
        assert ("label", message) in calls and ("label", "Ran on cpu") in calls
    status.generation_warning = "keys at 20 fps, scene at 24 fps"
    assert ("label", status.generation_warning) in draw(panels[0])

    job = job_module.GenerationJob(settings_module.GenerationSettings(prompt="x", roles=("staff",)), "ckpt", "cpu")
    runtime.begin(job)
    try:
        running = draw(panels[0])
        assert ("operator", "isynth.cancel_generation") in running
        assert ("operator", "isynth.generate_interaction") not in running
        assert any(kind == "progress" for kind, _ in running)
    finally:
        runtime.end()
    for panel in panels[1:]:
        assert draw(panel)


def test_long_messages_wrap_over_several_labels(extension):
    """A label is one clipped line in the sidebar: a long error is split at spaces to the width."""
    panel_module = importlib.import_module(f"{extension}.addon.panels.generate")
    message = ("checkpoint: /home/artist/models/care_interactions_finetuned_v3.safetensors is missing (a "
               "checkpoint is a .safetensors and its .json)")
    lines = panel_module.wrap_text(message, 30)
    assert all(len(line) <= 30 for line in lines) and len(lines) == 5
    assert lines[0] == "checkpoint: /home/artist/model" and lines[-1] == "and its .json)"
    assert "".join(lines).replace(" ", "") == message.replace(" ", "")
    assert panel_module.wrap_text("", 30) == [""] and panel_module.wrap_text("Done", 30) == ["Done"]

    status = bpy.context.window_manager.isynth_status
    status.generation_state, status.generation_message = "ERROR", message
    labels = [text for kind, text in draw(bpy.types.ISYNTH_PT_generate) if kind == "label"]
    shown = panel_module.wrap_text(message, panel_module.DEFAULT_CHARS)
    assert len(shown) > 1 and all(line in labels for line in shown)
    assert message not in labels


def test_the_panel_says_which_frame_rate_the_keys_get(extension):
    settings, scene = bpy.context.scene.isynth_generation, bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0

    def fps_labels():
        return [text for kind, text in draw(bpy.types.ISYNTH_PT_generate) if kind == "label" and "Keys at" in text]

    calls = draw(bpy.types.ISYNTH_PT_generate)
    assert ("prop", "fps_mode") in calls and ("prop", "set_scene_fps") in calls and ("prop", "set_frame_range") in calls
    assert settings.fps_mode == "SCENE" and not settings.set_scene_fps and settings.set_frame_range
    assert fps_labels() == ["Keys at 24 fps (the scene's)"]
    settings.fps_mode = "CHECKPOINT"
    assert fps_labels() == ["Keys at the checkpoint's fps; the scene plays at 24"]
    settings.fps_mode, settings.custom_fps = "CUSTOM", 30.0
    assert ("prop", "custom_fps") in draw(bpy.types.ISYNTH_PT_generate)
    assert fps_labels() == ["Keys at 30 fps; the scene plays at 24"]
    settings.set_scene_fps = True
    assert fps_labels() == ["Keys at 30 fps; the scene will play at it"]
