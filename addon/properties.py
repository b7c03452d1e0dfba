"""Properties the panel edits and shows.

``Scene.isynth_generation``: the Generate Interaction settings (saved with the .blend).
``Scene.isynth_retarget``: the Retarget section's settings and (person, avatar) pairs.
``WindowManager.isynth_status``: what is happening now (not saved): the environment check,
the running generation's progress and its last message.
"""

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .core.generation_settings import (DEFAULT_GUIDANCE, DEFAULT_SMOOTHING_S, MAX_PERSONS, MAX_SMOOTHING_S,
                                       MAX_VARIATIONS, QUALITY_PRESETS)
from .operators.retarget import config_properties

ROLE_ITEMS = (
    ("staff", "Staff", "A nurse, carer or other staff member"),
    ("patient", "Patient", "A patient or resident"),
    ("person", "Person", "Someone whose role is unknown"),
)
DEFAULT_ROLES = ("staff", "patient", "person", "person")
QUALITY_ITEMS = (
    ("DRAFT", "Draft", "Fastest: DPM-Solver++ 2M, {1} steps"),
    ("STANDARD", "Standard", "DPM-Solver++ 2M, {1} steps"),
    ("BEST", "Best", "DDIM, {1} steps (the evaluation's default setting)"),
)
SAMPLER_ITEMS = (
    ("PRESET", "Preset", "The quality preset's sampler"),
    ("dpmpp_2m", "DPM-Solver++ 2M", "Second-order multistep solver: good results in 5-10 steps"),
    ("ddim", "DDIM", "Deterministic DDIM"),
    ("ddpm", "DDPM", "Ancestral DDPM (needs many steps)"),
)
DEVICE_ITEMS = (
    ("AUTO", "Auto", "The preference's device (CUDA when the generation Python sees a GPU)"),
    ("CUDA", "CUDA", "NVIDIA GPU; needs a generation Python with CUDA torch (Preferences)"),
    ("CPU", "CPU", "Always the CPU"),
)
FPS_ITEMS = (
    ("SCENE", "Scene", "The scene's frame rate: the motion is resampled to it"),
    ("CHECKPOINT", "Checkpoint", "The checkpoint's own frame rate (no resampling)"),
    ("CUSTOM", "Custom", "The frame rate typed below; the motion is resampled to it"),
)
STATE_ITEMS = tuple((s, s.title(), "") for s in ("IDLE", "RUNNING", "CANCELLING", "DONE", "CANCELLED", "ERROR"))


# Objects and collections are referred to by name (picked with prop_search in the panels).


def _collection_property(name: str, description: str):
    return StringProperty(name=name, description=description, default="")


def _role_property(index: int):
    return EnumProperty(name=f"Role {index + 1}", items=ROLE_ITEMS, default=DEFAULT_ROLES[index])


def _target_property(index: int):
    return StringProperty(
        name=f"Target {index + 1}", default="",
        description="An existing SMPL rig to animate, or your own avatar (the motion is retargeted onto it from a "
                    "new SMPL rig); its current animation is stashed. Empty: a new SMPL rig",
    )


class ISYNTH_PG_generation(bpy.types.PropertyGroup):
    prompt: StringProperty(name="Prompt", description="What the people do",
                           default="a nurse helps a patient who fell get up")
    persons: IntProperty(name="Persons", description="How many people act", default=2, min=1, max=MAX_PERSONS)
    role_1: _role_property(0)
    role_2: _role_property(1)
    role_3: _role_property(2)
    role_4: _role_property(3)
    target_1: _target_property(0)
    target_2: _target_property(1)
    target_3: _target_property(2)
    target_4: _target_property(3)
    scene_collection: _collection_property(
        "Scene", "An imported reconstruction or room collection the people act in (its points condition the "
                 "model; start positions land on its free floor). Empty: no scene")
    seconds: FloatProperty(name="Duration", description="Clip length", default=6.0, min=0.1, max=60.0,
                           unit="TIME_ABSOLUTE", subtype="TIME_ABSOLUTE")
    fps_mode: EnumProperty(name="Frame Rate", description="The frame rate the clip is keyed at",
                           items=FPS_ITEMS, default="SCENE")
    custom_fps: FloatProperty(name="fps", description="Frame rate for Frame Rate: Custom", default=24.0, min=1.0,
                              max=240.0)
    seed: IntProperty(name="Seed", description="Same seed, same motion", default=0, min=0)
    guidance: FloatProperty(name="Guidance", description="Classifier-free guidance scale: how strongly to "
                            "follow the prompt", default=DEFAULT_GUIDANCE, min=0.0, max=10.0)
    quality: EnumProperty(name="Quality", items=[(k, n, d.format(*QUALITY_PRESETS[k])) for k, n, d in QUALITY_ITEMS],
                          default="STANDARD")
    show_advanced: BoolProperty(name="Advanced", default=False)
    sampler: EnumProperty(name="Sampler", items=SAMPLER_ITEMS, default="PRESET")
    steps: IntProperty(name="Steps", description="Model evaluations (0: the preset's)", default=0, min=0, max=1000)
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="AUTO")
    anchor_prompt: BoolProperty(name="Anchor Prompt", description="Understand the prompt through the captions "
                                "the checkpoint was trained on: new wordings are read as the training captions "
                                "they resemble (off: the prompt's own text embedding)", default=True)
    hand_contact: BoolProperty(name="Hand Contact", description="When the prompt implies touch (helping up, "
                               "supporting, handing over), put the helpers' hands on the other person where "
                               "they come within reach (needs Anchor Prompt)", default=True)
    smoothing_s: FloatProperty(name="Smoothing (s)", description="Standard deviation of the Gaussian filter "
                               "along time on the sampled motion, seconds: 0.1 takes out the model's "
                               "frame-to-frame shake, more also softens falls and quick turns, 0 leaves it as "
                               "sampled", default=DEFAULT_SMOOTHING_S, min=0.0, max=MAX_SMOOTHING_S, step=1,
                               precision=2)
    variations: IntProperty(name="Variations", description="Seeds to generate (seed, seed + 1, ...), one action "
                            "each; extra ones go on muted NLA tracks to compare", default=1, min=1,
                            max=MAX_VARIATIONS)
    set_frame_range: BoolProperty(name="Set Frame Range", description="Set the scene's frame range to the "
                                  "generated clip", default=True)
    set_scene_fps: BoolProperty(name="Set Scene FPS", description="Make the scene play at the clip's frame rate "
                                "(only changes something when Frame Rate is not Scene)", default=False)



class ISYNTH_PG_retarget_pair(bpy.types.PropertyGroup):
    source: StringProperty(name="Person", description="The SMPL rig's name")
    target: StringProperty(name="Avatar", description="The avatar armature's name")


@config_properties
class ISYNTH_PG_retarget_settings(bpy.types.PropertyGroup):
    source: StringProperty(name="Source",
                            description="The SMPL rig (a generated or imported person)")
    target: StringProperty(name="Avatar",
                            description="Your humanoid armature")
    pairs: CollectionProperty(type=ISYNTH_PG_retarget_pair)
    report: StringProperty(name="Last Result", default="")


def panel_roles(settings: ISYNTH_PG_generation) -> tuple[str, ...]:
    """The roles of the panel's persons."""
    return tuple(getattr(settings, f"role_{i + 1}") for i in range(settings.persons))


def panel_targets(settings: ISYNTH_PG_generation) -> list[str]:
    """Per person the chosen rig's name ("" for a new rig).

    Functions, not methods: Blender 4.2 crashes at exit after unregistering a PropertyGroup
    subclass that defines methods (4.5 and 5.0 do not).
    """
    return [getattr(settings, f"target_{i + 1}") for i in range(settings.persons)]


def panel_fps(settings: ISYNTH_PG_generation, scene_fps: float) -> float | None:
    """The frame rate the panel asks for, frames/s (None: the checkpoint's). scene_fps: the scene's."""
    if settings.fps_mode == "SCENE":
        return scene_fps
    if settings.fps_mode == "CUSTOM":
        return round(float(settings.custom_fps), 4)
    return None


class ISYNTH_PG_status(bpy.types.PropertyGroup):
    environment: StringProperty(
        name="Environment",
        description="What the last environment check found",
        default="",
    )
    generation_state: EnumProperty(name="Generation", items=STATE_ITEMS, default="IDLE")
    generation_progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    generation_message: StringProperty(name="Message", default="")
    generation_warning: StringProperty(name="Warning", description="What the last generation should be told "
                                       "about (keys off the scene's fps, people still inside furniture)", default="")
    generation_device: StringProperty(name="Device", description="Where the last generation ran", default="")


classes = (ISYNTH_PG_generation, ISYNTH_PG_retarget_pair, ISYNTH_PG_retarget_settings, ISYNTH_PG_status)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Scene.isynth_generation = PointerProperty(type=ISYNTH_PG_generation)
    bpy.types.Scene.isynth_retarget = PointerProperty(type=ISYNTH_PG_retarget_settings)
    bpy.types.WindowManager.isynth_status = PointerProperty(type=ISYNTH_PG_status)


def unregister() -> None:
    del bpy.types.WindowManager.isynth_status
    del bpy.types.Scene.isynth_retarget
    del bpy.types.Scene.isynth_generation
    _unregister_classes()
