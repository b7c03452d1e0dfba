"""``isynth.retarget``: play SMPL motions on the user's own avatars (one new action per person).

Thin: read properties -> RetargetConfig -> core.retarget.api.retarget_people -> bridge.
Headless: ``bpy.ops.isynth.retarget(source="Person 1", target="Avatar")``; several persons at
once with comma-separated names paired in order: ``source="Person 1,Person 2",
target="Avatar A,Avatar B"`` (a name that is itself an object's name is never split).
"""

import logging

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper

from ..bridge import retarget as bridge
from ..bridge.retarget_check import evaluated_direction_errors
from ..bridge.retarget_refine import hold_through_constraints
from ..core.retarget import api
from ..core.retarget.mapping import MappingError
from ..core.retarget.mapping_file import save_mapping
from ..core.retarget.presets import PRESET_LABELS
from ..core.retarget.quality import follow_warning

log = logging.getLogger(__name__)

MAPPING_ITEMS = (
    ("AUTO", "Auto-detect", "Presets first, then bone-name synonyms and the spine's structure"),
    *((key, label, f"The {label} naming") for key, label in PRESET_LABELS.items()),
    ("FILE", "From File", "A JSON bone mapping (see Export Mapping)"),
)
CALIBRATION_ITEMS = (
    ("DIRECTIONS", "From Bone Directions", "Line the avatar's rest up with SMPL's T-pose bone by bone (A-pose, T-pose, any facing)"),
    ("NONE", "None (Same Rest Pose)", "The avatar's rest pose is SMPL's T-pose already"),
    ("MATCH_POSE", "Current Pose", "The avatar's current pose matches SMPL's rest (or the source at Match Frame)"),
)
ROOT_ITEMS = (
    ("FULL", "Root Motion", "The avatar travels like the source"),
    ("IN_PLACE", "In Place", "Keep the first frame's horizontal position"),
)


def config_properties(cls):
    """The retarget settings, shared by the operator and the panel's property group."""
    cls.__annotations__.update(
        mapping=EnumProperty(name="Mapping", items=MAPPING_ITEMS, default="AUTO"),
        mapping_file=StringProperty(name="Mapping File", subtype="FILE_PATH"),
        calibration=EnumProperty(name="Calibration", items=CALIBRATION_ITEMS, default="DIRECTIONS"),
        match_frame=IntProperty(name="Match Frame", default=-1, min=-1,
                                description="Source frame the avatar's current pose matches (-1: SMPL's rest pose)"),
        root_motion=EnumProperty(name="Root", items=ROOT_ITEMS, default="FULL"),
        scale_root=BoolProperty(name="Scale Root", default=True,
                                description="Scale the root path by the leg-length ratio"),
        foot_cleanup=BoolProperty(name="Plant Feet", default=True,
                                  description="Keep planted feet from sliding or floating after scaling"),
        scale_spacing=BoolProperty(name="Scale Spacing", default=True,
                                   description="With several people, scale their paths about their common centre, "
                                               "so the space between them grows and shrinks with the avatars "
                                               "(hands that held the other person still reach them)"),
        swap_sides=BoolProperty(name="Swap L/R", default=False,
                                description="The avatar's sides are named from the viewer's side: its .L bones "
                                            "play SMPL's right"),
        mirror_fill=BoolProperty(name="Mirror Fill", default=True,
                                 description="Complete joints found on one side only from the other side's "
                                             "mirrored bone names"),
        through_constraints=BoolProperty(
            name="Through Constraints", default=True,
            description="When the rig's constraints or drivers move the keyed bones (a control rig such as "
                        "Rigify's), re-key them frame by frame until Blender shows the retargeted pose"),
    )
    return cls


def config_from(props) -> api.RetargetConfig:
    """The one converter from properties (operator or panel) to the frozen config."""
    return api.RetargetConfig(
        mapping=props.mapping,
        mapping_file=bpy.path.abspath(props.mapping_file) if props.mapping_file else "",
        calibration=props.calibration,
        match_frame=None if props.match_frame < 0 else props.match_frame,
        root_motion=props.root_motion,
        scale_root=props.scale_root,
        foot_cleanup=props.foot_cleanup,
        scale_spacing=props.scale_spacing,
        swap_sides=props.swap_sides,
        mirror_fill=props.mirror_fill,
    )


def copy_config(settings, props) -> None:
    """Put the panel's settings on an operator button."""
    for name in ("mapping", "mapping_file", "calibration", "match_frame", "root_motion", "scale_root", "foot_cleanup",
                 "scale_spacing", "swap_sides", "mirror_fill", "through_constraints"):
        setattr(props, name, getattr(settings, name))


@config_properties
class ISYNTH_OT_retarget(bpy.types.Operator):
    """Retarget SMPL motions onto avatars: a new action per avatar, with a quality score"""

    bl_idname = "isynth.retarget"
    bl_label = "Retarget"
    bl_options = {"REGISTER", "UNDO"}

    source: StringProperty(name="Source", description="The SMPL rig(s) to read, comma-separated (default: the selected SMPL rig)")
    target: StringProperty(name="Target", description="The avatar(s) to key, comma-separated (default: the active armature)")
    use_scene_pairs: BoolProperty(name="Panel Pairs", default=False, options={"SKIP_SAVE"},
                                  description="Retarget every pair listed in the panel")
    verify: BoolProperty(name="Check in Blender", default=True,
                         description="Measure bone directions of the evaluated pose at a few frames")

    def object_pairs(self, context) -> list[tuple[bpy.types.Object, bpy.types.Object]]:
        if self.use_scene_pairs:
            rows = []
            for number, pair in enumerate(context.scene.isynth_retarget.pairs, 1):
                if not pair.source or not pair.target:
                    who = repr(pair.source) if pair.source else "no person"
                    raise ValueError(f"pair {number} ({who}): choose both a person and an avatar")
                rows.append((pair.source, pair.target))
            if not rows:
                raise ValueError("the panel lists no (person, avatar) pairs")
        else:
            sources, targets = _names(self.source), _names(self.target)
            if len(sources) != len(targets) and sources and targets:
                raise ValueError(f"{len(sources)} source(s) but {len(targets)} target(s): give one avatar per person")
            rows = list(zip(sources or [""] * len(targets or [""]), targets or [""] * len(sources or [""])))
        out = []
        for number, (source, target) in enumerate(rows, 1):
            where = f"pair {number}: " if len(rows) > 1 else ""
            source_obj = bridge.find_armature(source, f"{where}source") if source else _selected_source(context)
            target_obj = bridge.find_armature(target, f"{where}target") if target else _active_target(context)
            if source_obj == target_obj:
                raise ValueError(f"{where}source and target are the same object {source_obj.name!r}")
            out.append((source_obj, target_obj))
        return out

    def execute(self, context):
        try:
            objects = self.object_pairs(context)
            config = config_from(self)
            context.view_layer.update()  # world matrices of objects a script just moved or appended
            reads = [(bridge.read_source(s), bridge.read_target(t, with_pose=config.calibration == "MATCH_POSE"))
                     for s, t in objects]
            results = api.retarget_people(reads, config)
            targets = [bridge.writable(target) for _, target in objects]  # every override before any key
            written = [bridge.write_result(target, result)[0] for target, result in zip(targets, results)]
        except (ValueError, OSError, RuntimeError) as error:  # MappingError is a ValueError
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        lines, warned = [], False
        for target, result in zip(written, results):
            line = f"{result.source} -> {result.target} [{result.mapping.name}]: {result.score.summary()}"
            warning, fit = "", None
            shows_rest = target.data.pose_position == "REST"
            if shows_rest:  # nothing it evaluates moves: no check, no re-keying, say why
                warning = (f"WARNING: {target.name!r} shows its Rest Position (Armature properties > Skeleton > "
                           "Pose Position): the keys are written but Blender does not play them")
                line += f"; {warning}"
            # The check is measured once and handed to the re-keying, which needs it to decide;
            # it is measured again only when the keys changed.
            errors = evaluated_direction_errors(target, result) if self.verify and not shows_rest else None
            if self.through_constraints:
                result, fit = self.hold_through_constraints(context, target, result, errors)
                if fit is not None:
                    line += f"; {fit.summary()}"
                    if errors is not None:
                        errors = evaluated_direction_errors(target, result)
            if errors is not None and errors.size:
                line += f"; in Blender {errors.mean():.2f} deg mean, {errors.max():.2f} max"
                warning = follow_warning(float(errors.max()), result.score.direction_max_deg)
                if warning:
                    line += f"; {warning}"
            if not warning and fit is not None and fit.warning():
                warning = fit.warning()  # held bones the in-Blender check did not catch (or did not run)
                line += f"; {warning}"
            if result.score.missing:
                line += f"; unmapped: {', '.join(result.score.missing)}"
            lines.append(line)
            warned = warned or bool(warning)
            (log.warning if warning else log.info)("retarget: %s", line)
        settings = getattr(context.scene, "isynth_retarget", None)
        if settings is not None:
            settings.report = "\n".join(lines)
        message = lines[0] if len(lines) == 1 else f"Retargeted {len(lines)} persons; " + " | ".join(lines)
        self.report({"WARNING"} if warned else {"INFO"}, message)
        return {"FINISHED"}


    @staticmethod
    def hold_through_constraints(context, target, result, errors):
        """(result, ConstraintFit or None), with the re-keying's progress in the status bar."""
        wm = context.window_manager
        wm.progress_begin(0, result.solution.quaternions.shape[0])
        try:
            return hold_through_constraints(target, result, lambda done, total: wm.progress_update(done), errors)
        finally:
            wm.progress_end()


def _names(text: str) -> list[str]:
    """Object names from a comma-separated list (a whole existing object name is kept as is)."""
    if not text.strip():
        return []
    if text in bpy.data.objects:
        return [text]
    return [name.strip() for name in text.split(",")]


def _selected_source(context) -> bpy.types.Object:
    rigs = [o for o in context.selected_objects if bridge.is_smpl_rig(o)]
    if len(rigs) != 1:
        raise ValueError(
            f"source: select exactly one SMPL rig (selected: {len(rigs)}), or name it; "
            "for several persons list them comma-separated with as many targets"
        )
    return rigs[0]


def _active_target(context) -> bpy.types.Object:
    active = context.active_object
    if active is not None and active.type == "ARMATURE" and not bridge.is_smpl_rig(active):
        return active
    others = [o for o in context.selected_objects if o.type == "ARMATURE" and not bridge.is_smpl_rig(o)]
    if len(others) != 1:
        raise ValueError("target: make the avatar armature active (or name it)")
    return others[0]


class ISYNTH_OT_retarget_pairs_from_scene(bpy.types.Operator):
    """List every SMPL person of the scene in the panel, each to get an avatar"""

    bl_idname = "isynth.retarget_pairs_from_scene"
    bl_label = "Add Persons"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.isynth_retarget
        listed = {p.source for p in settings.pairs if p.source}
        added = 0
        for obj in context.scene.objects:
            if bridge.is_smpl_rig(obj) and obj.name not in listed:
                settings.pairs.add().source = obj.name
                added += 1
        self.report({"INFO"}, f"Listed {added} person(s)")
        return {"FINISHED"}


class ISYNTH_OT_retarget_pair_remove(bpy.types.Operator):
    """Remove this pair from the list"""

    bl_idname = "isynth.retarget_pair_remove"
    bl_label = "Remove Pair"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    index: IntProperty(default=-1)

    def execute(self, context):
        pairs = context.scene.isynth_retarget.pairs
        if not 0 <= self.index < len(pairs):
            self.report({"ERROR"}, f"no pair {self.index}")
            return {"CANCELLED"}
        pairs.remove(self.index)
        return {"FINISHED"}


@config_properties
class ISYNTH_OT_retarget_export_mapping(bpy.types.Operator, ExportHelper):
    """Save the bone mapping found for the target avatar as JSON, to edit and load back"""

    bl_idname = "isynth.retarget_export_mapping"
    bl_label = "Export Bone Mapping"

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})
    target: StringProperty(name="Target")

    def execute(self, context):
        try:
            obj = bridge.find_armature(self.target, "target") if self.target else _active_target(context)
            mapping = api.resolve_mapping(bridge.read_target(obj), config_from(self))
            save_mapping(self.filepath, mapping)
        except (ValueError, OSError, MappingError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved the mapping of {obj.name!r} ({len(mapping.pairs)} joints) to {self.filepath}")
        return {"FINISHED"}


classes = (
    ISYNTH_OT_retarget,
    ISYNTH_OT_retarget_pairs_from_scene,
    ISYNTH_OT_retarget_pair_remove,
    ISYNTH_OT_retarget_export_mapping,
)
