"""What the bridge reads once from Blender: the target armature's rest data and the SMPL source.

Frames: armature space is Blender's (``bone.matrix_local``); world = ``object_matrix`` @
armature space, metres, Z up, floor z = 0. Rotations are 3x3 matrices on column vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..skeleton import NUM_JOINTS
from .rotmath import orthonormalize, rotation_and_scale

ROTATION_MODES = ("QUATERNION", "AXIS_ANGLE", "XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


@dataclass(frozen=True, eq=False)
class TargetRig:
    """A target armature at rest.

    name: the object's name (for messages).
    bone_names: (B,) names; parents: (B,) index of each bone's parent, -1 for roots.
    rest_matrices: (B, 4, 4) ``bone.matrix_local``, armature space (head at column 3).
    tails: (B, 3) ``bone.tail_local``, armature space.
    object_matrix: (4, 4) the object's ``matrix_world`` (rotation, uniform scale, translation).
    rotation_modes: (B,) each pose bone's ``rotation_mode`` (see :data:`ROTATION_MODES`).
    connected: (B,) ``bone.use_connect`` (a connected bone cannot be translated).
    pose_matrices: (B, 4, 4) the pose bones' current ``matrix`` (armature space), used as
        the match pose of calibration mode MATCH_POSE; None when not read.
    fk_switches: pose bones (any of the rig's, by name) carrying an IK/FK switch property
        (:data:`.switches.FK_SWITCH_PROPERTY`, Rigify's limbs), keyed to FK.
    """

    name: str
    bone_names: tuple[str, ...]
    parents: tuple[int, ...]
    rest_matrices: np.ndarray
    tails: np.ndarray
    object_matrix: np.ndarray = field(default_factory=lambda: np.eye(4))
    rotation_modes: tuple[str, ...] = ()
    connected: tuple[bool, ...] = ()
    pose_matrices: np.ndarray | None = None
    fk_switches: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        B = len(self.bone_names)
        if B == 0:
            raise ValueError(f"armature {self.name!r} has no bones")
        if len(self.parents) != B or any(p >= B or p < -1 for p in self.parents):
            raise ValueError(f"armature {self.name!r}: parents must be {B} indices in [-1, {B})")
        for label, value, shape in (
            ("rest_matrices", self.rest_matrices, (B, 4, 4)),
            ("tails", self.tails, (B, 3)),
            ("object_matrix", self.object_matrix, (4, 4)),
        ):
            if np.shape(value) != shape or not np.all(np.isfinite(value)):
                raise ValueError(f"armature {self.name!r}: {label} must be finite {shape}, got {np.shape(value)}")
        if self.pose_matrices is not None and np.shape(self.pose_matrices) != (B, 4, 4):
            raise ValueError(f"armature {self.name!r}: pose_matrices must be ({B}, 4, 4)")
        modes = self.rotation_modes or ("QUATERNION",) * B
        if len(modes) != B or any(m not in ROTATION_MODES for m in modes):
            raise ValueError(f"armature {self.name!r}: rotation_modes must be {B} of {ROTATION_MODES}")
        object.__setattr__(self, "rotation_modes", tuple(modes))
        object.__setattr__(self, "connected", tuple(bool(c) for c in (self.connected or (False,) * B)))
        rotation_and_scale(np.asarray(self.object_matrix)[:3, :3], f"armature {self.name!r}")

    @property
    def num_bones(self) -> int:
        return len(self.bone_names)

    def index(self, bone: str) -> int:
        return self.bone_names.index(bone)

    def subset(self, bones: np.ndarray) -> TargetRig:
        """The rig with only ``bones`` (B',) indices, which must include every kept bone's parent
        (:func:`.subset.solved_bones`); parents are re-indexed."""
        bones = np.asarray(bones, dtype=np.int64)
        slot = np.full(self.num_bones + 1, -1, dtype=np.int64)
        slot[bones] = np.arange(len(bones))
        parents = slot[np.asarray(self.parents, dtype=np.int64)[bones]]
        if np.any((parents < 0) & (np.asarray(self.parents)[bones] >= 0)):
            raise ValueError(f"armature {self.name!r}: a subset must keep every bone's parent")
        return TargetRig(
            name=self.name,
            bone_names=tuple(self.bone_names[b] for b in bones),
            parents=tuple(int(p) for p in parents),
            rest_matrices=np.asarray(self.rest_matrices)[bones],
            tails=np.asarray(self.tails)[bones],
            object_matrix=self.object_matrix,
            rotation_modes=tuple(self.rotation_modes[b] for b in bones),
            connected=tuple(self.connected[b] for b in bones),
            pose_matrices=None if self.pose_matrices is None else np.asarray(self.pose_matrices)[bones],
            fk_switches=self.fk_switches,
        )


@dataclass(frozen=True)
class WorldRest:
    """A target's rest in world space (derived once from :class:`TargetRig`).

    heads, tails: (B, 3) metres; rotations: (B, 3, 3) rest bone frames (orthonormal);
    object_rotation (3, 3), object_scale, object_translation (3,): matrix_world split up;
    floor_z: world height of the avatar's floor (where its soles rest): the armature's origin,
        or below the feet of a rig that hangs from its origin (:mod:`.floor`).
    """

    heads: np.ndarray
    tails: np.ndarray
    rotations: np.ndarray
    object_rotation: np.ndarray
    object_scale: float
    object_translation: np.ndarray
    floor_z: float

    def subset(self, bones: np.ndarray) -> WorldRest:
        """The rest of ``bones`` (B',) only (see :meth:`TargetRig.subset`)."""
        return replace(self, heads=self.heads[bones], tails=self.tails[bones], rotations=self.rotations[bones])


def world_rest(rig: TargetRig) -> WorldRest:
    M = np.asarray(rig.object_matrix, dtype=np.float64)
    rotation, scale = rotation_and_scale(M[:3, :3], f"armature {rig.name!r}")
    rest = np.asarray(rig.rest_matrices, dtype=np.float64)
    heads = rest[:, :3, 3] @ M[:3, :3].T + M[:3, 3]
    tails = np.asarray(rig.tails, dtype=np.float64) @ M[:3, :3].T + M[:3, 3]
    rotations = rotation[None] @ orthonormalize(rest[:, :3, :3])
    return WorldRest(heads, tails, rotations, rotation, scale, M[:3, 3].copy(), float(M[2, 3]))


@dataclass(frozen=True, eq=False)
class SourceMotion:
    """An SMPL rig's motion, as keyed by this extension (one key per frame).

    name: the source object's name. local_rotations: (T, 24, 3, 3) SMPL local rotations
    (joint 0 = global_orient, AMASS convention: acting on the Y-up template).
    transl: (T, 3) metres (AMASS ``trans``). rest_joints_y: (24, 3) template joints, metres, Y up.
    fps: frames per second. frame_start: the scene frame of the first pose.
    object_matrix: (4, 4) the SMPL rig's ``matrix_world`` (identity for rigs this extension builds).
    """

    name: str
    local_rotations: np.ndarray
    transl: np.ndarray
    rest_joints_y: np.ndarray
    fps: float
    frame_start: float = 1.0
    object_matrix: np.ndarray = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        T = np.shape(self.transl)[0] if np.ndim(self.transl) == 2 else -1
        if T < 1 or np.shape(self.transl) != (T, 3):
            raise ValueError(f"source {self.name!r}: transl must be (T, 3), got {np.shape(self.transl)}")
        if np.shape(self.local_rotations) != (T, NUM_JOINTS, 3, 3):
            raise ValueError(
                f"source {self.name!r}: local_rotations must be ({T}, {NUM_JOINTS}, 3, 3), got {np.shape(self.local_rotations)}"
            )
        if np.shape(self.rest_joints_y) != (NUM_JOINTS, 3):
            raise ValueError(f"source {self.name!r}: rest_joints_y must be ({NUM_JOINTS}, 3)")
        if not (self.fps > 0):
            raise ValueError(f"source {self.name!r}: fps must be > 0, got {self.fps}")
        rotation_and_scale(np.asarray(self.object_matrix)[:3, :3], f"source {self.name!r}")

    @property
    def num_frames(self) -> int:
        return int(np.shape(self.transl)[0])
