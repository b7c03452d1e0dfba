"""One body model over smplx: the user's SMPL / SMPL-H files or the bundled stand-in.

Pose convention (AMASS style): the template is Y up; ``global_orient`` carries
the rotation into the world (Z up for this project, see :mod:`..axes`) and
``transl`` is added last, so the output is simply smplx's output:

    joints = FK(axis_angle_to_matrix([global_orient, body_pose]), rest_joints(betas)) + transl

with :func:`..skeleton.forward_kinematics` on SMPL's 24-joint tree.

SMPL-H (52 joints: SMPL's first 22, then 15 per hand) in SMPL's 24-joint terms:

* pose: SMPL-H's body joints 1..21 take SMPL's ``body_pose[:, :21]``; SMPL's
  hand joints 22/23 (``body_pose[:, 21:23]``) do not exist in SMPL-H and are
  ignored, and every finger joint stays at its flat rest rotation. The motion
  model drives 22 joints (no hands) anyway.
* joints: SMPL's ``left_hand``/``right_hand`` (22/23) are read from SMPL-H's
  ``left_middle1``/``right_middle1`` (25/40), the middle finger's knuckle,
  where SMPL puts its hand joint; like SMPL's they are children of the wrists.
* weights: each hand's 15 finger weights are summed into SMPL's hand joint
  (22 left, 23 right). With flat fingers a finger moves rigidly with its
  wrist, so skinning with these 24 weights reproduces SMPL-H's vertices.
"""

from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

import numpy as np

from ..rotations import axis_angle_to_matrix
from ..skeleton import NUM_JOINTS, PARENTS
from .model_files import (
    GENDERS,
    MODEL_KINDS,
    Gender,
    ModelKind,
    find_model_file,
    load_model_arrays,
    normalise_model_arrays,
)

if TYPE_CHECKING:
    import torch

BodyKind = Literal["standin", "smpl", "smplh"]

# SMPL's 24 joints as indices into SMPL-H's 52 (see the module docstring).
SMPL_JOINTS_IN_SMPLH: tuple[int, ...] = tuple(range(22)) + (25, 40)
_LEFT_FINGERS = range(22, 37)
_RIGHT_FINGERS = range(37, 52)
# smplx's lbs builds (frames, V, 4, 4) float64 skinning matrices (~0.9 MB a frame
# for SMPL), so long clips run in chunks of this many frames.
_FRAMES_PER_CHUNK = 64
STANDIN_SOURCE = "bundled stand-in body"


@dataclass(frozen=True)
class BodyOutput:
    """A posed body for T frames, in the frame of the input pose.

    vertices: (T, V, 3) float64, metres.
    joints: (T, 24, 3) float64, metres: the 24 SMPL joints, also for SMPL-H.
    """

    vertices: np.ndarray
    joints: np.ndarray


class BodyModel:
    """A loaded SMPL-family body; immutable, so one instance is shared through the cache.

    kind: ``'standin'``, ``'smpl'`` or ``'smplh'``. gender: the file's gender.
    source: the model file, or :data:`STANDIN_SOURCE`.
    num_betas: S, the shape directions available. num_vertices: V.
    faces: (F, 3) int32 vertex indices.
    weights: (V, 24) float64 skinning weights on SMPL's joints (SMPL-H fingers folded in).
    shapedirs: (V, 3, S) float64 metres per unit beta.
    has_pose_correctives: whether the file's posedirs are not all zero.
    Arrays are read-only.
    """

    def __init__(self, arrays: Mapping[str, Any], *, kind: BodyKind, gender: str = "neutral", source: str = "") -> None:
        """arrays: SMPL-named arrays as in :mod:`.model_files` (checked again here)."""
        if kind not in ("standin", "smpl", "smplh"):
            raise ValueError(f"body kind must be 'standin', 'smpl' or 'smplh', got {kind!r}")
        source = source or kind
        model_kind: ModelKind = "smplh" if kind == "smplh" else "smpl"
        checked = normalise_model_arrays(arrays, source, model_kind)
        _check_tree(checked["kintree_table"][0], model_kind, source)

        # smplx (and torch) load only when a pose is first skinned: Blender's side only
        # needs the rest arrays below, and must not pull torch into its process.
        self._checked = checked
        self._layer_cache = None
        self.kind: BodyKind = kind
        self.gender = gender
        self.source = source
        self._model_kind = model_kind
        self._smpl_joints = list(SMPL_JOINTS_IN_SMPLH if model_kind == "smplh" else range(NUM_JOINTS))
        self._v_template = _read_only(checked["v_template"])
        self._J_regressor = _read_only(checked["J_regressor"][self._smpl_joints])  # (24, V)
        self.shapedirs = _read_only(checked["shapedirs"])
        self.num_vertices = len(self._v_template)
        self.num_betas = self.shapedirs.shape[2]
        self.faces = _read_only(checked["f"].astype(np.int32))
        self.weights = _read_only(_smpl_weights(checked["weights"], model_kind))
        self.has_pose_correctives = bool(np.any(checked["posedirs"]))
        # Names of the shape directions where the model documents them (the stand-in does).
        self.shape_names: tuple[str, ...] = ()

    @property
    def posedirs(self) -> np.ndarray:
        """(V, 3, P) pose-corrective offsets per unit of SMPL's pose feature (zeros for the stand-in)."""
        return self._checked["posedirs"]

    @property
    def _layer(self):
        """The smplx layer, built on first use from private copies of the arrays."""
        if self._layer_cache is None:
            arrays = {key: np.array(value) for key, value in self._checked.items()}
            self._layer_cache = _smplx_layer(arrays, self._model_kind, self.gender)
        return self._layer_cache

    def __repr__(self) -> str:
        return (
            f"BodyModel(kind={self.kind!r}, gender={self.gender!r}, V={self.num_vertices}, "
            f"S={self.num_betas}, source={self.source!r})"
        )

    def rest_vertices(self, betas: np.ndarray | None = None) -> np.ndarray:
        """(V, 3) float64 metres in the template frame (Y up): v_template + shapedirs @ betas."""
        return self._v_template + self.shapedirs @ self._betas(betas)

    def rest_joints(self, betas: np.ndarray | None = None) -> np.ndarray:
        """(24, 3) float64 metres in the template frame: J_regressor @ rest_vertices(betas)."""
        return self._joint_template + self._joint_shapedirs @ self._betas(betas)

    def rest_joints_batch(self, betas: np.ndarray) -> np.ndarray:
        """(N, 24, 3) rest joints for N shapes ``betas`` (N, k), k <= num_betas, in one product."""
        values = np.asarray(betas, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] > self.num_betas:
            raise ValueError(f"betas must be (N, k) with k <= {self.num_betas} for {self.source}, got {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError("betas contain NaN or infinite values")
        return self._joint_template + np.einsum("jcs,ns->njc", self._joint_shapedirs[..., : values.shape[1]], values)

    @functools.cached_property
    def _joint_template(self) -> np.ndarray:
        """(24, 3) J_regressor @ v_template: the joints are linear in the betas, so the
        regressor is folded into the template and shape basis once."""
        return self._J_regressor @ self._v_template

    @functools.cached_property
    def _joint_shapedirs(self) -> np.ndarray:
        """(24, 3, S) J_regressor applied to every shape direction."""
        return np.einsum("jv,vcs->jcs", self._J_regressor, self.shapedirs)

    def forward(
        self,
        global_orient: np.ndarray,
        body_pose: np.ndarray,
        transl: np.ndarray | None,
        betas: np.ndarray | None = None,
        *,
        pose_correctives: bool = False,
    ) -> BodyOutput:
        """Pose the body for T frames with smplx's linear blend skinning.

        global_orient: (T, 3) axis-angle radians, the root (pelvis) rotation.
        body_pose: (T, 23, 3) (or (T, 69)) axis-angle radians, SMPL joints 1..23
            relative to their parents.
        transl: (T, 3) metres added to every vertex and joint (None: zero).
        betas: (k,) with k <= num_betas shape coefficients, the rest taken as 0 (None: all 0).
        pose_correctives: add the file's pose-dependent corrective offsets
            (posedirs). False gives exactly linear blend skinning, the deformation
            a Blender armature reproduces.
        """
        import torch
        from smplx.lbs import lbs

        orient = _frames(global_orient, (3,), "global_orient")
        frames = len(orient)
        pose = _frames(body_pose, (23, 3), "body_pose", frames)
        shift = np.zeros((frames, 3)) if transl is None else _frames(transl, (3,), "transl", frames)
        shape = torch.from_numpy(self._betas(betas))
        local = axis_angle_to_matrix(np.concatenate([orient[:, None], pose], axis=1))  # (T, 24, 3, 3)
        full_pose = self._model_pose(local)

        layer = self._layer
        posedirs = layer.posedirs
        if not pose_correctives:
            # A broadcast zero instead of a (P, 3V) copy: the offsets vanish, the rest is plain LBS.
            posedirs = torch.zeros((), dtype=torch.float64).expand(posedirs.shape)
        vertices = np.empty((frames, self.num_vertices, 3))
        joints = np.empty((frames, NUM_JOINTS, 3))
        with torch.no_grad():
            for start in range(0, frames, _FRAMES_PER_CHUNK):
                rotations = torch.from_numpy(full_pose[start : start + _FRAMES_PER_CHUNK])
                count = len(rotations)
                v, j = lbs(
                    shape.expand(count, -1), rotations, layer.v_template, layer.shapedirs, posedirs,
                    layer.J_regressor, layer.parents, layer.lbs_weights, pose2rot=False,
                )
                vertices[start : start + count] = v.numpy()
                joints[start : start + count] = j[:, self._smpl_joints].numpy()
        return BodyOutput(vertices=vertices + shift[:, None], joints=joints + shift[:, None])

    def _betas(self, betas: np.ndarray | None) -> np.ndarray:
        """(S,) float64: ``betas`` padded with zeros."""
        full = np.zeros(self.num_betas)
        if betas is None:
            return full
        values = np.asarray(betas, dtype=np.float64)
        if values.ndim != 1 or len(values) > self.num_betas:
            raise ValueError(f"betas must be (k,) with k <= {self.num_betas} for {self.source}, got {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError("betas contain NaN or infinite values")
        full[: len(values)] = values
        return full

    def _model_pose(self, local: np.ndarray) -> np.ndarray:
        """(T, J, 3, 3) rotations for the file's joints from SMPL's (T, 24, 3, 3)."""
        if self._model_kind == "smpl":
            return np.ascontiguousarray(local)
        flat_fingers = np.broadcast_to(np.eye(3), (len(local), 30, 3, 3))
        return np.concatenate([local[:, :22], flat_fingers], axis=1)


def _frames(value: Any, tail: tuple[int, ...], name: str, frames: int | None = None) -> np.ndarray:
    """``value`` as a float64 (T, *tail) array, checked; (T, 69) is accepted for (T, 23, 3)."""
    array = np.asarray(value, dtype=np.float64)
    if tail == (23, 3) and array.ndim == 2 and array.shape[1] == 69:
        array = array.reshape(len(array), 23, 3)
    if array.shape[1:] != tail or array.ndim != 1 + len(tail):
        raise ValueError(f"{name} must be (T, {', '.join(map(str, tail))}), got {array.shape}")
    if frames is not None and len(array) != frames:
        raise ValueError(f"{name} has {len(array)} frames but global_orient has {frames}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _check_tree(parents: np.ndarray, kind: ModelKind, source: str) -> None:
    """The file's kinematic tree must be SMPL's (and for SMPL-H, hands hanging off the wrists)."""
    body = tuple(int(p) for p in parents[:22])
    problem = None
    if body != PARENTS[:22]:
        problem = "the first 22 parents differ from SMPL's"
    elif kind == "smpl" and tuple(int(p) for p in parents) != PARENTS:
        problem = "the parents differ from SMPL's"
    elif kind == "smplh":
        for wrist, fingers in ((20, _LEFT_FINGERS), (21, _RIGHT_FINGERS)):
            if any(parents[j] != wrist and parents[j] not in fingers for j in fingers):
                problem = f"the finger joints {fingers.start}..{fingers.stop - 1} do not hang off wrist {wrist}"
        if parents[25] != 20 or parents[40] != 21:
            problem = "joints 25/40 (the middle fingers' knuckles) are not children of the wrists"
    if problem:
        raise ValueError(f"{source}: key 'kintree_table': {problem}")


def _smpl_weights(weights: np.ndarray, kind: ModelKind) -> np.ndarray:
    """(V, 24) skinning weights: SMPL's as they are, SMPL-H's fingers summed into the hand joints."""
    if kind == "smpl":
        return weights
    return np.concatenate(
        [
            weights[:, :22],
            weights[:, _LEFT_FINGERS].sum(axis=1, keepdims=True),
            weights[:, _RIGHT_FINGERS].sum(axis=1, keepdims=True),
        ],
        axis=1,
    )


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False  # shared through the cache: nobody may edit it in place
    return array


def _smplx_layer(arrays: Mapping[str, np.ndarray], kind: ModelKind, gender: str) -> torch.nn.Module:
    """smplx's SMPL / SMPL-H layer built from ``arrays``, float64 on the CPU.

    smplx only sees an in-memory struct: its own file loader unpickles with
    ``allow_pickle=True``. Its constructor rounds every array through float32
    (``smplx.utils.to_np``'s default) and keeps at most 10 shape directions of
    a model with fewer than 300, so the exact float64 arrays are put back into
    its buffers afterwards.
    """
    import smplx
    import torch
    from smplx.utils import Struct

    fields = dict(arrays)
    if kind == "smplh":
        # SMPL-H reads the MANO hand PCA even when unused; AMASS's merged files may lack it.
        for side in "lr":
            fields.setdefault(f"hands_components{side}", np.zeros((45, 45)))
            fields.setdefault(f"hands_mean{side}", np.zeros(45))
    options: dict[str, Any] = dict(
        model_path="", data_struct=Struct(**fields), dtype=torch.float64,
        num_betas=arrays["shapedirs"].shape[2], gender=gender,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for < 300 shape directions
        if kind == "smplh":
            layer = smplx.SMPLHLayer(use_pca=False, flat_hand_mean=True, **options)
        else:
            layer = smplx.SMPLLayer(**options)
    posedirs = arrays["posedirs"]
    exact = {
        "v_template": arrays["v_template"],
        "shapedirs": arrays["shapedirs"],
        "posedirs": posedirs.reshape(-1, posedirs.shape[2]).T,  # smplx's (P, 3V) layout
        "J_regressor": arrays["J_regressor"],
        "lbs_weights": arrays["weights"],
    }
    for name, value in exact.items():
        setattr(layer, name, torch.from_numpy(np.ascontiguousarray(value, dtype=np.float64)))
    return layer.eval()


def load_body_model(model_dir: str | None, gender: Gender = "neutral", kind: ModelKind = "smpl") -> BodyModel:
    """The body to pose: the user's model files, or the bundled stand-in when ``model_dir`` is empty.

    model_dir: ``Preferences.smpl_model_dir``; None or "" selects the stand-in
        (``kind='standin'``, one neutral body, whatever ``gender``/``kind`` say).
    Loaded models are cached per (model file, its modification time, gender, kind).
    Raises FileNotFoundError when the folder has no matching file, ValueError
    (UnsafePickleError included) when the file is malformed or unsafe.
    """
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
    if kind not in MODEL_KINDS:
        raise ValueError(f"model kind must be one of {MODEL_KINDS}, got {kind!r}")
    if not model_dir or not str(model_dir).strip():
        return _load_standin_body()
    path = find_model_file(model_dir, gender, kind).resolve()
    return _load_user_body(str(path), path.stat().st_mtime_ns, gender, kind)


def clear_body_model_cache() -> None:
    """Forget loaded models (e.g. after the preference changed or a file was replaced)."""
    _load_user_body.cache_clear()
    _load_standin_body.cache_clear()


@functools.lru_cache(maxsize=8)
def _load_user_body(path: str, mtime_ns: int, gender: Gender, kind: ModelKind) -> BodyModel:
    # mtime_ns is part of the key only: a replaced file is loaded again.
    return BodyModel(load_model_arrays(Path(path), kind), kind=kind, gender=gender, source=path)


@functools.lru_cache(maxsize=1)
def _load_standin_body() -> BodyModel:
    from .standin import load_standin_arrays  # written alongside; imported only when needed

    arrays = load_standin_arrays()
    model = BodyModel(arrays, kind="standin", gender="neutral", source=STANDIN_SOURCE)
    model.shape_names = tuple(str(name) for name in arrays.get("shape_direction_names", ()))
    return model


def preferred_body_model(model_dir: str | None, gender: Gender = "neutral", hands: bool = False) -> BodyModel:
    """The best body the user's folder offers, falling back sensibly.

    Tries SMPL then SMPL-H (SMPL-H first when ``hands``), in ``gender``, then in
    "neutral"; an empty folder gives the stand-in. Raises FileNotFoundError listing
    what was tried when the folder has none of them.
    """
    if not model_dir or not str(model_dir).strip():
        return load_body_model(None)
    kinds: tuple[ModelKind, ...] = ("smplh", "smpl") if hands else ("smpl", "smplh")
    genders: list[Gender] = [gender] + (["neutral"] if gender != "neutral" else [])
    errors = []
    for wanted_gender in genders:
        for kind in kinds:
            try:
                return load_body_model(model_dir, wanted_gender, kind)
            except FileNotFoundError as error:
                errors.append(str(error).splitlines()[0])
    raise FileNotFoundError(f"{model_dir}: no SMPL or SMPL-H model file found ({'; '.join(errors)})")
