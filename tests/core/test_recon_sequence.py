"""The Teton sequence reader and writer (docs/teton_sequence.md): round trips and every rejection."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from addon.core.camera import intrinsics_from_fov
from addon.core.recon.sequence import (
    DEFAULT_HORIZONTAL_FOV_DEG,
    Detections,
    Intrinsics,
    KeyFrameDepth,
    SequenceError,
    SequenceMeta,
    read_sequence,
    write_sequence,
)

W, H = 16, 12
KEY_FRAMES = (0, 10)


def tiny_meta(**changes) -> SequenceMeta:
    fields = dict(
        format="teton-sequence", version=1, fps=10.0, num_frames=20, image_size=(W, H),
        intrinsics=Intrinsics(fx=12.0, fy=12.5, cx=8.0, cy=6.0), key_frames=KEY_FRAMES,
        class_names=("person", "staff", "patient"), mask_labels=("background", "floor", "bed", "person"),
        action_names=("stand", "walk"),
    )
    fields.update(changes)
    return SequenceMeta(**fields)


def tiny_detections(rng: np.random.Generator, n: int = 5) -> Detections:
    keypoints = rng.uniform(0, 10, (n, 17, 3)).astype(np.float32)
    keypoints[..., 2] = rng.uniform(0, 1, (n, 17))
    x0 = rng.uniform(0, 5, (n, 2))
    return Detections(
        frame=np.arange(n, dtype=np.int32) * 3,
        track_id=np.array([1, -1, 2, 1, 2][:n], dtype=np.int32),
        class_id=rng.integers(0, 3, n).astype(np.int32),
        bbox=np.concatenate([x0, x0 + 4], axis=1).astype(np.float32),
        keypoints=keypoints,
        action_id=np.array([0, 1, -1, 0, 1][:n], dtype=np.int32),
        global_orient=rng.normal(size=(n, 3)).astype(np.float32),
        body_pose=rng.normal(0, 0.2, (n, 23, 3)).astype(np.float32),
        betas=rng.normal(size=(n, 10)).astype(np.float32),
        cam_t=np.concatenate([rng.normal(size=(n, 2)), rng.uniform(2, 5, (n, 1))], axis=1).astype(np.float32),
    )


def tiny_maps(rng: np.random.Generator):
    depth = {
        k: KeyFrameDepth(
            metric=rng.uniform(1, 5, (3, 4)).astype(np.float32),
            disparity=rng.uniform(0.1, 1, (H, W)).astype(np.float32),
        )
        for k in KEY_FRAMES
    }
    masks = {k: rng.integers(0, 4, (H, W)).astype(np.uint8) for k in KEY_FRAMES}
    return depth, masks


@pytest.fixture
def written(tmp_path):
    """A valid tiny sequence on disk and what was written."""
    rng = np.random.default_rng(7)
    meta, detections = tiny_meta(), tiny_detections(rng)
    depth, masks = tiny_maps(rng)
    folder = write_sequence(tmp_path / "seq", meta, detections, depth, masks)
    return folder, meta, detections, depth, masks


def test_round_trip_is_exact(written):
    folder, meta, detections, depth, masks = written
    sequence = read_sequence(folder)
    assert sequence.meta == meta
    for key, value in detections.arrays().items():
        read = getattr(sequence.detections, key)
        assert read.dtype == value.dtype and np.array_equal(read, value), key
    for k in KEY_FRAMES:
        assert np.array_equal(sequence.metric_depth(k), depth[k].metric)
        assert np.array_equal(sequence.disparity(k), depth[k].disparity)
        assert np.array_equal(sequence.mask(k), masks[k])
    assert sequence.metric_shape == (3, 4)
    assert np.allclose(sequence.intrinsics(), [[12.0, 0, 8.0], [0, 12.5, 6.0], [0, 0, 1]])
    assert sequence.ground_truth() is None
    with pytest.raises(ValueError, match="not a key frame"):
        sequence.mask(3)
    # Nothing but the sequence itself is left next to it.
    assert sorted(p.name for p in folder.parent.iterdir()) == ["seq"]


def test_missing_intrinsics_use_the_default_field_of_view(tmp_path):
    rng = np.random.default_rng(1)
    depth, masks = tiny_maps(rng)
    folder = write_sequence(tmp_path / "s", tiny_meta(intrinsics=None), tiny_detections(rng), depth, masks)
    assert json.loads((folder / "sequence.json").read_text())["intrinsics"] is None
    K = read_sequence(folder).intrinsics()
    assert DEFAULT_HORIZONTAL_FOV_DEG == 90.0
    assert np.allclose(K, intrinsics_from_fov(W, H, 90.0)) and K[0, 0] == pytest.approx(W / 2)


def test_writer_refuses_existing_folders_and_replaces_on_request(written):
    folder, meta, detections, depth, masks = written
    with pytest.raises(FileExistsError):
        write_sequence(folder, meta, detections, depth, masks)
    smaller = detections.select(np.array([0, 2]))
    write_sequence(folder, meta, smaller, depth, masks, overwrite=True)
    assert len(read_sequence(folder).detections) == 2
    assert sorted(p.name for p in folder.parent.iterdir()) == ["seq"]


def test_writer_checks_before_and_leaves_nothing_behind(tmp_path):
    rng = np.random.default_rng(2)
    depth, masks = tiny_maps(rng)
    del masks[10]
    with pytest.raises(SequenceError, match=r"masks/: one entry per key frame"):
        write_sequence(tmp_path / "s", tiny_meta(), tiny_detections(rng), depth, masks)
    depth, masks = tiny_maps(rng)
    masks[10] = masks[10].astype(np.int64)  # caught when the scratch copy is read back
    with pytest.raises(SequenceError, match=r"masks/10.npy: has dtype int64, expected uint8"):
        write_sequence(tmp_path / "s", tiny_meta(), tiny_detections(rng), depth, masks)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# Every kind of bad input names the file and the field.
# ---------------------------------------------------------------------------


def _edit_json(folder: Path, **changes) -> None:
    path = folder / "sequence.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is _DELETE:
            del data[key]
        else:
            data[key] = value
    path.write_text(json.dumps(data))


_DELETE = object()


def _edit_detections(folder: Path, key: str, value) -> None:
    """Replace (value: array or function of the old one) or delete one key of detections.npz.

    np.savez pickles object arrays without asking: that is what a hostile file looks like.
    """
    path = folder / "detections.npz"
    with np.load(path) as archive:
        arrays = dict(archive)
    if value is _DELETE:
        del arrays[key]
    else:
        arrays[key] = value(arrays[key]) if callable(value) else value
    np.savez(path, **arrays)


def _set(array: np.ndarray, index, value) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


JSON_CASES = [
    (dict(format="teton"), "'format'"),
    (dict(version=2), "'version'"),
    (dict(version=True), "'version'"),
    (dict(fps=0), "'fps'"),
    (dict(fps=float("nan")), "'fps'"),
    (dict(num_frames=20.0), "'num_frames'"),
    (dict(num_frames=True), "'num_frames'"),
    (dict(image_size=[16]), "'image_size'"),
    (dict(image_size=[16, -12]), "'image_size'"),
    (dict(intrinsics={"fx": 1.0, "fy": 1.0, "cx": 1.0}), "'intrinsics'"),
    (dict(intrinsics={"fx": -1.0, "fy": 1.0, "cx": 1.0, "cy": 1.0}), "'intrinsics.fx'"),
    (dict(intrinsics={"fx": 1.0, "fy": 1.0, "cx": "8", "cy": 1.0}), "'intrinsics.cx'"),
    (dict(key_frames=[10, 0]), "'key_frames'"),
    (dict(key_frames=[0, 0, 10]), "'key_frames'"),
    (dict(key_frames=[0, 20]), "'key_frames' has frame 20"),
    (dict(class_names=["person", "doctor"]), "'class_names' has 'doctor'"),
    (dict(class_names=["person", "person"]), "'class_names' has repeated"),
    (dict(mask_labels=["background", "bed", "person", "wall"]), "'mask_labels' must contain 'floor'"),
    (dict(mask_labels="floor"), "'mask_labels'"),
    (dict(action_names=[1, 2]), "'action_names'"),
    (dict(action_names=_DELETE), "missing field 'action_names'"),
    (dict(colour="red"), "unknown field 'colour'"),
]


@pytest.mark.parametrize("changes, field", JSON_CASES)
def test_bad_sequence_json_names_the_field(written, changes, field):
    folder = written[0]
    _edit_json(folder, **changes)
    with pytest.raises(SequenceError) as error:
        read_sequence(folder)
    message = str(error.value)
    assert message.startswith("sequence.json: ") and field in message, message


def test_unreadable_json_and_missing_files(written):
    folder = written[0]
    (folder / "sequence.json").write_text("{not json")
    with pytest.raises(SequenceError, match=r"^sequence.json: not valid JSON"):
        read_sequence(folder)
    (folder / "sequence.json").unlink()
    with pytest.raises(SequenceError, match=r"^sequence.json: missing"):
        read_sequence(folder)


DETECTION_CASES = [
    ("body_pose", lambda a: a[:, :21], r"'body_pose' has shape \(5, 21, 3\), expected \(N, 23, 3\)"),
    ("frame", lambda a: a[:, None], r"'frame' must be an \(N,\) int32 array"),
    ("bbox", lambda a: a[:4], r"'bbox' has shape \(4, 4\), expected \(N, 4\)"),
    ("cam_t", lambda a: a.astype(np.float64), r"'cam_t' has dtype float64, expected float32"),
    ("track_id", lambda a: a.astype(np.int64), r"'track_id' has dtype int64, expected int32"),
    ("cam_t", lambda a: _set(a, (2, 0), np.nan), r"'cam_t' has a non-finite value \(NaN or inf\) at row 2"),
    ("keypoints", lambda a: _set(a, (1, 3, 0), np.inf), r"'keypoints' has a non-finite value .* at row 1"),
    ("frame", lambda a: _set(a, 3, 20), r"'frame' has value 20 at row 3, expected 0 <= frame < 20 \(num_frames\)"),
    ("frame", lambda a: _set(a, 0, -1), r"'frame' has value -1 at row 0"),
    ("class_id", lambda a: _set(a, 4, 3), r"'class_id' has value 3 at row 4, expected 0 <= class_id < 3"),
    ("action_id", lambda a: _set(a, 1, 2), r"'action_id' has value 2 at row 1"),
    ("action_id", lambda a: _set(a, 1, -2), r"'action_id' has value -2 at row 1"),
    ("track_id", lambda a: _set(a, 1, -3), r"'track_id' has value -3 at row 1"),
    ("keypoints", lambda a: _set(a, (0, 0, 2), 1.5), r"'keypoints' confidence outside \[0, 1\] at row 0"),
    ("bbox", lambda a: _set(a, (2, 2), -10.0), r"'bbox' row 2 .* expected x0 <= x1"),
    ("cam_t", lambda a: _set(a, (3, 2), -1.0), r"'cam_t' row 3 has z = -1.0, expected > 0"),
    ("frame", lambda a: _set(a, 3, 0), r"'track_id' 1 has more than one row in frame 0"),
    ("betas", _DELETE, r"missing key 'betas'"),
]


@pytest.mark.parametrize("key, change, pattern", DETECTION_CASES)
def test_bad_detections_name_the_key(written, key, change, pattern):
    folder = written[0]
    _edit_detections(folder, key, change)
    with pytest.raises(SequenceError, match=r"^detections.npz: " + pattern):
        read_sequence(folder)


def test_unknown_detection_key_is_rejected(written):
    folder = written[0]
    with np.load(folder / "detections.npz") as archive:
        arrays = dict(archive)
    np.savez(folder / "detections.npz", score=np.ones(5, np.float32), **arrays)
    with pytest.raises(SequenceError, match=r"^detections.npz: unknown key 'score'"):
        read_sequence(folder)


def test_pickled_object_arrays_are_refused_not_loaded(written):
    folder = written[0]
    hostile = np.empty(5, dtype=object)
    hostile[:] = [1, 2, 3, 4, 5]
    _edit_detections(folder, "track_id", hostile)
    with pytest.raises(SequenceError, match=r"^detections.npz: 'track_id' cannot be read without unpickling"):
        read_sequence(folder)


def test_pickled_key_frame_files_are_refused_not_loaded(written):
    folder = written[0]
    np.save(folder / "masks" / "0.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SequenceError, match=r"^masks/0.npy: cannot be read as a .npy array without unpickling"):
        read_sequence(folder)


KEY_FRAME_CASES = [
    ("depth/10_metric.npy", None, r"^depth/10_metric.npy: missing"),
    ("depth/0_disparity.npy", None, r"^depth/0_disparity.npy: missing"),
    ("masks/10.npy", None, r"^masks/10.npy: missing"),
    ("depth/0_metric.npy", lambda a: _set(a, (1, 2), np.nan), r"^depth/0_metric.npy: non-finite depth .* pixel \(u=2, v=1\)"),
    ("depth/0_metric.npy", lambda a: _set(a, (0, 0), 0.0), r"^depth/0_metric.npy: depth 0.0 <= 0 m"),
    ("depth/10_metric.npy", lambda a: a[:2], r"^depth/10_metric.npy: has shape \(2, 4\), expected \(h, w\) as in the other key frames"),
    ("depth/0_metric.npy", lambda a: a.astype(np.float64), r"^depth/0_metric.npy: has dtype float64, expected float32"),
    ("depth/10_disparity.npy", lambda a: a.T, r"^depth/10_disparity.npy: has shape \(16, 12\), expected \(H, W\) = \(12, 16\)"),
    ("depth/10_disparity.npy", lambda a: _set(a, (5, 6), np.inf), r"^depth/10_disparity.npy: non-finite disparity"),
    ("masks/0.npy", lambda a: _set(a, (3, 4), 4), r"^masks/0.npy: label id 4 at pixel \(u=4, v=3\) is out of range, expected < 4"),
    ("masks/10.npy", lambda a: a.astype(np.int32), r"^masks/10.npy: has dtype int32, expected uint8"),
    ("masks/10.npy", lambda a: a[None], r"^masks/10.npy: has shape \(1, 12, 16\)"),
]


@pytest.mark.parametrize("name, change, pattern", KEY_FRAME_CASES)
def test_bad_key_frame_files_name_the_file(written, name, change, pattern):
    folder = written[0]
    path = folder / name
    if change is None:
        path.unlink()
    else:
        np.save(path, change(np.load(path)))
    with pytest.raises(SequenceError, match=pattern):
        read_sequence(folder)


def test_reader_needs_a_folder(tmp_path):
    with pytest.raises(SequenceError, match="not a sequence folder"):
        read_sequence(tmp_path / "nowhere")
    os.makedirs(tmp_path / "empty")
    with pytest.raises(SequenceError, match=r"^sequence.json: missing"):
        read_sequence(tmp_path / "empty")


def test_a_sequence_without_detections_round_trips(tmp_path):
    depth, masks = tiny_maps(np.random.default_rng(3))
    folder = write_sequence(tmp_path / "s", tiny_meta(), Detections.empty(), depth, masks)
    detections = read_sequence(folder).detections
    assert len(detections) == 0 and detections.body_pose.shape == (0, 23, 3) and detections.frame.dtype == np.int32
