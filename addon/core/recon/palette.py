"""Display colours per mask label (the Teton format carries no RGB images)."""

import numpy as np

LABEL_COLORS: dict[str, tuple[int, int, int]] = {
    "floor": (150, 140, 125),
    "wall": (215, 215, 205),
    "bed": (120, 150, 200),
    "chair": (150, 100, 70),
    "sofa": (110, 130, 90),
    "table": (170, 140, 100),
    "wheelchair": (90, 90, 100),
    "cabinet": (180, 160, 130),
    "person": (220, 120, 100),
    "background": (100, 100, 100),
}
UNKNOWN_COLOR = (128, 128, 128)


def label_colors(labels: np.ndarray, label_names: tuple[str, ...] | list[str]) -> np.ndarray:
    """(N, 3) uint8 colours for label ids (N,) indexing ``label_names`` (-1: unknown)."""
    table = np.array([LABEL_COLORS.get(name, UNKNOWN_COLOR) for name in label_names] + [UNKNOWN_COLOR], dtype=np.uint8)
    ids = np.where((labels >= 0) & (labels < len(label_names)), labels, len(label_names))
    return table[ids]
