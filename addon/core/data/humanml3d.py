"""HumanML3D in its official layout (Guo et al. 2022; anchors section 2.1) -> single-person Clips.

    <root>/new_joints/<id>.npy   (T, 22, 3) SMPL's first 22 joints, metres, Y up, 20 fps
    <root>/texts/<id>.txt        lines "caption#word/POS word/POS ...#start#end" (seconds);
                                 start = end = 0 (or nan): the caption covers the whole clip,
                                 otherwise frames [start * 20, end * 20) of it
    <root>/<split>.txt           one id per line (train, val, test, train_val, all)

Ids starting with ``M`` are HumanML3D's own mirrored copies (x negated, left and
right swapped, texts swapped); they are files like any other.

new_joints holds positions only (its 6D features come from its own IK, not SMPL's).
Rotations are fitted here by analytic IK on SMPL's tree (:mod:`.joint_ik`, twist
not observable) with the template rest joints given by the caller; HumanML3D
retargeted every clip to one subject's bone lengths (clip 000021), so FK of the
fit matches the stored joints only as far as those bone lengths match the rest
skeleton. The positions are turned Y-up -> Z-up first (:mod:`..axes`), so the
fitted root rotation is the Motion's ``global_orient`` directly (AMASS convention).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..axes import points_y_up_to_z_up
from ..motion.motion import Motion
from ..motion.resample import resample
from ..skeleton import NUM_BODY_JOINTS
from .clip import Clip, DatasetError, load_float_array, read_id_list, read_text_lines
from ..motion.joint_ik import fit_local_rotations, motion_from_local_rotations

HUMANML3D_FPS = 20.0
SOURCE = "humanml3d"
# Frame index = floor(seconds * fps + this), so a product landing a hair under an integer
# (possible at other rates than 20) still cuts at that integer.
_FRAME_EPS = 1e-6


@dataclass(frozen=True)
class Caption:
    """One line of a texts file: the caption (tokens dropped) and its span in seconds (0, 0 = whole clip)."""

    text: str
    start_s: float
    end_s: float

    @property
    def whole_clip(self) -> bool:
        return self.start_s == 0.0 and self.end_s == 0.0

    def frames(self, fps: float = HUMANML3D_FPS) -> tuple[int, int]:
        """[start, stop) source frames of a sub-clip: [int(start * fps), int(end * fps)), as MDM's loader cuts them."""
        return math.floor(self.start_s * fps + _FRAME_EPS), math.floor(self.end_s * fps + _FRAME_EPS)


def read_humanml3d(
    root: str | os.PathLike,
    split: str,
    fps: float,
    rest_joints: np.ndarray,
    *,
    betas: np.ndarray | None = None,
    include_mirrored: bool = True,
    min_frames: int = 2,
) -> list[Clip]:
    """Every clip of ``split``, fitted with SMPL rotations and resampled to ``fps``.

    root: the folder holding new_joints/, texts/ and the split files.
    rest_joints: (24, 3) metres, template rest joints (Y up) of ``betas``
        (None: 10 zeros), e.g. ``load_body_model(None).rest_joints()``.
    include_mirrored: False skips the ``M`` ids (for mirroring on the fly instead).
    min_frames: clips or sub-clips shorter than this (at 20 fps) are skipped, as
        HumanML3D has 1-frame sources and sub-clip spans past the end.
    Returns, per id, one Clip with all whole-clip captions (when it has any, or
    when its texts file is empty: then with no texts) and one Clip per distinct
    sub-clip span with that span's captions, in split-file order.
    Raises DatasetError naming the file (and line) for missing or malformed files.
    """
    root = Path(root)
    ids = read_id_list(root / f"{split}.txt")
    clips: list[Clip] = []
    for clip_id in ids:
        if not include_mirrored and clip_id.startswith("M"):
            continue
        joints = load_float_array(
            root / "new_joints" / f"{clip_id}.npy", (NUM_BODY_JOINTS, 3), "joint positions (T, 22, 3)"
        )
        captions = read_captions(root / "texts" / f"{clip_id}.txt")
        motion = motion_from_humanml3d_joints(joints, rest_joints, betas=betas, name=f"{SOURCE}:{clip_id}")
        for (start, stop), texts in _group_by_span(captions, motion.num_frames).items():
            if stop - start < min_frames:
                continue
            whole = (start, stop) == (0, motion.num_frames)
            source = f"{SOURCE}:{clip_id}" if whole else f"{SOURCE}:{clip_id}[{start}:{stop}]"
            part = motion.slice(start, stop)
            part.name = source
            clips.append(Clip(motions=[resample(part, fps)], texts=texts, source=source, split=split))
    return clips


def motion_from_humanml3d_joints(
    joints_y_up: np.ndarray,
    rest_joints: np.ndarray,
    *,
    betas: np.ndarray | None = None,
    name: str = "",
) -> Motion:
    """(T, 22, 3) Y-up joint positions at 20 fps -> a Motion (Z-up world, AMASS convention) by IK."""
    joints = points_y_up_to_z_up(np.asarray(joints_y_up, dtype=np.float64))
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (24, 3):
        raise DatasetError(f"rest_joints: expected (24, 3) metres, got {rest.shape}")
    local = fit_local_rotations(joints, rest)
    return motion_from_local_rotations(local, joints[:, 0], rest, HUMANML3D_FPS, betas=betas, name=name)


def read_captions(path: Path) -> list[Caption]:
    """Parse a texts file; a malformed line raises DatasetError naming the file and line number."""
    captions = []
    for number, line in enumerate(read_text_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.strip().rsplit("#", 3)  # tokens never hold '#'; a caption might
        if len(fields) != 4:
            raise DatasetError(f"{path}, line {number}: expected 'caption#tokens#start#end', got {line!r}")
        caption, _tokens, start, end = fields
        try:
            start_s, end_s = float(start), float(end)
        except ValueError:
            raise DatasetError(f"{path}, line {number}: start/end must be seconds, got {start!r}, {end!r}") from None
        # HumanML3D writes nan for "no span" in a few files; MDM reads it as 0.
        start_s = 0.0 if math.isnan(start_s) else start_s
        end_s = 0.0 if math.isnan(end_s) else end_s
        if start_s < 0 or end_s < 0 or math.isinf(start_s) or math.isinf(end_s):
            raise DatasetError(f"{path}, line {number}: start/end must be finite seconds >= 0, got {start_s}, {end_s}")
        if not caption.strip():
            raise DatasetError(f"{path}, line {number}: empty caption")
        captions.append(Caption(caption.strip(), start_s, end_s))
    return captions


def _group_by_span(captions: list[Caption], num_frames: int) -> dict[tuple[int, int], list[str]]:
    """{(start, stop) frames: captions}; whole-clip captions under (0, T), spans clipped to the clip.

    A clip without any caption still gives its whole span, with no texts.
    """
    if not captions:
        return {(0, num_frames): []}
    groups: dict[tuple[int, int], list[str]] = defaultdict(list)
    for caption in captions:
        if caption.whole_clip:
            span = (0, num_frames)
        else:
            start, stop = caption.frames()
            span = (min(start, num_frames), min(stop, num_frames))
        groups[span].append(caption.text)
    return dict(groups)
