"""The ``Motion`` container: one person's SMPL pose sequence, with its frame rate and role.

Convention (AMASS's, so files open unchanged in other SMPL tools): SMPL's template
is Y up; ``global_orient`` is the world-frame root rotation applied to that Y-up
template, so it already contains the Y-up -> Z-up turn (a person standing upright
in the Z-up world has ``global_orient`` ~ (pi/2, 0, 0)). ``transl`` is AMASS
``trans``: Z-up world, metres, floor z = 0. Frame t is at time t / fps seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from ..rotations import axis_angle_to_matrix

Role = Literal["staff", "patient", "person"]
Gender = Literal["neutral", "male", "female"]
ROLES: tuple[str, ...] = get_args(Role)
GENDERS: tuple[str, ...] = get_args(Gender)

NUM_BODY_POSE_JOINTS = 23  # SMPL joints 1..23 (joint 0 is global_orient)
NUM_HAND_JOINTS = 30  # SMPL-H: 15 finger joints per hand, left then right


class MotionError(ValueError):
    """A Motion's field has the wrong shape, type or value; the message names the field."""


# (field, trailing shape after T) for every per-frame float array.
_FRAME_FIELDS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("global_orient", (3,)),
    ("body_pose", (NUM_BODY_POSE_JOINTS, 3)),
    ("transl", (3,)),
    ("hand_pose", (NUM_HAND_JOINTS, 3)),
)


# eq=False: the generated __eq__ would compare arrays with ==, whose truth value is
# ambiguous; compare the fields with numpy instead.
@dataclass(eq=False)
class Motion:
    """One person's motion, SMPL (optionally SMPL-H hands), AMASS convention.

    global_orient: (T, 3) float64 axis-angle radians, world rotation of the Y-up template.
    body_pose: (T, 23, 3) float64 axis-angle radians, SMPL joints 1..23 relative to parents.
    transl: (T, 3) float64 metres, Z-up world (AMASS ``trans``).
    betas: (S,) float64 shape coefficients, any S (10, 16, 300 ...).
    fps: frames per second, > 0.
    role: "staff", "patient" or "person" (unknown).
    gender: which SMPL model the betas belong to.
    hand_pose: (T, 30, 3) float64 SMPL-H finger joints (left 15, right 15), or None.
    labels: (T,) int32 per-frame action ids, -1 = no action, or None.
    name: free text (source file, clip id).

    The constructor copies and coerces its inputs (lists allowed) to float64 /
    int32 arrays, so a Motion never aliases the caller's arrays, then validates.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray
    fps: float
    role: Role = "person"
    gender: Gender = "neutral"
    hand_pose: np.ndarray | None = None
    labels: np.ndarray | None = None
    name: str = ""

    def __post_init__(self) -> None:
        for field in ("global_orient", "body_pose", "transl", "betas", "hand_pose"):
            value = getattr(self, field)
            if value is None and field == "hand_pose":
                continue
            setattr(self, field, _to_float64(field, value, self.name))
        if self.labels is not None:
            self.labels = _to_int32_labels(self.labels, self.name)
        if not _is_number(self.fps):
            raise MotionError(f"{_who(self.name)}fps: expected a number, got {type(self.fps).__name__}")
        self.fps = float(self.fps)
        self.validate()

    # -- queries -----------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        """T, the number of frames."""
        return int(self.transl.shape[0])

    @property
    def duration_s(self) -> float:
        """Seconds from the first frame to the last: (T - 1) / fps (0 for a single frame)."""
        return (self.num_frames - 1) / self.fps

    def local_rotations(self) -> np.ndarray:
        """(T, 24, 3, 3) rotation matrices, joint 0 = global_orient, 1..23 = body_pose."""
        return axis_angle_to_matrix(self.poses_72().reshape(self.num_frames, 24, 3))

    def poses_72(self) -> np.ndarray:
        """(T, 72) float64 SMPL ``poses``: global_orient then body_pose joints 1..23."""
        T = self.num_frames
        return np.concatenate([self.global_orient, self.body_pose.reshape(T, NUM_BODY_POSE_JOINTS * 3)], axis=1)

    # -- derived motions ------------------------------------------------------------

    def copy(self) -> "Motion":
        """A deep copy (the constructor copies every array)."""
        return dataclasses.replace(self)

    def slice(self, start: int | None, stop: int | None) -> "Motion":
        """Frames [start, stop) with Python slice semantics (negative indices count from the end).

        The result must keep at least one frame. Time restarts at 0 for the new first frame.
        """
        frames = slice(start, stop)
        kept = range(self.num_frames)[frames]
        if len(kept) == 0:
            raise MotionError(
                f"{_who(self.name)}slice({start}, {stop}) of a {self.num_frames}-frame motion is empty"
            )
        return dataclasses.replace(
            self,
            global_orient=self.global_orient[frames],
            body_pose=self.body_pose[frames],
            transl=self.transl[frames],
            hand_pose=None if self.hand_pose is None else self.hand_pose[frames],
            labels=None if self.labels is None else self.labels[frames],
        )

    # -- checks -----------------------------------------------------------------

    def validate(self) -> None:
        """Raise MotionError naming the field and the problem; return None when all is well.

        Checks: array types and dtypes, shapes, one T for every per-frame field
        (T >= 1), finite values, fps finite and > 0, role and gender values,
        labels >= -1, name a str. Call again after mutating fields by hand.
        """
        who = _who(self.name)
        if not isinstance(self.transl, np.ndarray) or self.transl.ndim < 1:
            raise MotionError(f"{who}transl: expected a (T, 3) float64 array, got {_describe(self.transl)}")
        T = self.transl.shape[0]
        if T < 1:
            raise MotionError(f"{who}transl: a motion needs at least one frame, got T = 0")
        for field, trailing in _FRAME_FIELDS:
            value = getattr(self, field)
            if value is None and field == "hand_pose":
                continue
            _check_array(who, field, value, (T, *trailing))
        _check_array(who, "betas", self.betas, None)
        if self.labels is not None:
            if not isinstance(self.labels, np.ndarray) or self.labels.dtype != np.int32:
                raise MotionError(f"{who}labels: expected a (T,) int32 array, got {_describe(self.labels)}")
            if self.labels.shape != (T,):
                raise MotionError(f"{who}labels: expected shape ({T},) (T from transl), got {self.labels.shape}")
            if self.labels.min() < -1:
                frame = int(np.argmax(self.labels < -1))
                bad = self.labels[frame]
                raise MotionError(f"{who}labels: ids must be >= -1 (-1 = none), got {bad} at frame {frame}")
        if not isinstance(self.fps, float) or not np.isfinite(self.fps) or self.fps <= 0:
            raise MotionError(f"{who}fps: expected a finite number > 0, got {self.fps!r}")
        if self.role not in ROLES:
            raise MotionError(f"{who}role: expected one of {ROLES}, got {self.role!r}")
        if self.gender not in GENDERS:
            raise MotionError(f"{who}gender: expected one of {GENDERS}, got {self.gender!r}")
        if not isinstance(self.name, str):
            raise MotionError(f"{who}name: expected a str, got {type(self.name).__name__}")

    def __repr__(self) -> str:
        # The generated repr would print every array in full.
        extras = "".join(
            f", {field}" for field in ("hand_pose", "labels") if getattr(self, field, None) is not None
        )
        shape = getattr(self.transl, "shape", ("?",))
        return (
            f"Motion(name={self.name!r}, T={shape[0]}, fps={self.fps}, role={self.role!r}, "
            f"gender={self.gender!r}, betas={getattr(self.betas, 'shape', '?')}{extras})"
        )


def _is_number(value: object) -> bool:
    """A real number, not a bool (True as 1 fps is a bug) and not a string."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _who(name: str) -> str:
    """Message prefix naming the motion when it has a name."""
    return f"Motion {name!r}: " if isinstance(name, str) and name else "Motion: "


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def _to_float64(field: str, value: object, name: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)  # copies: a Motion owns its arrays
    except (TypeError, ValueError) as error:
        raise MotionError(f"{_who(name)}{field}: cannot be read as float64 numbers ({error})") from None
    return array


def _to_int32_labels(value: object, name: str) -> np.ndarray:
    array = np.array(value)
    # Integers only: a float label such as 2.7 is a bug upstream, not something to round.
    if array.dtype.kind not in "iu":
        raise MotionError(f"{_who(name)}labels: expected integer action ids, got {_describe(array)}")
    if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
        raise MotionError(f"{_who(name)}labels: ids do not fit in int32")
    return array.astype(np.int32)


def _check_array(who: str, field: str, value: object, shape: tuple[int, ...] | None) -> None:
    """A float64 array of ``shape`` (None: any 1-D length) with finite values, else MotionError.

    For per-frame fields shape[0] is T (taken from transl) and a NaN is reported by frame.
    """
    if not isinstance(value, np.ndarray) or value.dtype != np.float64:
        raise MotionError(f"{who}{field}: expected a float64 array, got {_describe(value)}")
    if shape is None:
        if value.ndim != 1:
            raise MotionError(f"{who}{field}: expected shape (S,), got {value.shape}")
    elif value.shape != shape:
        symbolic = "(T, " + ", ".join(str(s) for s in shape[1:]) + ")"
        raise MotionError(f"{who}{field}: expected shape {symbolic} = {shape} (T from transl), got {value.shape}")
    finite = np.isfinite(value)
    if not finite.all():
        if shape is None:
            index = int(np.argmax(~finite))
            raise MotionError(f"{who}{field}: non-finite value (NaN or inf) at index {index}")
        frame = int(np.argmax(~finite.reshape(value.shape[0], -1).all(axis=1)))
        raise MotionError(f"{who}{field}: non-finite value (NaN or inf) at frame {frame}")
