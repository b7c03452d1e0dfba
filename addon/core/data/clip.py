"""The ``Clip``: what every dataset reader returns (1 to 4 people, their texts, maybe a scene)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..motion.motion import Motion
from ..motion.resample import resample

MAX_PERSONS = 4


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and the field or line."""


@dataclass(eq=False)
class Clip:
    """One training sample.

    motions: 1..4 Motions (AMASS convention, Z-up world), one fps and one T for all.
    texts: captions of the whole clip (may be empty: bundles have none).
    scene_points: (N, 3) float32 metres, world, or None.
    source: where it came from, e.g. "humanml3d:000021" (also each Motion's name prefix).
    split: "train", "val", "test" or whatever the reader was asked for.
    label: the clip's action class where the data set names one (the procedural script, e.g.
        "fall_walking"), else "". Prompt anchors group captions by it (``text.anchors``).
    """

    motions: list[Motion]
    texts: list[str] = field(default_factory=list)
    scene_points: np.ndarray | None = None
    source: str = ""
    split: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        self.motions = list(self.motions)
        self.texts = [str(text) for text in self.texts]
        if not 1 <= len(self.motions) <= MAX_PERSONS:
            raise DatasetError(
                f"Clip {self.source!r}: motions: expected 1..{MAX_PERSONS} persons, got {len(self.motions)}"
            )
        first = self.motions[0]
        for index, motion in enumerate(self.motions[1:], start=1):
            if motion.fps != first.fps or motion.num_frames != first.num_frames:
                raise DatasetError(
                    f"Clip {self.source!r}: motions[{index}] has {motion.num_frames} frames at {motion.fps} fps, "
                    f"motions[0] {first.num_frames} at {first.fps}"
                )
        if self.scene_points is not None:
            points = np.asarray(self.scene_points, dtype=np.float32)
            if points.ndim != 2 or points.shape[1] != 3 or not np.isfinite(points).all():
                raise DatasetError(f"Clip {self.source!r}: scene_points: expected finite (N, 3), got {points.shape}")
            self.scene_points = points

    @property
    def num_persons(self) -> int:
        return len(self.motions)

    @property
    def num_frames(self) -> int:
        return self.motions[0].num_frames

    @property
    def fps(self) -> float:
        return self.motions[0].fps


def resample_clip(clip: Clip, fps: float) -> Clip:
    """The same clip at ``fps`` (slerp/lerp over the same time span, :func:`..motion.resample.resample`)."""
    return dataclasses.replace(clip, motions=[resample(motion, fps) for motion in clip.motions])


def read_id_list(path: Path) -> list[str]:
    """Ids, one a line, blank lines and surrounding spaces dropped (split and ignore lists)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read the id list ({error})") from None
    return [line.strip() for line in lines if line.strip()]


def read_text_lines(path: Path) -> list[str]:
    """A UTF-8 text file's lines without line ends; errors name the file."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read ({error})") from None


def load_float_array(path: Path, trailing: tuple[int, ...], what: str) -> np.ndarray:
    """A finite float array of shape (T, *trailing), T >= 1, as float64; no pickles.

    what: names the field in errors, e.g. "joint positions (T, 22, 3)".
    """
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing ({what})") from None
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: not a readable .npy of {what} ({error})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise DatasetError(f"{path}: {what}: expected a numeric array, got {getattr(array, 'dtype', type(array))}")
    if array.ndim != 1 + len(trailing) or tuple(array.shape[1:]) != trailing or len(array) < 1:
        want = "(T, " + ", ".join(str(n) for n in trailing) + ")"
        raise DatasetError(f"{path}: {what}: expected shape {want}, got {array.shape}")
    array = array.astype(np.float64)
    finite = np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if not finite.all():
        raise DatasetError(f"{path}: {what}: non-finite value at frame {int(np.argmin(finite))}")
    return array
