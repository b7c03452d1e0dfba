"""InterHuman in InterGen's processed layout (Liang et al. 2024; anchors section 2.2) -> two-person Clips.

    <root>/motions_processed/person1/<id>.npy   (T, 492) person 1, 30 fps
    <root>/motions_processed/person2/<id>.npy   (T, 492) person 2, same T, same world
    <root>/annots/<id>.txt                      descriptions, one per line
    <root>/split/{train,val,test}.txt           one id per line (in2IN, InterMask) ...
    <root>/{train,val,test}.txt                 ... or at the root (InterGen): either place
    ignore_list.txt (either place, optional)    ids to skip

The 492 columns of a row (62 x 3 + 51 x 6, InterGen issues #15, #27, #43):

    [  0: 66]  used      22 x 3  SMPL-H body joint positions, SMPL order, metres, world Z up
    [ 66:186]  not used  40 x 3  hand joint positions (finger joints and tips)
    [186:312]  used      21 x 6  local rotations of body joints 1..21 (no root)
    [312:492]  not used  30 x 6  local rotations of the finger joints

The 6D blocks are ``rot_mat[:, :2]`` flattened row by row, [R00, R01, R10, R11,
R20, R21] (the maintainer in InterGen #29; InterGen's mirroring negates exactly
[1, 2, 4] of it), i.e. Zhou's two columns interleaved: reordered with
:data:`INTERHUMAN_6D_TO_ZHOU` before Gram-Schmidt.

No root orientation is stored. It is fitted here as the rotation that best maps
the FK of the stored local rotations (identity root, caller's rest skeleton) onto
the stored pelvis-relative joints (:func:`.joint_ik.fit_root_rotation`); transl is
the stored pelvis minus J_0. The processed files carry no betas (those sit in
``motions/*.pkl``), so the caller's rest skeleton stands in for the subjects':
rotations are the data's own, positions from FK differ from the stored ones by
the bone-length difference. The world is Z up already; positions are used as
stored (InterGen puts the lowest joint on the floor only when it builds features).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..motion.motion import Motion
from ..motion.resample import resample
from ..rotations import rotation_6d_to_matrix
from ..skeleton import NUM_BODY_JOINTS
from .clip import Clip, DatasetError, load_float_array, read_id_list, read_text_lines
from ..motion.joint_ik import fit_root_rotation, motion_from_local_rotations

INTERHUMAN_FPS = 30.0
SOURCE = "interhuman"
NUM_COLUMNS = 492
POSITION_COLUMNS = slice(0, 3 * NUM_BODY_JOINTS)  # 0:66
BODY_ROTATION_COLUMNS = slice(62 * 3, 62 * 3 + 6 * (NUM_BODY_JOINTS - 1))  # 186:312
# InterHuman's 6D [R00, R01, R10, R11, R20, R21] -> Zhou's [R00, R10, R20, R01, R11, R21], and back.
INTERHUMAN_6D_TO_ZHOU = (0, 2, 4, 1, 3, 5)
ZHOU_TO_INTERHUMAN_6D = (0, 3, 1, 4, 2, 5)
PERSONS = ("person1", "person2")


def read_interhuman(
    root: str | os.PathLike,
    split: str,
    fps: float,
    rest_joints: np.ndarray,
    *,
    betas: np.ndarray | None = None,
    min_frames: int = 2,
) -> list[Clip]:
    """Every clip of ``split`` (minus ignore_list.txt) as a two-person Clip at ``fps``.

    rest_joints: (24, 3) metres, template rest joints (Y up) of ``betas`` (None: 10 zeros).
    min_frames: clips shorter than this (at 30 fps) are skipped.
    Both persons keep role "person"; texts are the annots lines, stripped, blanks dropped.
    Raises DatasetError naming the file (and line or field) for missing or malformed files.
    """
    root = Path(root)
    ids = read_id_list(find_split_file(root, f"{split}.txt"))
    ignored: set[str] = set()
    for folder in (root, root / "split"):
        if (folder / "ignore_list.txt").is_file():
            ignored.update(read_id_list(folder / "ignore_list.txt"))
    clips = []
    for clip_id in ids:
        if clip_id in ignored:
            continue
        paths = [root / "motions_processed" / person / f"{clip_id}.npy" for person in PERSONS]
        arrays = [load_float_array(path, (NUM_COLUMNS,), f"InterHuman rows (T, {NUM_COLUMNS})") for path in paths]
        if len(arrays[0]) != len(arrays[1]):
            raise DatasetError(f"{paths[1]}: has {len(arrays[1])} frames, {paths[0]} has {len(arrays[0])}")
        if len(arrays[0]) < min_frames:
            continue
        texts = [line.strip() for line in read_text_lines(root / "annots" / f"{clip_id}.txt") if line.strip()]
        source = f"{SOURCE}:{clip_id}"
        motions = [
            resample(motion_from_interhuman(array, rest_joints, betas=betas, name=f"{source}/{person}"), fps)
            for array, person in zip(arrays, PERSONS)
        ]
        clips.append(Clip(motions=motions, texts=texts, source=source, split=split))
    return clips


def find_split_file(root: Path, name: str) -> Path:
    """``root/split/name`` or ``root/name`` (the split folder wins when both exist)."""
    for path in (root / "split" / name, root / name):
        if path.is_file():
            return path
    raise DatasetError(f"{root}: split file {name!r} found neither in {root / 'split'} nor in {root}")


def motion_from_interhuman(
    rows: np.ndarray, rest_joints: np.ndarray, *, betas: np.ndarray | None = None, name: str = ""
) -> Motion:
    """(T, 492) processed rows at 30 fps -> a Motion (Z-up world, AMASS convention)."""
    rows = np.asarray(rows, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (24, 3):
        raise DatasetError(f"rest_joints: expected (24, 3) metres, got {rest.shape}")
    T = len(rows)
    joints = rows[:, POSITION_COLUMNS].reshape(T, NUM_BODY_JOINTS, 3)
    six_d = rows[:, BODY_ROTATION_COLUMNS].reshape(T, NUM_BODY_JOINTS - 1, 6)[..., list(INTERHUMAN_6D_TO_ZHOU)]
    body_local = rotation_6d_to_matrix(six_d)  # (T, 21, 3, 3)
    root = fit_root_rotation(joints, body_local, rest)
    local = np.concatenate([root[:, None], body_local], axis=1)
    return motion_from_local_rotations(local, joints[:, 0], rest, INTERHUMAN_FPS, betas=betas, name=name)
