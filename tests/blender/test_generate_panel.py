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
