"""Left/right mirroring augmentation: reflect the world in x -> -x and swap left and right.

For the reflection M = diag(-1, 1, 1) (the same matrix in the Z-up world and in
the Y-up SMPL template, whose x axis points to the body's left; the Y-up -> Z-up
turn is about x and commutes with M), a body posed with local rotations R_j is
mirrored by

    R'_j = M R_mirror(j) M        for every joint (root included: G' = M G M)
    pelvis' = M pelvis            i.e. transl' = M (J_0 + transl) - J_0

M R M of a rotation by angle t about axis a is the rotation by t about -M a,
so in axis-angle (x, y, z) -> (x, -y, -z). FK then gives joint j' = M joint_mirror(j)
exactly when the rest skeleton is left/right symmetric (rest_mirror(j) = M rest_j);
SMPL's is symmetric to a few millimetres, so mirrored joints match to that.
Betas, roles, fps and action labels are kept; texts swap left/right words.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..motion.motion import NUM_HAND_JOINTS, Motion
from ..skeleton import MIRROR
from .clip import Clip

REFLECTION = np.diag([-1.0, 1.0, 1.0])
_AXIS_ANGLE_SIGNS = np.array([1.0, -1.0, -1.0])
_HANDS_SWAPPED = np.r_[NUM_HAND_JOINTS // 2 : NUM_HAND_JOINTS, 0 : NUM_HAND_JOINTS // 2]

# Longer words first, so "counter-clockwise" is not read as "clockwise".
_WORD_SWAPS = {
    "counter-clockwise": "clockwise",
    "counterclockwise": "clockwise",
    "anti-clockwise": "clockwise",
    "anticlockwise": "clockwise",
    "clockwise": "counterclockwise",
    "leftwards": "rightwards",
    "leftward": "rightward",
    "leftmost": "rightmost",
    "left": "right",
    "rightwards": "leftwards",
    "rightward": "leftward",
    "rightmost": "leftmost",
    "right": "left",
}
_WORD_PATTERN = re.compile(r"\b(" + "|".join(re.escape(word) for word in _WORD_SWAPS) + r")\b", re.IGNORECASE)


def mirror_clip(clip: Clip, *, rest_pelvis: np.ndarray | None = None) -> Clip:
    """The clip reflected x -> -x: motions mirrored, scene points reflected, texts swapped, roles kept.

    rest_pelvis: (3,) metres, J_0 of the bodies' betas (template frame); None
        assumes J_0 lies on the symmetry plane (x = 0).
    """
    return dataclasses.replace(
        clip,
        motions=[mirror_motion(motion, rest_pelvis=rest_pelvis) for motion in clip.motions],
        texts=[mirror_text(text) for text in clip.texts],
        scene_points=None if clip.scene_points is None else clip.scene_points @ REFLECTION.T.astype(np.float32),
        source=f"{clip.source}:mirrored",
    )


def mirror_motion(motion: Motion, *, rest_pelvis: np.ndarray | None = None) -> Motion:
    """One Motion mirrored (see the module docstring); hand_pose swaps hands the same way."""
    T = motion.num_frames
    pose = motion.poses_72().reshape(T, 24, 3)
    # Joint j of the mirror takes the reflected rotation of its partner MIRROR[j].
    mirrored = pose[:, list(MIRROR)] * _AXIS_ANGLE_SIGNS
    p = np.zeros(3) if rest_pelvis is None else np.asarray(rest_pelvis, dtype=np.float64)
    transl = (p + motion.transl) @ REFLECTION.T - p
    hands = None
    if motion.hand_pose is not None:
        # SMPL-H: 15 left finger joints then the same 15 on the right.
        hands = motion.hand_pose[:, _HANDS_SWAPPED] * _AXIS_ANGLE_SIGNS
    return dataclasses.replace(
        motion,
        global_orient=mirrored[:, 0],
        body_pose=mirrored[:, 1:],
        transl=transl,
        hand_pose=hands,
        name=f"{motion.name}:mirrored" if motion.name else "",
    )


def mirror_text(text: str) -> str:
    """Swap "left"/"right" (and -ward(s), -most) and "clockwise"/"counterclockwise", keeping the case.

    Word based, so "left" as the past of "leave" or "right" meaning "correct" swap too
    (InterGen and HumanML3D do the same).
    """
    return _WORD_PATTERN.sub(_swap_word, text)


def _swap_word(match: re.Match) -> str:
    word = match.group(0)
    swapped = _WORD_SWAPS[word.lower()]
    if word.isupper():
        return swapped.upper()
    if word[0].isupper():
        return swapped[0].upper() + swapped[1:]
    return swapped
