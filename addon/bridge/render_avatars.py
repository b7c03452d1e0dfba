"""A clip's people on the job file's rigged avatars: append, retarget, evaluate for the labels.

For every person whose manifest avatar is one of the job file's ``[[avatars]]``
(:mod:`..core.render.jobspec_avatars`):

1. a fresh copy of the avatar (its armature, the objects above it, and every mesh it carries
   or deforms) is appended from its .blend into the render collection (two people drawing one
   avatar get two copies); what renders is shown in the viewport too, so it is evaluated; the
   garment materials the job file names take the person's drawn clothing colours
   (:mod:`.avatar_look`), and the copy is scaled by the person's drawn ``avatar_scale``;
2. the person's SMPL rig, keyed as for any person, is retargeted onto it with the Retarget
   operator's solve (all avatar people at once, so the score has their penetration), re-keyed
   through the avatar's constraints where they override the keys (:mod:`.retarget_refine`);
   the SMPL rig and its body are hidden, so the avatar is what renders;
3. the avatar is evaluated at every frame: its bones give SMPL's 24 joints, its skinned meshes
   the face points, boxes and occlusion (:class:`..core.render.rig_labels.EvaluatedBody`).

Failures name the avatar, its file and object; the clip process is thrown away after one clip,
so nothing here needs undoing.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import bpy
import numpy as np

from ..core.render.annotations import PersonTrack, track_joints
from ..core.render.coco import HEAD
from ..core.render.jobspec_avatars import is_builtin, retarget_mapping
from ..core.render.rig_labels import EvaluatedBody, face_vertex_ids
from ..core.retarget import api as retarget_api
from ..core.retarget.quality import joints_on_rig
from . import retarget as retarget_bridge
from .avatar_look import recolour_garments
from .meshes import evaluated_triangles
from .retarget_refine import hold_through_constraints

ROOM_COPY_FOLDER = ".room_copy"  # in a clip's partial folder: the room .blend its in-room avatars come from


def put_on_avatars(built, job: dict, tracks: list[PersonTrack], say=print) -> list[PersonTrack]:
    """``tracks`` with every rigged-avatar person retargeted and evaluated (``built.people`` are
    their SMPL rigs, from :func:`.render_scene.add_people`); the others unchanged."""
    persons = job["look"]["persons"]
    chosen = [p for p, person in enumerate(persons) if not is_builtin(person["avatar"])]
    if not chosen:
        return tracks
    collection = built.camera.users_collection[0]
    specs = job.get("avatars", {})
    avatars, meshes, recoloured = {}, {}, {}
    try:
        for p in chosen:
            name = persons[p]["avatar"]
            if name not in specs:
                raise ValueError(f"job {job['key']}: person {p} draws avatar {name!r}, which the job has no entry for")
            spec = specs[name]
            avatars[p], meshes[p] = append_avatar(spec, collection, built.avatar_sources.get(spec["blend"]))
            if persons[p].get("avatar_scale") is not None:
                _scale(avatars[p], float(persons[p]["avatar_scale"]))
            recoloured[p] = recolour_garments(meshes[p], spec["garments"], persons[p], f"person {p}") \
                if spec.get("garments") else {}
    finally:  # the room file's copy, once every avatar from it is appended (not into the finished clip)
        for copy in set(built.avatar_sources.values()):
            shutil.rmtree(Path(copy).parent, ignore_errors=True)
    for p in chosen:  # hidden first: the re-keying's evaluations skip them (the keys are read from the action)
        _hide_smpl(built.people[p])
    results = _retarget(built, job, chosen, avatars)
    keyed = []
    for p, result in zip(chosen, results):
        obj, _ = retarget_bridge.write_result(avatars[p], result)
        result, fit = hold_through_constraints(obj, result)
        say(f"{job['clip_id']}: person {p} on avatar {persons[p]['avatar']!r}: {result.score.summary()}"
            + (f"; {fit.summary()}" if fit else ""))
        keyed.append((obj, result, fit))
    bodies = evaluate_avatars(built.scene, [(obj, meshes[p], result, tracks[p])
                                            for p, (obj, result, _) in zip(chosen, keyed)],
                              int(job["clip"]["frames"]))
    out = list(tracks)
    for p, (obj, result, fit), body in zip(chosen, keyed, bodies):
        spec = specs[persons[p]["avatar"]]
        quality = result.score.as_dict()
        if fit is not None:
            quality["constraints_held"] = list(fit.held)
        worn = {"recoloured": recoloured[p]} if recoloured[p] else {}
        out[p] = dataclasses.replace(tracks[p], evaluated=body, avatar={
            "name": spec["name"], "blend": spec["blend"], "object": obj.name, "retarget": quality, **worn})
    return out


def _retarget(built, job: dict, chosen: list[int], avatars: dict) -> list:
    """The retarget results of the chosen people (one mapping setting per avatar spec)."""
    persons, specs = job["look"]["persons"], job["avatars"]
    sources = {p: retarget_bridge.read_source(built.people[p].armature) for p in chosen}
    # One centre for every avatar person, whichever mapping group retargets them.
    pivot = retarget_api.group_centre(list(sources.values())) if len(chosen) > 1 else None
    results = [None] * len(chosen)
    by_config: dict[tuple, list[int]] = {}
    for k, p in enumerate(chosen):
        spec = specs[persons[p]["avatar"]]
        by_config.setdefault((*retarget_mapping(spec), bool(spec["swap_sides"])), []).append(k)
    for (mapping, mapping_file, swap), members in by_config.items():
        config = retarget_api.RetargetConfig(mapping=mapping, mapping_file=mapping_file, swap_sides=swap)
        pairs = [(sources[chosen[k]], retarget_bridge.read_target(avatars[chosen[k]])) for k in members]
        try:
            found = retarget_api.retarget_people(pairs, config, pivot)
        except ValueError as error:  # MappingError included: say which file the avatar came from
            names = ", ".join(f"{specs[persons[chosen[k]]['avatar']]['blend']}" for k in members)
            raise ValueError(f"avatar from {names}: {error}") from None
        for k, result in zip(members, found):
            results[k] = result
    return results


def append_avatar(spec: dict, collection: bpy.types.Collection, source: str | None = None
                  ) -> tuple[bpy.types.Object, list]:
    """A fresh copy of the avatar's armature, with the objects above it and every object
    parented under it or deformed by it, linked into ``collection`` (the file's other objects are
    not kept); returns (the armature, its meshes that render). source: the file to append from
    instead of ``spec["blend"]`` (the copy :func:`set_aside_room_avatars` saved)."""
    path, wanted = spec["blend"], spec["object"]
    where = f"avatar {spec['name']!r} ({path})"
    try:
        with bpy.data.libraries.load(source or path, link=False) as (library, target):
            names = list(library.objects)
            target.objects = list(names)  # (Blender fills the list it is given with the objects)
    except (OSError, ValueError) as error:  # (ValueError: e.g. the file open in this Blender)
        raise ValueError(f"{where}: cannot read the .blend file ({error})") from None
    loaded = {name: obj for name, obj in zip(names, target.objects) if obj is not None}
    try:
        armature = _avatar_armature(loaded, wanted, where)
    except ValueError:
        _remove(loaded.values())
        raise
    keep = _avatar_objects(loaded.values(), armature)
    _remove(obj for obj in loaded.values() if obj not in keep)
    for obj in keep:
        collection.objects.link(obj)
        # What renders is what the labels read: evaluated in the view layer too (a mesh hidden in
        # the viewport alone would render skinned but be read unskinned).
        obj.hide_viewport = obj.hide_render
    # World matrices as the file stored them may predate the objects' own transforms (a file
    # written by a script that never evaluated them): evaluate before reading the rig.
    bpy.context.view_layer.update()
    meshes = [obj for obj in keep if obj.type == "MESH" and not obj.hide_render and _carried_by(obj, armature)]
    if not meshes:
        raise ValueError(f"{where}: no mesh that renders is parented to or deformed by armature {armature.name!r}")
    return armature, meshes


def set_aside_room_avatars(job: dict, scratch: Path) -> dict[str, str]:
    """For a scene .blend just opened (``render_scene.assemble_room``) that is also the file of
    avatars the job draws: save a copy of the file as it was opened into ``scratch`` (the clip's
    partial folder, removed with it when the clip fails), to append the avatars from (Blender
    appends nothing from the file it has open), and hide the avatars' own objects there from
    render and view layer, so that neither the room's render nor its occluders hold them.
    Returns {avatar blend path: the copy's path} ({} for none)."""
    scene_file = Path(job["scene"]["path"]).resolve()
    inside = [spec for spec in job.get("avatars", {}).values() if Path(spec["blend"]).resolve() == scene_file]
    if not inside:
        return {}
    copy = scratch / ROOM_COPY_FOLDER / scene_file.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    # copy=True keeps this file the open one; relative paths (textures) are remapped to stay valid.
    bpy.ops.wm.save_as_mainfile(filepath=str(copy), copy=True)
    objects = {obj.name: obj for obj in bpy.data.objects}
    for spec in inside:
        armature = _avatar_armature(objects, spec["object"], f"avatar {spec['name']!r} ({spec['blend']})")
        for obj in _avatar_objects(objects.values(), armature):
            obj.hide_render = obj.hide_viewport = True
    return {spec["blend"]: str(copy) for spec in inside}


def _avatar_armature(objects: dict, wanted: str, where: str) -> bpy.types.Object:
    """The avatar's armature among ``objects`` (name -> object): the one named ``wanted``, or the
    only armature when ``wanted`` is ""; ValueError naming the key otherwise."""
    armatures = {name: obj for name, obj in objects.items() if obj.type == "ARMATURE"}
    if wanted:
        armature = objects.get(wanted)
        if armature is None or armature.type != "ARMATURE":
            what = "no object" if armature is None else f"a {armature.type.lower()}, not an armature,"
            raise ValueError(f"{where}: key 'object': {what} named {wanted!r} (armatures in the file: "
                             f"{sorted(armatures) or 'none'})")
        return armature
    if len(armatures) != 1:
        raise ValueError(f"{where}: key 'object': the file has {len(armatures)} armatures "
                         f"({sorted(armatures) or 'none'}); name the avatar's")
    return next(iter(armatures.values()))


def _avatar_objects(objects, armature: bpy.types.Object) -> list:
    """The armature, every object it carries or deforms, and the objects above it (an FBX
    import's empty carries its transform)."""
    keep = [obj for obj in objects if obj is armature or _carried_by(obj, armature)]
    parent = armature.parent
    while parent is not None:
        keep.append(parent)
        parent = parent.parent
    return keep


def _scale(armature: bpy.types.Object, factor: float) -> None:
    """The avatar copy scaled by ``factor`` about the origin of its top object (the armature, or
    the empty an FBX import hangs it under): its retarget then reads the scaled rig."""
    top = armature
    while top.parent is not None:
        top = top.parent
    top.scale = [factor * value for value in top.scale]
    bpy.context.view_layer.update()


def _carried_by(obj: bpy.types.Object, armature: bpy.types.Object) -> bool:
    """Whether ``obj`` hangs under ``armature`` or an Armature modifier of it deforms ``obj``."""
    parent = obj.parent
    while parent is not None:
        if parent is armature:
            return True
        parent = parent.parent
    return any(m.type == "ARMATURE" and m.object is armature for m in getattr(obj, "modifiers", ()))


def _remove(objects) -> None:
    for obj in list(objects):
        bpy.data.objects.remove(obj)


def _hide_smpl(person) -> None:
    """The SMPL rig and body stay (the avatar's keys came from them) but show and render nothing."""
    for obj in (person.armature, person.body):
        if obj is not None:
            obj.hide_viewport = obj.hide_render = True


def evaluate_avatars(scene: bpy.types.Scene, avatars: list[tuple], frames: int) -> list[EvaluatedBody]:
    """Each (armature, meshes, retarget result, track) at frames 1..``frames`` as Blender
    evaluates it (constraints, drivers and modifiers included), all in one pass over the frames:
    SMPL's joints on it, face points and skinned meshes, world metres."""
    reads = [_AvatarFrames(*avatar, frames) for avatar in avatars]
    before = scene.frame_current
    try:
        for t in range(frames):
            scene.frame_set(t + 1)
            depsgraph = bpy.context.evaluated_depsgraph_get()
            for read in reads:
                read.take(t, depsgraph)
    finally:
        scene.frame_set(before)
    return [read.body() for read in reads]


class _AvatarFrames:
    """One avatar's bone heads, bone rotations and skinned meshes, frame by frame."""

    def __init__(self, armature, meshes, result, track: PersonTrack, frames: int) -> None:
        self.armature, self.meshes, self.result, self.track = armature, meshes, result, track
        names = result.rig.bone_names
        self.bones = [armature.pose.bones[name] for name in names]
        self.rest = np.array([np.array(armature.data.bones[name].matrix_local, dtype=np.float64) for name in names])
        self.heads = np.empty((frames, len(names), 3))
        self.deltas = np.empty((frames, len(names), 3, 3))
        self.vertices: list[np.ndarray] = []
        self.faces: np.ndarray | None = None

    def take(self, t: int, depsgraph) -> None:
        world = np.array(self.armature.matrix_world, dtype=np.float64)
        posed = world @ np.array([np.array(pb.matrix, dtype=np.float64) for pb in self.bones])
        self.heads[t] = posed[:, :3, 3]
        self.deltas[t] = posed[:, :3, :3] @ np.linalg.inv((world @ self.rest)[:, :3, :3])
        parts = [evaluated_triangles(obj, depsgraph) for obj in self.meshes]
        offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
        faces = np.concatenate([f + o for (_, f), o in zip(parts, offsets)])
        if self.faces is None:
            self.faces = faces
        elif len(faces) != len(self.faces):
            raise ValueError(f"avatar {self.armature.name!r}: its meshes change topology between frames; the "
                             "labels need one set of triangles")
        self.vertices.append(np.concatenate([v for v, _ in parts]))

    def body(self) -> EvaluatedBody:
        result = self.result
        joints = joints_on_rig(result.plan.bone_of_joint, self.heads, self.deltas, result.smpl.rest_joints,
                               result.solution.leg_scale)
        vertices = np.stack(self.vertices)
        rotations, _ = track_joints(self.track)
        ids = face_vertex_ids(vertices[0], joints[0, HEAD], rotations[0, HEAD], result.solution.leg_scale)
        return EvaluatedBody(joints=joints, face=vertices[:, ids], vertices=vertices, faces=self.faces)
