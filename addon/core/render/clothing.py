"""Which garment each body vertex wears, from its dominant skinning joint (numpy only).

0 = shirt (spine, collars, arms), 1 = trousers (pelvis, legs, feet), 2 = skin (head, neck, hands).
"""

from __future__ import annotations

import numpy as np

from ..skeleton import JOINT_INDEX, NUM_JOINTS

SHIRT, TROUSERS, SKIN = 0, 1, 2
GARMENTS = ("shirt", "trousers", "skin")
_TROUSER_JOINTS = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
                   "left_foot", "right_foot")
_SKIN_JOINTS = ("neck", "head", "left_wrist", "right_wrist", "left_hand", "right_hand")
GARMENT_OF_JOINT = np.full(NUM_JOINTS, SHIRT, dtype=np.int32)
GARMENT_OF_JOINT[[JOINT_INDEX[n] for n in _TROUSER_JOINTS]] = TROUSERS
GARMENT_OF_JOINT[[JOINT_INDEX[n] for n in _SKIN_JOINTS]] = SKIN


def vertex_garments(weights: np.ndarray) -> np.ndarray:
    """(V,) int32 garment per vertex; weights: (V, 24) skinning weights."""
    return GARMENT_OF_JOINT[np.asarray(weights)[:, :NUM_JOINTS].argmax(axis=1)]


def face_garments(faces: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(F,) int32 garment per triangle: the most common garment of its three vertices (ties: the
    first vertex's)."""
    per_vertex = vertex_garments(weights)[np.asarray(faces)]  # (F, 3)
    counts = np.stack([(per_vertex == g).sum(axis=1) for g in range(len(GARMENTS))], axis=1)
    best = counts.argmax(axis=1)
    return np.where(counts.max(axis=1) >= 2, best, per_vertex[:, 0]).astype(np.int32)
