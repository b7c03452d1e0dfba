"""Humanoid test avatars with real-world naming schemes, built from an SMPL skeleton.

``avatar_spec`` is plain numpy (core tests use it as a ``TargetRig``); ``build_avatar``
makes the same armature in Blender (importing bpy only then). Options:

- scheme: "mixamo" (mixamorig:Hips ...), "rigify" (DEF-spine, DEF-thigh.L ..., twist
  segments DEF-upper_arm.L.001 in the chain), "unreal" (root, pelvis, spine_01.., thigh_l,
  calf_l, ball_l ..., twist bones as side children: upperarm_twist_01_l ...).
- rest: "T" (SMPL's T-pose) or "A" (arms lowered by ``a_pose_deg`` at the shoulders).
- scale: the whole rig's size; roll_seed: random bone rolls (None: rolls from a fixed up axis).
- twist_bones: add twist bones (Rigify: in-between segments; Unreal: side children).
- spine_bones: how many bones between pelvis and neck (Unreal: 2, 3 or 5; others 3).
- jitter: random anatomical offsets (metres) so the avatar is not SMPL in disguise.
- yaw_deg: the avatar's facing at rest (0: facing -Y like SMPL's rig).
- leg_factor: legs longer (> 1) or shorter than SMPL's proportions (the clean-up's case).
- euler_bones: bones whose pose rotation mode is Euler YXZ instead of quaternion.
Feet stand on z = 0 (toe joints ~3 cm above it, times scale).

Source motions for them: :func:`walk_motions` (a procedural two-person walk with planted
feet) and :func:`random_motion` (random poses that turn every joint a lot).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from addon.core.axes import Y_UP_TO_Z_UP
from addon.core.body.model import load_body_model
from addon.core.motion.motion import Motion
from addon.core.retarget.rig import SourceMotion
from addon.core.skeleton import JOINT_INDEX as J
from addon.core.skeleton import MIRROR

SCHEMES = ("mixamo", "rigify", "unreal")


@dataclass(frozen=True)
class AvatarSpec:
    """names (B,), parents (B,), heads/tails (B, 3) metres armature space, frames (B, 3, 3)
    rest bone frames (Y along the bone), rotation_modes (B,), expected: SMPL joint -> bone name
    the auto-detection should find, connected (B,)."""

    scheme: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    heads: np.ndarray
    tails: np.ndarray
    frames: np.ndarray
    rotation_modes: tuple[str, ...]
    expected: dict
    connected: tuple[bool, ...]

    def rest_matrices(self) -> np.ndarray:
        m = np.tile(np.eye(4), (len(self.names), 1, 1))
        m[:, :3, :3] = self.frames
        m[:, :3, 3] = self.heads
        return m

    def target_rig(self, name: str = "Avatar", object_matrix: np.ndarray | None = None):
        from addon.core.retarget.rig import TargetRig

        return TargetRig(
            name=name,
            bone_names=self.names,
            parents=self.parents,
            rest_matrices=self.rest_matrices(),
            tails=self.tails,
            object_matrix=np.eye(4) if object_matrix is None else object_matrix,
            rotation_modes=self.rotation_modes,
            connected=self.connected,
        )


def _skeleton(rest_joints_y: np.ndarray, scale: float, jitter: float, rest: str, a_pose_deg: float,
              yaw_deg: float, leg_factor: float, rng: np.random.Generator) -> np.ndarray:
    """(24, 3) Z-up joints standing on the floor, jittered, legs stretched by ``leg_factor``,
    optionally A-posed, scaled, turned."""
    joints = np.asarray(rest_joints_y, dtype=np.float64) @ Y_UP_TO_Z_UP.T
    # Anatomical jitter, mirrored so the avatar stays left-right symmetric like real ones.
    noise = rng.normal(scale=jitter, size=joints.shape) * (jitter > 0)
    for j, m in enumerate(MIRROR):
        if m > j:
            noise[m] = noise[j] * [-1.0, 1.0, 1.0]
        elif m == j:
            noise[j, 0] = 0.0
    joints = joints + noise
    for side in ("left", "right"):
        hip = joints[J[f"{side}_hip"]].copy()
        for name in ("knee", "ankle", "foot"):
            k = J[f"{side}_{name}"]
            joints[k] = hip + leg_factor * (joints[k] - hip)
    joints[:, 2] -= joints[[J["left_foot"], J["right_foot"]], 2].min() - 0.03
    if rest == "A":
        for side, sign in (("left", 1.0), ("right", -1.0)):
            pivot = joints[J[f"{side}_shoulder"]]
            angle = np.radians(a_pose_deg) * sign
            c, s = np.cos(angle), np.sin(angle)
            turn = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # about +Y
            for name in ("elbow", "wrist", "hand"):
                k = J[f"{side}_{name}"]
                joints[k] = pivot + turn @ (joints[k] - pivot)
    joints *= scale
    yaw = np.radians(yaw_deg)
    turn = np.array([[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
    return joints @ turn.T


class _Builder:
    def __init__(self):
        self.names, self.parents, self.heads, self.tails, self.modes = [], [], [], [], []

    def add(self, name, parent, head, tail, mode="QUATERNION") -> int:
        self.names.append(name)
        self.parents.append(-1 if parent is None else self.names.index(parent))
        self.heads.append(np.asarray(head, dtype=np.float64))
        self.tails.append(np.asarray(tail, dtype=np.float64))
        self.modes.append(mode)
        return len(self.names) - 1

    def chain(self, names, parent, points):
        """Bones names[i] from points[i] to points[i+1], each the child of the previous."""
        for i, name in enumerate(names):
            self.add(name, parent, points[i], points[i + 1])
            parent = name


def _split(a, b, parts):
    return [a + (b - a) * i / parts for i in range(parts + 1)]


def _polyline(points, parts):
    """``parts + 1`` points evenly spaced along the polyline through ``points``."""
    points = np.asarray(points)
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    where = np.linspace(0.0, lengths.sum(), parts + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(lengths)])
    out = []
    for w in where:
        i = min(np.searchsorted(cumulative, w, side="right") - 1, len(lengths) - 1)
        f = (w - cumulative[i]) / max(lengths[i], 1e-12)
        out.append(points[i] + f * (points[i + 1] - points[i]))
    return out


def avatar_spec(scheme: str, rest_joints_y: np.ndarray, *, rest: str = "T", scale: float = 1.0,
                roll_seed: int | None = 0, twist_bones: bool = False, spine_bones: int = 3,
                jitter: float = 0.01, a_pose_deg: float = 45.0, yaw_deg: float = 0.0, seed: int = 0,
                euler_bones: tuple[str, ...] = (), leg_factor: float = 1.0) -> AvatarSpec:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}")
    rng = np.random.default_rng(seed)
    p = _skeleton(rest_joints_y, scale, jitter, rest, a_pose_deg, yaw_deg, leg_factor, rng)
    up = np.array([0.0, 0.0, 0.1 * scale])
    yaw = np.radians(yaw_deg)
    forward = np.array([np.sin(yaw), -np.cos(yaw), 0.0]) * 0.06 * scale  # the body's front
    b = _Builder()
    expected: dict[str, str] = {}
    spine_path = [p[J["spine1"]], p[J["spine2"]], p[J["spine3"]], p[J["neck"]]]

    def finger(parent, wrist, hand):
        direction = (hand - wrist) / np.linalg.norm(hand - wrist)
        return parent, hand, hand + 0.04 * scale * direction

    if scheme == "mixamo":
        n = lambda s: f"mixamorig:{s}"  # noqa: E731
        b.add(n("Hips"), None, p[J["pelvis"]], p[J["spine1"]])
        b.chain([n("Spine"), n("Spine1"), n("Spine2")], n("Hips"), spine_path)
        b.add(n("Neck"), n("Spine2"), p[J["neck"]], p[J["head"]])
        b.add(n("Head"), n("Neck"), p[J["head"]], p[J["head"]] + 2 * up)
        b.add(n("HeadTop_End"), n("Head"), p[J["head"]] + 2 * up, p[J["head"]] + 2.5 * up)
        expected.update(pelvis=n("Hips"), spine1=n("Spine"), spine2=n("Spine1"), spine3=n("Spine2"),
                        neck=n("Neck"), head=n("Head"))
        for side, S in (("left", "Left"), ("right", "Right")):
            j = lambda k: p[J[f"{side}_{k}"]]  # noqa: E731
            b.add(n(f"{S}Shoulder"), n("Spine2"), j("collar"), j("shoulder"))
            b.chain([n(f"{S}Arm"), n(f"{S}ForeArm"), n(f"{S}Hand")], n(f"{S}Shoulder"),
                    [j("shoulder"), j("elbow"), j("wrist"), j("hand")])
            b.add(n(f"{S}HandIndex1"), *finger(n(f"{S}Hand"), j("wrist"), j("hand")))
            b.add(n(f"{S}UpLeg"), n("Hips"), j("hip"), j("knee"))
            b.chain([n(f"{S}Leg"), n(f"{S}Foot")], n(f"{S}UpLeg"), [j("knee"), j("ankle"), j("foot")])
            b.add(n(f"{S}ToeBase"), n(f"{S}Foot"), j("foot"), j("foot") + forward)
            expected.update({f"{side}_collar": n(f"{S}Shoulder"), f"{side}_shoulder": n(f"{S}Arm"),
                             f"{side}_elbow": n(f"{S}ForeArm"), f"{side}_wrist": n(f"{S}Hand"),
                             f"{side}_hip": n(f"{S}UpLeg"), f"{side}_knee": n(f"{S}Leg"),
                             f"{side}_ankle": n(f"{S}Foot"), f"{side}_foot": n(f"{S}ToeBase")})
    elif scheme == "rigify":
        b.add("DEF-spine", None, p[J["pelvis"]], p[J["spine1"]])
        b.chain(["DEF-spine.001", "DEF-spine.002", "DEF-spine.003"], "DEF-spine", spine_path)
        neck_mid = (p[J["neck"]] + p[J["head"]]) / 2
        b.chain(["DEF-spine.004", "DEF-spine.005"], "DEF-spine.003", [p[J["neck"]], neck_mid, p[J["head"]]])
        b.add("DEF-spine.006", "DEF-spine.005", p[J["head"]], p[J["head"]] + 2 * up)
        expected.update(pelvis="DEF-spine", spine1="DEF-spine.001", spine2="DEF-spine.002", spine3="DEF-spine.003",
                        neck="DEF-spine.004", head="DEF-spine.006")
        for side, s in (("left", "L"), ("right", "R")):
            j = lambda k: p[J[f"{side}_{k}"]]  # noqa: E731
            b.add(f"DEF-shoulder.{s}", "DEF-spine.003", j("collar"), j("shoulder"))
            parent = f"DEF-shoulder.{s}"
            for stem, (a, c) in (("upper_arm", ("shoulder", "elbow")), ("forearm", ("elbow", "wrist"))):
                names = [f"DEF-{stem}.{s}"] + ([f"DEF-{stem}.{s}.001"] if twist_bones else [])
                b.chain(names, parent, _split(j(a), j(c), len(names)))
                parent = names[-1]
            b.add(f"DEF-hand.{s}", parent, j("wrist"), j("hand"))
            b.add(f"DEF-f_index.01.{s}", *finger(f"DEF-hand.{s}", j("wrist"), j("hand")))
            parent = "DEF-spine"
            for stem, (a, c) in (("thigh", ("hip", "knee")), ("shin", ("knee", "ankle"))):
                names = [f"DEF-{stem}.{s}"] + ([f"DEF-{stem}.{s}.001"] if twist_bones else [])
                b.chain(names, parent, _split(j(a), j(c), len(names)))
                parent = names[-1]
            b.add(f"DEF-foot.{s}", parent, j("ankle"), j("foot"))
            b.add(f"DEF-toe.{s}", f"DEF-foot.{s}", j("foot"), j("foot") + forward)
            expected.update({f"{side}_collar": f"DEF-shoulder.{s}", f"{side}_shoulder": f"DEF-upper_arm.{s}",
                             f"{side}_elbow": f"DEF-forearm.{s}", f"{side}_wrist": f"DEF-hand.{s}",
                             f"{side}_hip": f"DEF-thigh.{s}", f"{side}_knee": f"DEF-shin.{s}",
                             f"{side}_ankle": f"DEF-foot.{s}", f"{side}_foot": f"DEF-toe.{s}"})
    else:  # unreal
        b.add("root", None, np.zeros(3), np.array([0.0, 0.2 * scale, 0.0]))
        b.add("pelvis", "root", p[J["pelvis"]], p[J["spine1"]])
        spine = [f"spine_{i + 1:02d}" for i in range(spine_bones)]
        b.chain(spine, "pelvis", _polyline(spine_path, spine_bones))
        necks = ["neck_01", "neck_02"] if spine_bones >= 5 else ["neck_01"]
        b.chain(necks, spine[-1], _split(p[J["neck"]], p[J["head"]], len(necks)))
        b.add("head", necks[-1], p[J["head"]], p[J["head"]] + 2 * up)
        expected.update(pelvis="pelvis", neck="neck_01", head="head", spine1="spine_01", spine3=spine[-1])
        if spine_bones >= 3:
            expected["spine2"] = spine[len(spine) // 2]
        for side, s in (("left", "l"), ("right", "r")):
            j = lambda k: p[J[f"{side}_{k}"]]  # noqa: E731
            b.add(f"clavicle_{s}", spine[-1], j("collar"), j("shoulder"))
            b.chain([f"upperarm_{s}", f"lowerarm_{s}", f"hand_{s}"], f"clavicle_{s}",
                    [j("shoulder"), j("elbow"), j("wrist"), j("hand")])
            b.add(f"index_01_{s}", *finger(f"hand_{s}", j("wrist"), j("hand")))
            b.add(f"thigh_{s}", "pelvis", j("hip"), j("knee"))
            b.chain([f"calf_{s}", f"foot_{s}"], f"thigh_{s}", [j("knee"), j("ankle"), j("foot")])
            b.add(f"ball_{s}", f"foot_{s}", j("foot"), j("foot") + forward)
            if twist_bones:
                for parent, (a, c), at in ((f"upperarm_{s}", ("shoulder", "elbow"), 0.5),
                                           (f"lowerarm_{s}", ("elbow", "wrist"), 0.7),
                                           (f"thigh_{s}", ("hip", "knee"), 0.5),
                                           (f"calf_{s}", ("knee", "ankle"), 0.5)):
                    stem = parent.rsplit("_", 1)[0]
                    head = j(a) + at * (j(c) - j(a))
                    b.add(f"{stem}_twist_01_{s}", parent, head, head + 0.2 * (j(c) - j(a)))
            expected.update({f"{side}_collar": f"clavicle_{s}", f"{side}_shoulder": f"upperarm_{s}",
                             f"{side}_elbow": f"lowerarm_{s}", f"{side}_wrist": f"hand_{s}",
                             f"{side}_hip": f"thigh_{s}", f"{side}_knee": f"calf_{s}",
                             f"{side}_ankle": f"foot_{s}", f"{side}_foot": f"ball_{s}"})
    heads, tails = np.array(b.heads), np.array(b.tails)
    frames = _frames(heads, tails, roll_seed)
    modes = tuple("YXZ" if name in euler_bones else mode for name, mode in zip(b.names, b.modes))
    connected = tuple(
        bool(parent >= 0 and np.linalg.norm(heads[i] - tails[parent]) < 1e-9 and i != b.names.index(expected["pelvis"]))
        for i, parent in enumerate(b.parents)
    )
    return AvatarSpec(scheme, tuple(b.names), tuple(b.parents), heads, tails, frames, modes, expected, connected)


def _frames(heads, tails, roll_seed) -> np.ndarray:
    """(B, 3, 3) rest frames with Y along head -> tail and a random roll about it."""
    roll_rng = np.random.default_rng(roll_seed) if roll_seed is not None else None
    frames = []
    for head, tail in zip(heads, tails):
        y = (tail - head) / np.linalg.norm(tail - head)
        helper = np.array([0.0, 0.0, 1.0]) if abs(y[2]) < 0.9 else np.array([0.0, -1.0, 0.0])
        x = np.cross(y, helper)
        x /= np.linalg.norm(x)
        z = np.cross(x, y)
        if roll_rng is not None:
            roll = roll_rng.uniform(-np.pi, np.pi)
            x, z = np.cos(roll) * x + np.sin(roll) * z, -np.sin(roll) * x + np.cos(roll) * z
        frames.append(np.stack([x, y, z], axis=1))
    return np.array(frames)


def build_avatar(spec: AvatarSpec, name: str, collection=None):
    """The armature object for ``spec`` in Blender (object at the origin, rest = spec)."""
    import bpy
    from mathutils import Matrix

    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    (collection or bpy.context.scene.collection).objects.link(obj)
    view_layer = bpy.context.view_layer
    previous = view_layer.objects.active
    if bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = []
        for i, bone_name in enumerate(spec.names):
            bone = data.edit_bones.new(bone_name)
            bone.head = spec.heads[i].tolist()
            bone.tail = spec.tails[i].tolist()
            matrix = np.eye(4)
            matrix[:3, :3] = spec.frames[i]
            matrix[:3, 3] = spec.heads[i]
            bone.matrix = Matrix(matrix.tolist())  # sets the roll (head and direction unchanged)
            bones.append(bone)
        for i, parent in enumerate(spec.parents):
            if parent >= 0:
                bones[i].parent = bones[parent]
                bones[i].use_connect = spec.connected[i]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous
    for pose_bone, mode in zip((obj.pose.bones[n] for n in spec.names), spec.rotation_modes):
        pose_bone.rotation_mode = mode
    return obj

@lru_cache(maxsize=1)
def walk_motions() -> tuple[Motion, ...]:
    """The two persons of procedural clip 'support_walking' (10 fps, ~8 s, feet planted)."""
    from addon.core.data.procedural.dataset import make_clip

    clip = make_clip(0, "test", 0, load_body_model(None), script="support_walking")
    return tuple(clip.clip.motions)


def random_motion(frames: int = 60, seed: int = 3, fps: float = 30.0) -> Motion:
    """Random body poses (0.5 rad per axis) on an upright, drifting body."""
    rng = np.random.default_rng(seed)
    body_pose = rng.normal(scale=0.5, size=(frames, 23, 3))
    global_orient = np.tile([np.pi / 2, 0.0, 0.0], (frames, 1)) + rng.normal(scale=0.2, size=(frames, 3))
    transl = np.cumsum(rng.normal(scale=0.01, size=(frames, 3)), axis=0) + [1.0, 2.0, 0.95]
    return Motion(global_orient, body_pose, transl, np.zeros(10), fps)


def rest_joints(motion: Motion) -> np.ndarray:
    """(24, 3) the stand-in body's Y-up rest joints for the motion's betas."""
    return load_body_model(None).rest_joints(motion.betas)


def source_of(motion: Motion, name: str = "Person", frame_start: float = 1.0) -> SourceMotion:
    return SourceMotion(name, motion.local_rotations(), motion.transl, rest_joints(motion), motion.fps, frame_start)
