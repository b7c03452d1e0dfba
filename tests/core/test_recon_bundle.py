"""The reconstruction bundle: round trip, atomic writes and errors that name the key."""

import json

import numpy as np
import pytest

from addon.core.recon.bundle import Bundle, BundleError, read_bundle, write_bundle

RNG = np.random.default_rng(1)


def small_bundle(persons: int = 2, frames: int = 6) -> Bundle:
    n = 50
    return Bundle(
        fps=10.0,
        image_size=(64, 48),
        K=np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]]),
        camera_to_world=np.eye(4),
        points=RNG.normal(size=(n, 3)).astype(np.float32),
        colors=RNG.integers(0, 255, (n, 3)).astype(np.uint8),
        point_labels=RNG.integers(-1, 3, n).astype(np.int16),
        mask_labels=["background", "floor", "bed"],
        person_roles=["staff", "patient"][:persons],
        person_tracks=list(range(persons)),
        person_names=[f"P{i}" for i in range(persons)],
        person_betas=RNG.normal(size=(persons, 10)),
        person_global_orient=RNG.normal(size=(persons, frames, 3)),
        person_body_pose=RNG.normal(size=(persons, frames, 23, 3)),
        person_transl=RNG.normal(size=(persons, frames, 3)),
        person_valid=RNG.random((persons, frames)) > 0.2,
        person_actions=RNG.integers(-1, 2, (persons, frames)).astype(np.int32),
        action_names=["walk", "stand"],
        furniture_labels=["bed"],
        furniture_center=np.array([[1.0, 2.0, 0.3]]),
        furniture_size=np.array([[0.9, 2.0, 0.6]]),
        furniture_yaw_deg=np.array([10.0]),
        furniture_points=RNG.normal(size=(7, 3)).astype(np.float32),
        furniture_point_owner=np.zeros(7, np.int32),
        source="unit test",
    )


def test_round_trip_is_exact(tmp_path):
    bundle = small_bundle()
    write_bundle(tmp_path / "b.npz", bundle)
    back = read_bundle(tmp_path / "b.npz")
    for key in ("points", "colors", "point_labels", "K", "person_body_pose", "person_valid", "furniture_points"):
        np.testing.assert_array_equal(getattr(back, key), getattr(bundle, key))
    assert back.person_roles == ["staff", "patient"] and back.person_names == ["P0", "P1"]
    assert back.fps == 10.0 and back.image_size == (64, 48) and back.num_frames == 6
    with np.load(tmp_path / "b.npz", allow_pickle=False) as raw:  # no pickles anywhere
        assert json.loads(str(raw["meta_json"]))["format"] == "isynth-reconstruction"


def rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as raw:
        arrays = {k: raw[k] for k in raw.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"person_body_pose": np.zeros((2, 6, 21, 3))}, r"'person_body_pose' has shape \(2, 6, 21, 3\)"),
        ({"person_transl": None}, r"missing key\(s\) \['person_transl'\]"),
        ({"points": np.full((50, 3), np.nan, np.float32)}, r"'points' contains NaN"),
        ({"meta_json": np.array(json.dumps({"format": "other"}))}, r"'meta_json.format'"),
        ({"point_labels": np.full(50, 9, np.int16)}, r"'point_labels' refers to labels"),
    ],
)
def test_bad_bundles_name_the_key(tmp_path, change, message):
    path = tmp_path / "b.npz"
    write_bundle(path, small_bundle())
    rewrite(path, **change)
    with pytest.raises(BundleError, match=message) as caught:
        read_bundle(path)
    assert "b.npz" in str(caught.value)


def test_unknown_role_and_failed_write_leave_no_file(tmp_path):
    bundle = small_bundle()
    bundle.person_roles = ["doctor", "patient"]
    with pytest.raises(BundleError, match="'meta_json.persons.role' 'doctor'"):
        write_bundle(tmp_path / "b.npz", bundle)
    assert list(tmp_path.iterdir()) == []
