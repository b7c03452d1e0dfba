"""Retargeting 2 persons x 3000 frames onto two Unreal-style avatars (twist bones, 5-bone spine).

The source is the procedural two-person walk, resampled to 30 fps and played back and forth
to 3000 frames (100 s), so the foot clean-up has real contacts to work on. The avatars come
in two sizes: the 36-bone test avatar, and the same avatar with 660 unmapped face, hair and
finger bones (~700 bones, the size of a generated Rigify rig or a production character).
A generated Rigify rig (its FK controls keyed) measures the re-keying through its constraints,
side by side with the same retarget keyed for the plain hierarchy only.
"""

import time
from dataclasses import replace

import addon_utils
import bpy
import numpy as np

from addon.bridge import people
from addon.bridge import retarget as bridge
from addon.core.motion.motion import Motion
from addon.core.motion.resample import resample
from addon.core.retarget import api
from tests.helpers.avatar_rigs import AvatarSpec, _frames, avatar_spec, build_avatar, rest_joints, walk_motions

from . import repeat

FRAMES = 3000
RIGIFY_FRAMES = 300  # re-keying evaluates the rig at every frame, a few times
EXTRA_BONES = 660  # unmapped bones of the realistic-size avatar


def _with_extra_bones(spec: AvatarSpec, count: int, seed: int = 0) -> AvatarSpec:
    """``spec`` plus ``count`` small unmapped bones in chains of 4 under the head, the hands
    and the pelvis (face, hair, fingers, a skirt)."""
    rng = np.random.default_rng(seed)
    names, parents = list(spec.names), list(spec.parents)
    heads, tails = list(spec.heads), list(spec.tails)
    anchors = [spec.names.index(n) for n in ("head", "hand_l", "hand_r", "pelvis")]
    for k in range(count):
        parent = anchors[k % len(anchors)] if k % 4 == 0 else len(names) - 1
        head = tails[parent] if k % 4 else heads[parent] + rng.normal(scale=0.03, size=3)
        names.append(f"extra_{k:03d}")
        parents.append(parent)
        heads.append(head)
        tails.append(head + rng.normal(scale=0.02, size=3))
    heads, tails = np.array(heads), np.array(tails)
    return replace(spec, names=tuple(names), parents=tuple(parents), heads=heads, tails=tails,
                   frames=_frames(heads, tails, seed), rotation_modes=spec.rotation_modes + ("QUATERNION",) * count,
                   connected=spec.connected + (False,) * count)


def _long(motion: Motion, frames: int) -> Motion:
    """``motion`` at 30 fps, played forwards and backwards until it is ``frames`` long."""
    fast = resample(motion, 30.0)
    period = 2 * (fast.num_frames - 1)
    t = np.arange(frames) % period
    index = np.where(t < fast.num_frames, t, period - t)
    return Motion(fast.global_orient[index], fast.body_pose[index], fast.transl[index], fast.betas, fast.fps,
                  role=fast.role, name=fast.name)


def _scene(frames: int, extra_bones: int = 0):
    bpy.context.scene.render.fps = 30
    collection = bpy.data.collections.new(f"Bench Retarget {extra_bones}")
    bpy.context.scene.collection.children.link(collection)
    sources, avatars = [], []
    for k, motion in enumerate(walk_motions()):
        motion = _long(motion, frames)
        person = people.create_person(collection, f"Bench Person {k}", rest_joints(motion))
        people.apply_smpl_poses(person.armature, motion.local_rotations(), motion.transl, "walk", motion.fps)
        sources.append(person.armature)
        spec = avatar_spec("unreal", rest_joints(motion), twist_bones=True, spine_bones=5, scale=1.0 + 0.2 * k, seed=k)
        avatars.append(build_avatar(_with_extra_bones(spec, extra_bones, k), f"Bench Avatar {extra_bones}-{k}", collection))
    return sources, avatars


def _rigify_rows() -> list[dict]:
    addon_utils.enable("rigify", default_set=True)
    try:
        sources, _ = _scene(RIGIFY_FRAMES)
        before = set(bpy.data.objects)
        bpy.ops.object.armature_human_metarig_add()
        meta = bpy.context.active_object
        bpy.ops.pose.rigify_generate()
        rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o not in before and o is not meta)
        meta.hide_set(True)
        names = {"source": sources[0].name, "target": rig.name}
        plain = repeat(lambda: bpy.ops.isynth.retarget(**names, through_constraints=False, verify=False), 3)
        through = repeat(lambda: bpy.ops.isynth.retarget(**names, verify=False), 3)
        report = bpy.context.scene.isynth_retarget.report
    finally:
        addon_utils.disable("rigify", default_set=True)
    label = f"retarget 1 person x {RIGIFY_FRAMES} frames onto a generated Rigify rig ({len(rig.data.bones)} bones)"
    fit = report[report.find("re-keyed"):].split(";")[0]
    return [
        {"name": f"{label}: keyed for the hierarchy only", "samples_s": plain},
        {"name": f"{label}: re-keyed through its constraints", "samples_s": through,
         "ratio_to_hierarchy_only": round(float(np.median(through) / np.median(plain)), 1), "fit": fit},
    ]


def run(context: dict) -> list[dict]:
    rows = []
    for extra in (0, EXTRA_BONES):
        sources, avatars = _scene(FRAMES, extra)
        names = {"source": ",".join(s.name for s in sources), "target": ",".join(a.name for a in avatars)}
        operator = repeat(lambda: bpy.ops.isynth.retarget(**names, verify=False), 5)
        checked = repeat(lambda: bpy.ops.isynth.retarget(**names, verify=True), 3)
        reads = [(bridge.read_source(s), bridge.read_target(t)) for s, t in zip(sources, avatars)]
        solve = repeat(lambda: api.retarget_people(reads, api.RetargetConfig()), 5)
        started = time.perf_counter()
        [(bridge.read_source(s), bridge.read_target(t)) for s, t in zip(sources, avatars)]
        read_s = time.perf_counter() - started
        bones = len(avatars[0].data.bones)
        label = f"retarget 2 persons x {FRAMES} frames ({bones}-bone avatars)"
        rows += [
            {"name": f"{label}: isynth.retarget", "samples_s": operator, "target_s": 1.0},
            {"name": f"{label}: isynth.retarget + check in Blender", "samples_s": checked},
            {"name": f"{label}: core solve + score only", "samples_s": solve, "read_rigs_s": round(read_s, 4)},
        ]
    return rows + _rigify_rows()  # last: the generated rig stays in the scene
