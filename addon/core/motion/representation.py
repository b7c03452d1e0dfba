"""The per-person, per-frame motion features the diffusion model works on (thesis eq. 5.7, plus the root).

x_t = [j_g^p, j_g^v, j^r, r_root]  (thesis eq. 5.7; InterGen's non-canonical
representation without foot contacts, Liang et al. 2024), F = 264 numbers:

    [  0: 66]  POSITIONS        22 x 3  global joint positions, world, metres, Z up
    [ 66:132]  VELOCITIES       22 x 3  global joint velocities, metres per frame:
                                        v_t = x_{t+1} - x_t; the last frame repeats
                                        the previous velocity (v_{T-1} = v_{T-2}), so
                                        every frame keeps a velocity and T is unchanged
                                        (InterGen drops the last frame instead); a
                                        single-frame motion gets zero velocity
    [132:258]  LOCAL_ROTATIONS  21 x 6  SMPL joints 1..21 relative to their parents, 6D
    [258:264]  ROOT_ORIENTATION  6      the root's world rotation (Motion.global_orient), 6D

6D is Zhou et al. 2019: the first two columns of the rotation matrix, column by
column (:func:`..rotations.matrix_to_rotation_6d`). The root's global 6D is the
addition the thesis design asks for, so a rig can be driven without IK.

Joints are SMPL's first 22 (:data:`..skeleton.NUM_BODY_JOINTS`); SMPL's hand joints
22/23 are dropped on encoding and set to identity on decoding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..rotations import (
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from ..skeleton import NUM_BODY_JOINTS, PARENTS, forward_kinematics
from .motion import NUM_BODY_POSE_JOINTS, Motion, Role

Array = Any  # np.ndarray or torch.Tensor

NUM_ROTATED_JOINTS = NUM_BODY_JOINTS - 1  # joints 1..21 carry local rotations
POSITIONS = slice(0, 3 * NUM_BODY_JOINTS)  # 0:66
VELOCITIES = slice(POSITIONS.stop, POSITIONS.stop + 3 * NUM_BODY_JOINTS)  # 66:132
LOCAL_ROTATIONS = slice(VELOCITIES.stop, VELOCITIES.stop + 6 * NUM_ROTATED_JOINTS)  # 132:258
ROOT_ORIENTATION = slice(LOCAL_ROTATIONS.stop, LOCAL_ROTATIONS.stop + 6)  # 258:264
FEATURE_DIM = ROOT_ORIENTATION.stop  # 264
assert FEATURE_DIM == 264

BODY_PARENTS: tuple[int, ...] = PARENTS[:NUM_BODY_JOINTS]


class RepresentationError(ValueError):
    """Features or rest joints of the wrong shape; the message names the argument."""


def encode_motion(motion: Motion, rest_joints: np.ndarray) -> np.ndarray:
    """Features of one person's motion.

    motion: any Motion (AMASS convention: Z-up world, transl in metres).
    rest_joints: (24, 3) metres, the rest joints of the motion's betas in the
        Y-up template frame (``BodyModel.rest_joints(motion.betas)``).
    Returns (T, 264) float32, laid out as in the module docstring.
    """
    rest = _check_rest_joints(rest_joints)
    local = motion.local_rotations()  # (T, 24, 3, 3) float64
    # 1. Forward kinematics on SMPL's tree; SMPL rotates about J_0 and adds transl last.
    _, joints = forward_kinematics(local, rest, motion.transl)
    positions = joints[:, :NUM_BODY_JOINTS]  # (T, 22, 3) world, metres
    # 2. Forward differences, the last frame repeating the one before.
    velocities = joint_velocities(positions)
    # 3. 6D rotations: locals of joints 1..21, then the root's world rotation.
    local_6d = matrix_to_rotation_6d(local[:, 1:NUM_BODY_JOINTS])  # (T, 21, 6)
    root_6d = matrix_to_rotation_6d(local[:, 0])  # (T, 6)
    T = motion.num_frames
    features = np.concatenate(
        [positions.reshape(T, -1), velocities.reshape(T, -1), local_6d.reshape(T, -1), root_6d], axis=1
    )
    return features.astype(np.float32)


def joint_velocities(positions: np.ndarray) -> np.ndarray:
    """(T, J, 3) metres -> (T, J, 3) metres per frame: x_{t+1} - x_t, the last frame repeating the previous."""
    if len(positions) < 2:
        return np.zeros_like(positions)
    forward = positions[1:] - positions[:-1]
    return np.concatenate([forward, forward[-1:]], axis=0)


def decode_features(
    features: np.ndarray,
    rest_joints: np.ndarray,
    fps: float,
    role: Role = "person",
    betas: np.ndarray | None = None,
    name: str = "",
) -> Motion:
    """A Motion driven by the features' rotations, placed by their pelvis position.

    features: (T, 264) any float dtype (e.g. a sampler's denormalised output).
    rest_joints: (24, 3) metres, rest joints of ``betas`` in the template frame.
    fps, role, betas ((S,), None: 10 zeros), name: copied into the Motion.

    global_orient comes from the root 6D, body_pose joints 1..21 from the local 6D;
    both go through Gram-Schmidt (:func:`..rotations.rotation_6d_to_matrix`), so
    noisy features still give proper rotations. Joints 22/23 get the identity.
    transl = pelvis - J_0(betas): SMPL rotates the body about J_0 and adds transl
    last, so the posed pelvis is J_0 + transl. The other positions and the
    velocities are not used (see :func:`fk_joints_from_features` to compare).
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise RepresentationError(f"features: expected (T, {FEATURE_DIM}), got {x.shape}")
    x = _check_features(x)
    rest = _check_rest_joints(rest_joints)
    T = len(x)
    root = rotation_6d_to_matrix(x[:, ROOT_ORIENTATION])  # (T, 3, 3)
    local = rotation_6d_to_matrix(x[:, LOCAL_ROTATIONS].reshape(T, NUM_ROTATED_JOINTS, 6))  # (T, 21, 3, 3)
    body_pose = np.zeros((T, NUM_BODY_POSE_JOINTS, 3))
    body_pose[:, :NUM_ROTATED_JOINTS] = matrix_to_axis_angle(local)
    pelvis = x[:, POSITIONS].reshape(T, NUM_BODY_JOINTS, 3)[:, 0]
    return Motion(
        global_orient=matrix_to_axis_angle(root),
        body_pose=body_pose,
        transl=pelvis - rest[0],
        betas=np.zeros(10) if betas is None else betas,
        fps=fps,
        role=role,
        name=name,
    )


def features_to_joints(features: Array) -> Array:
    """(..., 264) -> (..., 22, 3): the stored global joint positions (numpy or torch), metres, Z up."""
    _check_last_dim(features)
    return features[..., POSITIONS].reshape(*features.shape[:-1], NUM_BODY_JOINTS, 3)


def features_to_rotations(features: Array) -> Array:
    """(..., 264) -> (..., 22, 3, 3) rotations (numpy or torch): [..., 0] the root's world
    rotation, [..., j] joint j relative to its parent, from the 6D parts of the features."""
    _check_last_dim(features)
    batch = features.shape[:-1]
    root = rotation_6d_to_matrix(features[..., ROOT_ORIENTATION])[..., None, :, :]
    local = rotation_6d_to_matrix(features[..., LOCAL_ROTATIONS].reshape(*batch, NUM_ROTATED_JOINTS, 6))
    if type(features).__module__.startswith("torch"):
        import torch

        return torch.cat([root, local], dim=-3)
    return np.concatenate([root, local], axis=-3)


def fk_joints_from_features(features: Array, rest_joints: Array) -> Array:
    """(..., 264) -> (..., 22, 3) joint positions recomputed from the rotations (numpy or torch).

    FK of the root 6D and the local 6D on ``rest_joints`` ((24, 3) or (22, 3),
    template frame, metres), with the pelvis put at the stored pelvis position.
    Equal to :func:`features_to_joints` for consistent features, so the gap measures
    how far positions and rotations of generated features disagree.
    """
    _check_last_dim(features)
    rest = rest_joints[..., :NUM_BODY_JOINTS, :]
    if tuple(rest.shape[-2:]) != (NUM_BODY_JOINTS, 3):
        raise RepresentationError(f"rest_joints: expected (24, 3), got {tuple(rest_joints.shape)}")
    rotations = features_to_rotations(features)
    if type(features).__module__.startswith("torch"):
        import torch

        rest = torch.as_tensor(rest, dtype=features.dtype, device=features.device)
    else:
        rest = np.asarray(rest, dtype=features.dtype)
    pelvis = features_to_joints(features)[..., 0, :]
    _, joints = forward_kinematics(rotations, rest, pelvis - rest[..., 0, :], parents=BODY_PARENTS)
    return joints


@dataclass(eq=False)
class NormalizationStats:
    """Per-feature statistics: normalised = (features - mean) / std.

    mean, std: (264,) float32; std >= the eps it was fitted with (never 0).
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32).copy()
        self.std = np.asarray(self.std, dtype=np.float32).copy()
        for field in ("mean", "std"):
            value = getattr(self, field)
            if value.shape != (FEATURE_DIM,):
                raise RepresentationError(f"NormalizationStats.{field}: expected ({FEATURE_DIM},), got {value.shape}")
            if not np.isfinite(value).all():
                raise RepresentationError(f"NormalizationStats.{field}: non-finite values")
        if (self.std <= 0).any():
            index = int(self.std.argmin())
            raise RepresentationError(f"NormalizationStats.std: must be > 0, got {self.std[index]} at {index}")

    def normalize(self, features: Array) -> Array:
        """(..., 264) numpy or torch -> the same kind and dtype, (features - mean) / std."""
        mean, std = self._like(features)
        return (features - mean) / std

    def denormalize(self, normalized: Array) -> Array:
        """Inverse of :meth:`normalize`: normalized * std + mean."""
        mean, std = self._like(normalized)
        return normalized * std + mean

    def as_arrays(self) -> dict[str, np.ndarray]:
        """{"mean", "std"}: plain float32 arrays, e.g. for a checkpoint's tensors."""
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    @classmethod
    def from_arrays(cls, arrays: Any, where: str = "normalization stats") -> "NormalizationStats":
        """From a mapping with "mean" and "std" (numpy arrays, tensors or an open .npz)."""
        missing = [key for key in ("mean", "std") if key not in arrays]
        if missing:
            raise RepresentationError(f"{where}: missing key(s) {missing}")
        try:
            return cls(mean=np.asarray(arrays["mean"]), std=np.asarray(arrays["std"]))
        except RepresentationError as error:
            raise RepresentationError(f"{where}: {error}") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz with "mean" and "std" (no pickles)."""
        np.savez(path, **self.as_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NormalizationStats":
        """Read what :meth:`save` wrote; errors name the file and key."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                return cls.from_arrays(archive, where=str(path))
        except (OSError, ValueError) as error:
            if isinstance(error, RepresentationError):
                raise
            raise RepresentationError(f"{path}: not a readable .npz of statistics ({error})") from None

    def _like(self, x: Array) -> tuple[Array, Array]:
        _check_last_dim(x)
        if type(x).__module__.startswith("torch"):
            import torch

            return (
                torch.as_tensor(self.mean, dtype=x.dtype, device=x.device),
                torch.as_tensor(self.std, dtype=x.dtype, device=x.device),
            )
        dtype = x.dtype if x.dtype.kind == "f" else np.float64
        return self.mean.astype(dtype), self.std.astype(dtype)


def turn_about_vertical(features: np.ndarray, angle: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """Features (..., 264) with each frame's person turned by ``angle`` (...) radians
    (counter-clockwise seen from above) about the vertical line through ``pivot`` (..., 2)
    metres: positions turned about it, velocities and the root's world rotation turned with
    them; local rotations unchanged. float64 numpy."""
    x = np.array(features, dtype=np.float64)
    cos, sin = np.cos(angle)[..., None], np.sin(angle)[..., None]

    def turn(xy: np.ndarray) -> np.ndarray:  # (..., n, 2) -> the same, turned
        return np.stack([cos * xy[..., 0] - sin * xy[..., 1], sin * xy[..., 0] + cos * xy[..., 1]], axis=-1)

    shape = x.shape[:-1]
    positions = x[..., POSITIONS].reshape(*shape, NUM_BODY_JOINTS, 3)
    centre = np.asarray(pivot, dtype=np.float64)[..., None, :]
    positions[..., :2] = turn(positions[..., :2] - centre) + centre
    velocities = x[..., VELOCITIES].reshape(*shape, NUM_BODY_JOINTS, 3)
    velocities[..., :2] = turn(velocities[..., :2])
    root = x[..., ROOT_ORIENTATION].reshape(*shape, 2, 3)  # the matrix's first two columns
    root[..., :2] = turn(root[..., :2])
    x[..., POSITIONS] = positions.reshape(*shape, -1)
    x[..., VELOCITIES] = velocities.reshape(*shape, -1)
    x[..., ROOT_ORIENTATION] = root.reshape(*shape, -1)
    return x


def fit_normalization(features: Sequence[np.ndarray], eps: float = 1e-4) -> NormalizationStats:
    """Mean and standard deviation over every frame of every clip.

    features: list of (T_i, 264) arrays; eps: floor on std (features that never
    vary, e.g. an always-identity wrist, must not divide by zero).
    Accumulated in float64; each frame counts once (long clips weigh more).
    """
    if len(features) == 0:
        raise RepresentationError("fit_normalization: no feature arrays given")
    arrays = []
    for index, item in enumerate(features):
        array = np.asarray(item, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != FEATURE_DIM:
            raise RepresentationError(
                f"fit_normalization: features[{index}] has shape {array.shape}, expected (T, {FEATURE_DIM})"
            )
        arrays.append(array)
    stacked = np.concatenate(arrays, axis=0)
    if not np.isfinite(stacked).all():
        raise RepresentationError("fit_normalization: non-finite feature values")
    return NormalizationStats(mean=stacked.mean(axis=0), std=np.maximum(stacked.std(axis=0), eps))


def _check_rest_joints(rest_joints: np.ndarray) -> np.ndarray:
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (24, 3):
        raise RepresentationError(f"rest_joints: expected (24, 3) metres, got {rest.shape}")
    return rest


def _check_last_dim(features: Array) -> None:
    if features.shape[-1] != FEATURE_DIM:
        raise RepresentationError(f"features: last axis must be {FEATURE_DIM}, got shape {tuple(features.shape)}")


def _check_features(features: np.ndarray) -> np.ndarray:
    _check_last_dim(features)
    if not np.isfinite(features).all():
        frame = int(np.argmax(~np.isfinite(features.reshape(len(features), -1)).all(axis=1)))
        raise RepresentationError(f"features: non-finite value at frame {frame}")
    return features
