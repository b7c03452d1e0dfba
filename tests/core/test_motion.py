"""Motion container, AMASS .npz read/write and resampling, checked by value.

AMASS itself is licensed and never available here, so every file is written by
the tests, with plain ``np.savez`` in the layouts AMASS and its tools ship.
"""

import os
import pickle

import numpy as np
import pytest

from addon.core import rotations as rot
from addon.core.motion.amass import MotionFileError, read_amass_npz, write_amass_npz
from addon.core.motion.motion import Motion, MotionError
from addon.core.motion.resample import resample

RNG = np.random.default_rng(11)


def random_motion(T=12, hands=False, with_labels=True, fps=30.0, **overrides):
    body_pose = RNG.normal(size=(T, 23, 3)) * 0.5
    if hands:
        body_pose[:, 21:] = 0.0  # SMPL-H has no joints 22/23
    fields = dict(
        global_orient=RNG.normal(size=(T, 3)),
        body_pose=body_pose,
        transl=RNG.normal(size=(T, 3)),
        betas=RNG.normal(size=16),
        fps=fps,
        role="staff",
        gender="female",
        hand_pose=RNG.normal(size=(T, 30, 3)) * 0.3 if hands else None,
        labels=RNG.integers(-1, 5, size=T).astype(np.int32) if with_labels else None,
        name="clip_007 ward B",
    )
    fields.update(overrides)
    return Motion(**fields)


def assert_identical(a: Motion, b: Motion):
    for field in ("global_orient", "body_pose", "transl", "betas", "hand_pose", "labels"):
        x, y = getattr(a, field), getattr(b, field)
        if x is None or y is None:
            assert x is None and y is None, field
            continue
        assert x.dtype == y.dtype and x.shape == y.shape, field
        assert np.array_equal(x, y), field  # bit-identical, not approximately equal
    assert (a.fps, a.role, a.gender, a.name) == (b.fps, b.role, b.gender, b.name)


def rz(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, -s, np.zeros_like(c)], -1), np.stack([s, c, np.zeros_like(c)], -1),
                     np.broadcast_to([0.0, 0.0, 1.0], (*np.shape(angle), 3))], -2)


# -- the container -------------------------------------------------------------------


def test_motion_coerces_lists_and_derives_poses():
    T = 4
    m = Motion([[0.1, 0.2, 0.3]] * T, np.zeros((T, 23, 3), np.float32).tolist(), [[0, 0, 1]] * T, [0] * 10, 20,
               labels=[0, 1, -1, 2])
    assert m.global_orient.dtype == m.body_pose.dtype == m.transl.dtype == m.betas.dtype == np.float64
    assert m.labels.dtype == np.int32 and m.fps == 20.0 and isinstance(m.fps, float)
    assert m.num_frames == 4 and m.duration_s == pytest.approx(3 / 20)
    m2 = random_motion(T=5)
    poses = m2.poses_72()
    assert poses.shape == (5, 72)
    np.testing.assert_array_equal(poses[:, :3], m2.global_orient)
    np.testing.assert_array_equal(poses[:, 3 + 3 * 17 : 6 + 3 * 17], m2.body_pose[:, 17])  # joint 18 = body_pose[17]
    local = m2.local_rotations()
    assert local.shape == (5, 24, 3, 3)
    np.testing.assert_allclose(local[:, 0], rot.axis_angle_to_matrix(m2.global_orient), atol=1e-15)
    np.testing.assert_allclose(local[:, 23], rot.axis_angle_to_matrix(m2.body_pose[:, 22]), atol=1e-15)


def test_motion_copies_inputs_and_copy_is_deep():
    transl = np.zeros((3, 3))
    m = Motion(np.zeros((3, 3)), np.zeros((3, 23, 3)), transl, np.zeros(10), 30.0)
    transl[0, 0] = 5.0
    assert m.transl[0, 0] == 0.0  # the constructor copied
    c = m.copy()
    c.body_pose[0, 0, 0] = 1.0
    assert m.body_pose[0, 0, 0] == 0.0


def test_slice_keeps_every_per_frame_field():
    m = random_motion(T=10, hands=True)
    s = m.slice(2, -3)
    assert s.num_frames == 5
    np.testing.assert_array_equal(s.body_pose, m.body_pose[2:7])
    np.testing.assert_array_equal(s.hand_pose, m.hand_pose[2:7])
    np.testing.assert_array_equal(s.labels, m.labels[2:7])
    np.testing.assert_array_equal(s.betas, m.betas)
    assert (s.fps, s.role, s.name) == (m.fps, m.role, m.name)
    with pytest.raises(MotionError, match=r"slice\(5, 5\).*empty"):
        m.slice(5, 5)


@pytest.mark.parametrize(
    "override, pattern",
    [
        (dict(body_pose=np.zeros((6, 21, 3))), r"body_pose: expected shape \(T, 23, 3\) = \(6, 23, 3\).*got \(6, 21, 3\)"),
        (dict(global_orient=np.zeros((5, 3))), r"global_orient: .*got \(5, 3\)"),
        (dict(hand_pose=np.zeros((6, 15, 3))), r"hand_pose: .*got \(6, 15, 3\)"),
        (dict(betas=np.zeros((1, 10))), r"betas: expected shape \(S,\), got \(1, 10\)"),
        (dict(labels=np.zeros(5, np.int32)), r"labels: expected shape \(6,\)"),
        (dict(labels=np.zeros(6)), r"labels: expected integer"),
        (dict(labels=np.full(6, -2)), r"labels: ids must be >= -1"),
        (dict(transl=np.where(np.arange(6)[:, None] == 4, np.nan, np.zeros((6, 3)))), r"transl: non-finite .* frame 4"),
        (dict(fps=0.0), r"fps: expected a finite number > 0, got 0.0"),
        (dict(fps=float("nan")), r"fps: expected a finite number > 0"),
        (dict(fps="30"), r"fps: expected a number, got str"),
        (dict(role="doctor"), r"role: expected one of \('staff', 'patient', 'person'\), got 'doctor'"),
        (dict(gender="Male"), r"gender: .*got 'Male'"),
        (dict(body_pose=[["a"] * 3] * 23), r"body_pose: cannot be read as float64"),
    ],
)
def test_validation_names_the_field(override, pattern):
    with pytest.raises(MotionError, match=pattern) as caught:
        random_motion(T=6, with_labels=False, **override)
    assert "clip_007 ward B" in str(caught.value)  # the motion is named too


def test_validate_catches_fields_changed_after_construction():
    m = random_motion(T=6)
    m.body_pose = m.body_pose[:, :21]
    with pytest.raises(MotionError, match=r"body_pose"):
        m.validate()


# -- AMASS files ---------------------------------------------------------------------


@pytest.mark.parametrize("hands", [False, True], ids=["smpl72", "smplh156"])
def test_write_read_round_trip_is_bit_identical(tmp_path, hands):
    motion = random_motion(T=37, hands=hands, fps=59.94)
    path = tmp_path / "clip.npz"
    write_amass_npz(path, motion)
    assert_identical(read_amass_npz(path), motion)
    with np.load(path, allow_pickle=False) as raw:  # what other SMPL tools will see
        assert raw["poses"].shape == (37, 156 if hands else 72)
        assert raw["mocap_framerate"].shape == () and float(raw["mocap_framerate"]) == 59.94
        assert float(raw["mocap_frame_rate"]) == 59.94
        assert raw["gender"].dtype.kind == "U" and str(raw["gender"]) == "female"
        assert str(raw["role"]) == "staff" and str(raw["name"]) == "clip_007 ward B"
        np.testing.assert_array_equal(raw["trans"], motion.transl)
        if hands:
            np.testing.assert_array_equal(raw["poses"][:, 66:].reshape(37, 30, 3), motion.hand_pose)


def test_round_trip_without_labels_and_default_role(tmp_path):
    motion = random_motion(T=3, with_labels=False, role="person", name="")
    write_amass_npz(tmp_path / "a.npz", motion)
    back = read_amass_npz(tmp_path / "a.npz")
    assert back.labels is None and back.role == "person" and back.name == ""
    assert_identical(back, motion)


def test_reads_amass_smplh_as_shipped(tmp_path):
    T = 8
    poses = RNG.normal(size=(T, 156))
    poses[:, :3] = [np.pi / 2, 0.0, 0.0]  # standing upright in the Z-up world
    trans, betas = RNG.normal(size=(T, 3)), RNG.normal(size=16)
    path = tmp_path / "B1_-_stand_poses.npz"
    np.savez(path, poses=poses, trans=trans, betas=betas, mocap_framerate=np.array(120.0),
             gender=np.array("male"), dmpls=RNG.normal(size=(T, 8)))
    m = read_amass_npz(path)
    assert (m.num_frames, m.fps, m.gender, m.role, m.name, m.labels) == (T, 120.0, "male", "person", "", None)
    np.testing.assert_array_equal(m.global_orient, poses[:, :3])
    np.testing.assert_array_equal(m.body_pose[:, :21].reshape(T, 63), poses[:, 3:66])
    np.testing.assert_array_equal(m.body_pose[:, 21:], 0.0)  # SMPL joints 22/23 do not exist in SMPL-H
    np.testing.assert_array_equal(m.hand_pose[:, :15].reshape(T, 45), poses[:, 66:111])  # left hand first
    np.testing.assert_array_equal(m.hand_pose[:, 15:].reshape(T, 45), poses[:, 111:])
    np.testing.assert_array_equal(m.transl, trans)
    np.testing.assert_array_equal(m.betas, betas)  # all 16 kept
    # No axis conversion: the template's up (+Y) lands on the world's up (+Z).
    np.testing.assert_allclose(m.local_rotations()[0, 0] @ [0.0, 1.0, 0.0], [0, 0, 1], atol=1e-15)


def test_reads_smpl72_with_bytes_gender_and_only_mocap_frame_rate(tmp_path):
    T = 5
    poses = RNG.normal(size=(T, 72)).astype(np.float32)  # some tools store float32
    path = tmp_path / "smpl.npz"
    np.savez(path, poses=poses, trans=np.zeros((T, 3)), betas=np.zeros(10), mocap_frame_rate=np.array(30),
             gender=np.array(b" Female "))
    m = read_amass_npz(path)
    assert (m.fps, m.gender, m.hand_pose, m.betas.shape) == (30.0, "female", None, (10,))
    np.testing.assert_array_equal(m.body_pose.reshape(T, 69), poses[:, 3:].astype(np.float64))


def test_reads_the_amass_processed_layout(tmp_path):
    T = 6
    root, body, hand = RNG.normal(size=(T, 3)), RNG.normal(size=(T, 63)), RNG.normal(size=(T, 90))
    trans = RNG.normal(size=(T, 3))
    path = tmp_path / "processed.npz"
    np.savez(path, root_orient=root, pose_body=body, pose_hand=hand, trans=trans, betas=np.ones(16),
             gender=np.array("neutral"), mocap_frame_rate=np.array(60.0))
    m = read_amass_npz(path)
    np.testing.assert_array_equal(m.global_orient, root)
    np.testing.assert_array_equal(m.body_pose[:, :21].reshape(T, 63), body)
    np.testing.assert_array_equal(m.body_pose[:, 21:], 0.0)
    np.testing.assert_array_equal(m.hand_pose.reshape(T, 90), hand)
    assert (m.fps, m.gender) == (60.0, "neutral")
    # Without pose_hand: no hands.
    np.savez(path, root_orient=root, pose_body=body, trans=trans, betas=np.ones(16), gender=np.array("male"),
             mocap_frame_rate=np.array(60.0))
    assert read_amass_npz(path).hand_pose is None


def _amass(T=10, **changes):
    keys = dict(poses=np.zeros((T, 156)), trans=np.zeros((T, 3)), betas=np.zeros(16),
                mocap_framerate=np.array(120.0), gender=np.array("female"), dmpls=np.zeros((T, 8)))
    keys.update(changes)
    return {k: v for k, v in keys.items() if v is not None}


def _nan_in_frame_5():
    trans = np.zeros((10, 3))
    trans[5, 2] = np.nan
    return trans


@pytest.mark.parametrize(
    "keys, fragments",
    [
        (_amass(trans=None), ["missing key 'trans'"]),
        (_amass(poses=np.zeros((10, 70))), ["'poses'", "(10, 70)", "(T, 72)", "(T, 156)"]),
        (_amass(trans=_nan_in_frame_5()), ["'trans'", "NaN", "frame 5"]),
        (_amass(trans=np.zeros((9, 3))), ["'trans'", "9 frames", "'poses' has 10", "mismatch"]),
        (_amass(gender=np.array("robot")), ["'gender'", "'robot'"]),
        (_amass(gender=None), ["missing key 'gender'"]),
        (_amass(betas=np.array([{"evil": 1}], dtype=object)), ["'betas'", "pickle"]),
        (_amass(mocap_framerate=np.array(-30.0)), ["'mocap_framerate'", "> 0", "-30"]),
        (_amass(mocap_framerate=None), ["'mocap_framerate'", "'mocap_frame_rate'", "missing"]),
        (_amass(mocap_frame_rate=np.array(60.0)), ["disagree"]),
        (_amass(poses=np.zeros((10, 72), dtype="<U3")), ["'poses'", "expected numbers"]),
        (_amass(labels=np.zeros(9, np.int32)), ["'labels'", "(10,)"]),
        (_amass(role=np.array("nurse")), ["'role'", "'nurse'"]),
        ({k: v for k, v in _amass(poses=None).items()}, ["missing key 'poses'", "root_orient"]),
        (dict(root_orient=np.zeros((4, 3)), pose_body=np.zeros((4, 60)), trans=np.zeros((4, 3))),
         ["'pose_body'", "(T, 63)", "(4, 60)"]),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path, keys, fragments):
    path = tmp_path / "bad_take.npz"
    np.savez(path, **keys)
    with pytest.raises(MotionFileError) as caught:
        read_amass_npz(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert isinstance(caught.value, ValueError)


def test_a_file_that_is_not_an_npz(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(MotionFileError, match="notes.npz"):
        read_amass_npz(path)
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(pickle.dumps({"poses": np.zeros((3, 72))}))
    with pytest.raises(MotionFileError, match=r"pickled\.npz.*pickled data"):
        read_amass_npz(pickled)
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(MotionFileError, match=r"single\.npy.*single array"):
        read_amass_npz(tmp_path / "single.npy")


def test_write_uses_the_exact_name_and_refuses_lossy_smplh(tmp_path):
    motion = random_motion(T=4)
    write_amass_npz(tmp_path / "take.motion", motion)  # np.savez alone would add ".npz"
    assert sorted(os.listdir(tmp_path)) == ["take.motion"]
    lossy = random_motion(T=4, hands=True)
    lossy.body_pose[:, 22] = 0.1
    with pytest.raises(MotionFileError, match=r"lossy\.npz.*body_pose joints 22/23"):
        write_amass_npz(tmp_path / "lossy.npz", lossy)
    broken = random_motion(T=4)
    broken.fps = -1.0
    with pytest.raises(MotionFileError, match=r"broken\.npz.*fps"):
        write_amass_npz(tmp_path / "broken.npz", broken)
    assert sorted(os.listdir(tmp_path)) == ["take.motion"]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "clip.npz"
    write_amass_npz(path, random_motion(T=5))
    before = path.read_bytes()
    real_savez = np.savez

    def savez_that_dies_midway(file, **arrays):
        real_savez(file, **arrays)
        file.truncate(100)  # a half-written archive, then the disk "fills up"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_that_dies_midway)
    with pytest.raises(OSError, match="No space left"):
        write_amass_npz(path, random_motion(T=50))
    with pytest.raises(OSError, match="No space left"):
        write_amass_npz(tmp_path / "new.npz", random_motion(T=50))
    assert path.read_bytes() == before  # the old file is untouched ...
    assert sorted(os.listdir(tmp_path)) == ["clip.npz"]  # ... and no temporary file is left
    monkeypatch.undo()
    assert read_amass_npz(path).num_frames == 5


# -- resampling ----------------------------------------------------------------------

OMEGA = np.array([2.5] + [0.7 + 0.3 * j for j in range(23)])  # rad/s per joint
AXES = rot.quaternion_to_axis_angle(rot.axis_angle_to_quaternion(RNG.normal(size=(24, 3))))
AXES = AXES / np.linalg.norm(AXES, axis=-1, keepdims=True)
AXES[0] = [0.0, 0.0, 1.0]  # the root turns about world Z
OFFSET = rot.axis_angle_to_matrix(RNG.normal(size=(24, 3)))  # a fixed rotation each joint starts from


def analytic_rotations(t):
    """(N, 24, 3, 3): joint j at OFFSET_j exp(t omega_j axis_j), constant angular velocity."""
    spin = rot.axis_angle_to_matrix(t[:, None, None] * OMEGA[None, :, None] * AXES[None])
    return OFFSET @ spin


def analytic_motion(fps, seconds):
    t = np.arange(int(round(seconds * fps)) + 1) / fps
    aa = rot.matrix_to_axis_angle(analytic_rotations(t))
    transl = np.array([0.3, -1.0, 0.9]) + t[:, None] * np.array([1.2, 0.4, -0.05])
    labels = np.arange(len(t), dtype=np.int32)
    return Motion(aa[:, 0], aa[:, 1:], transl, np.zeros(10), fps, labels=labels, name="spin")


@pytest.mark.parametrize("src, dst, frames", [(120, 30, 31), (120, 50, 51), (30, 60, 61), (24, 25, 26)])
def test_resample_matches_the_analytic_motion(src, dst, frames):
    out = resample(analytic_motion(src, 1.0), dst)
    t = np.arange(frames) / dst
    assert out.num_frames == frames and out.fps == float(dst)
    np.testing.assert_allclose(out.local_rotations(), analytic_rotations(t), atol=1e-9, rtol=0)
    np.testing.assert_allclose(out.transl, np.array([0.3, -1.0, 0.9]) + t[:, None] * [1.2, 0.4, -0.05], atol=1e-9, rtol=0)
    # Labels come from the nearest source frame (the source labels are frame indices).
    np.testing.assert_array_equal(out.labels, np.floor(t * src + 0.5 + 1e-9).astype(int))
    assert out.name == "spin" and out.betas.shape == (10,)


def test_resample_frame_counts_and_span():
    m = random_motion(T=31, fps=30.0)
    assert resample(m, 60).num_frames == 2 * 31 - 1
    assert resample(m, 7).num_frames == 8  # 1 s at 7 fps: k = 0..7
    assert resample(m, 4.5).num_frames == 5  # floor(4.5) + 1, never past the source's last frame
    assert resample(random_motion(T=1), 60).num_frames == 1


def test_coincident_frames_keep_their_stored_values():
    m = analytic_motion(120, 1.0)  # root angle reaches 2.5 rad, joints exceed pi
    out = resample(m, 30)
    np.testing.assert_array_equal(out.global_orient, m.global_orient[::4])
    np.testing.assert_array_equal(out.body_pose, m.body_pose[::4])
    np.testing.assert_array_equal(out.transl, m.transl[::4])


def test_slerp_takes_the_short_way_across_a_sign_flip():
    degrees = np.deg2rad
    # 170 deg and -170 deg about Z: quaternions (w >= 0) with a negative dot product.
    global_orient = np.array([[0.0, 0.0, degrees(170)], [0.0, 0.0, -degrees(170)]])
    q = rot.axis_angle_to_quaternion(global_orient)
    assert (q[0] * q[1]).sum() < 0
    m = Motion(global_orient, np.zeros((2, 23, 3)), np.zeros((2, 3)), np.zeros(10), 10.0)
    out = resample(m, 40)
    expected = rz(degrees(np.array([170, 175, 180, 185, 190])))  # through 180, not through 0
    np.testing.assert_allclose(out.local_rotations()[:, 0], expected, atol=1e-12)


def test_identity_resampling_is_an_exact_copy():
    m = random_motion(T=9, hands=True)
    out = resample(m, 30)
    assert out is not m and out.body_pose is not m.body_pose
    assert_identical(out, m)


def test_hands_are_slerped_like_the_body():
    m = random_motion(T=3, hands=True, fps=10.0)
    m.hand_pose[:] = m.hand_pose[0]  # a held hand pose stays exactly that pose
    out = resample(m, 20)
    assert out.hand_pose.shape == (5, 30, 3)
    np.testing.assert_allclose(rot.axis_angle_to_matrix(out.hand_pose),
                               np.broadcast_to(rot.axis_angle_to_matrix(m.hand_pose[0]), (5, 30, 3, 3)), atol=1e-12)


def test_long_resample_runs_vectorised():
    m = random_motion(T=3000, hands=True, fps=120.0)
    out = resample(m, 50)
    assert out.num_frames == int(2999 / 120 * 50) + 1
    # Frame 7 at t = 0.14 s lies 0.8 of the way from source frame 16 to 17.
    expected = (0.2 * m.transl[16] + 0.8 * m.transl[17])
    np.testing.assert_allclose(out.transl[7], expected, atol=1e-12)


@pytest.mark.parametrize("fps", [0, -30, float("inf"), float("nan")])
def test_resample_rejects_bad_fps(fps):
    with pytest.raises(MotionError, match="fps"):
        resample(random_motion(T=3), fps)
