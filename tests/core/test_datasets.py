"""Dataset readers (HumanML3D, InterHuman, bundles), analytic IK and mirroring, checked by value.

The real data sets are licensed and never here: every test writes a tiny folder in
the official layout itself, from FK of random smooth motions on a plausible skeleton.
"""

import numpy as np
import pytest

from addon.core import rotations as rot
from addon.core.axes import points_z_up_to_y_up
from addon.core.data.bundles import read_bundle_clips, visibility_runs
from addon.core.data.clip import Clip, DatasetError
from addon.core.data.humanml3d import read_captions, read_humanml3d
from addon.core.data.interhuman import read_interhuman
from addon.core.motion.joint_ik import fit_local_rotations
from addon.core.data.mirror import mirror_clip, mirror_motion, mirror_text
from addon.core.motion.motion import Motion
from addon.core.recon.bundle import Bundle, write_bundle
from addon.core.skeleton import MIRROR, PARENTS, forward_kinematics
from helpers.tiny_smpl import SKELETON_Y_UP

REFLECT = np.diag([-1.0, 1.0, 1.0])
# The helper skeleton made exactly left/right symmetric (its head is 1 cm off-centre):
# rest[j] = (rest[j] + M rest[mirror(j)]) / 2, so rest[mirror(j)] = M rest[j].
REST = (SKELETON_Y_UP + SKELETON_Y_UP[list(MIRROR)] @ REFLECT) / 2


def smooth_motion(seed: int, T: int, fps: float, amplitude: float = 0.6, name: str = "") -> Motion:
    """A random smooth motion of a person standing upright in the Z-up world, walking along x."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None] / fps
    frequency = rng.uniform(0.3, 1.2, (1, 24, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, 24, 3))
    pose = rng.uniform(-amplitude, amplitude, (1, 24, 3)) * np.sin(2 * np.pi * frequency * t + phase)
    upright = rot.axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))
    turn = rot.axis_angle_to_matrix(np.stack([np.zeros(T), np.zeros(T), 0.8 * np.sin(t[:, 0, 0]) + seed], -1))
    global_orient = rot.matrix_to_axis_angle(turn @ upright @ rot.axis_angle_to_matrix(pose[:, 0] * 0.2))
    transl = np.stack([0.6 * t[:, 0, 0] + seed, 0.2 * np.sin(t[:, 0, 0]), 0.95 + 0.02 * np.sin(3 * t[:, 0, 0])], -1)
    return Motion(
        global_orient=global_orient, body_pose=pose[:, 1:], transl=transl, betas=np.zeros(10), fps=fps, name=name
    )


def fk(motion: Motion, rest: np.ndarray = REST) -> np.ndarray:
    """(T, 24, 3) joints of a Motion, Z-up world, metres."""
    return forward_kinematics(motion.local_rotations(), rest, motion.transl)[1]


# -- HumanML3D -----------------------------------------------------------------------------------


def write_humanml3d(root, clips: dict[str, tuple[np.ndarray, list[str]]], splits: dict[str, list[str]]):
    """new_joints/<id>.npy (T, 22, 3) float32 Y up, texts/<id>.txt, <split>.txt."""
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    for clip_id, (joints_y_up, lines) in clips.items():
        np.save(root / "new_joints" / f"{clip_id}.npy", joints_y_up.astype(np.float32))
        (root / "texts" / f"{clip_id}.txt").write_text("\n".join(lines) + "\n")
    for split, ids in splits.items():
        (root / f"{split}.txt").write_text("\n".join(ids) + "\n")


@pytest.fixture()
def humanml3d(tmp_path):
    """Three clips at 20 fps: 000001 (61 frames, whole + sub-clip captions), its mirror M000001, 000002."""
    first = smooth_motion(1, T=61, fps=20.0)
    second = smooth_motion(2, T=45, fps=20.0)
    joints = {cid: points_z_up_to_y_up(fk(m)[:, :22]) for cid, m in (("000001", first), ("000002", second))}
    mirrored = joints["000001"][:, list(MIRROR[:22])] * np.array([-1.0, 1.0, 1.0])  # x negated, sides swapped
    root = tmp_path / "HumanML3D"
    write_humanml3d(
        root,
        {
            "000001": (joints["000001"], [
                "a person walks forward and waves the left hand.#a/DET person/NOUN walk/VERB#0.0#0.0",
                "someone strolls and waves.#someone/PRON stroll/VERB#0.0#0.0",
                "the person turns clockwise.#the/DET person/NOUN turn/VERB clockwise/ADV#1.15#2.5",
            ]),
            "M000001": (mirrored, [
                "a person walks forward and waves the right hand.#a/DET person/NOUN#0.0#0.0",
            ]),
            "000002": (joints["000002"], ["a person jumps.#a/DET person/NOUN jump/VERB#nan#nan"]),
        },
        {"train": ["000001", "M000001"], "test": ["000002"]},
    )
    return root, first, second


def test_humanml3d_reads_texts_subclips_and_ik_reproduces_joints(humanml3d):
    root, first, _ = humanml3d
    clips = read_humanml3d(root, "train", fps=20.0, rest_joints=REST)
    assert [c.source for c in clips] == ["humanml3d:000001", "humanml3d:000001[23:50]", "humanml3d:M000001"]
    whole, sub, _ = clips
    assert whole.texts == ["a person walks forward and waves the left hand.", "someone strolls and waves."]
    assert sub.texts == ["the person turns clockwise."]
    assert all(c.split == "train" and c.num_persons == 1 and c.scene_points is None for c in clips)
    # Captions of 1.15 s .. 2.5 s cover frames [23, 50) at 20 fps.
    assert (whole.num_frames, sub.num_frames) == (61, 27)
    expected = fk(first)[:, :22]
    ik_error = np.linalg.norm(fk(whole.motions[0])[:, :22] - expected, axis=-1).max()
    assert ik_error < 0.01  # 1 cm; with matching bone lengths it is rounding only
    assert ik_error < 1e-5  # float32 storage of the joints
    np.testing.assert_allclose(fk(sub.motions[0])[:, :22], expected[23:50], atol=1e-5)
    # Y up -> Z up: the standing person's head is above the pelvis along +Z.
    joints = fk(whole.motions[0])
    assert (joints[:, 15, 2] - joints[:, 0, 2] > 0.4).all()


def test_humanml3d_mirrored_entry_matches_mirror_clip(humanml3d):
    root, _, _ = humanml3d
    whole, _, stored_mirror = read_humanml3d(root, "train", fps=20.0, rest_joints=REST)
    ours = mirror_clip(whole)
    np.testing.assert_allclose(fk(ours.motions[0])[:, :22], fk(stored_mirror.motions[0])[:, :22], atol=1e-5)
    assert ours.texts[0] == "a person walks forward and waves the right hand."
    skipped = read_humanml3d(root, "train", fps=20.0, rest_joints=REST, include_mirrored=False)
    assert [c.source for c in skipped] == ["humanml3d:000001", "humanml3d:000001[23:50]"]


@pytest.mark.parametrize("fps, frames", [(20.0, 45), (30.0, 67), (10.0, 23)])
def test_humanml3d_resamples_over_the_same_time_span(humanml3d, fps, frames):
    root, _, second = humanml3d
    (clip,) = read_humanml3d(root, "test", fps=fps, rest_joints=REST)
    assert clip.texts == ["a person jumps."]  # nan span = the whole clip
    assert (clip.num_frames, clip.fps) == (frames, fps)  # 44 / 20 s = 2.2 s
    # Frames at shared times (every 0.1 s) hold the source poses.
    step = {20.0: 2, 30.0: 3, 10.0: 1}[fps]
    np.testing.assert_allclose(fk(clip.motions[0])[::step, :22], fk(second)[::2, :22], atol=1e-5)


def scaled_bones(rest: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """The rest skeleton with bone j (parent -> j) scaled by factors[j]: same directions, other lengths."""
    out = rest.copy()
    for j in range(1, len(rest)):
        out[j] = out[PARENTS[j]] + factors[j] * (rest[j] - rest[PARENTS[j]])
    return out


def test_ik_points_every_bone_along_the_data_when_lengths_differ():
    motion = smooth_motion(3, T=30, fps=20.0, amplitude=1.2)
    subject = scaled_bones(REST, np.random.default_rng(4).uniform(0.85, 1.15, 24))
    data = fk(motion, subject)[:, :22]
    local = fit_local_rotations(data, REST)
    fitted = forward_kinematics(local, REST[:22], data[:, 0] - REST[0], parents=PARENTS[:22])[1]
    for j in range(1, 22):
        want = data[:, j] - data[:, PARENTS[j]]
        got = fitted[:, j] - fitted[:, PARENTS[j]]
        cosine = (want * got).sum(-1) / np.linalg.norm(want, axis=-1) / np.linalg.norm(got, axis=-1)
        assert cosine.min() > 1 - 1e-9, j
    # Positions then differ only through the lengths: centimetres at the hands and feet.
    assert 0.005 < np.linalg.norm(fitted - data, axis=-1).max() < 0.3


def test_humanml3d_errors_name_file_and_line(tmp_path):
    good = points_z_up_to_y_up(fk(smooth_motion(4, T=10, fps=20.0))[:, :22])
    write_humanml3d(tmp_path, {"000009": (good, ["fine#tok#0.0#0.0", "broken line without fields"]),
                               "000010": (good[:, :21], ["x#t#0#0"])}, {"train": ["000009"], "val": ["000010"]})
    with pytest.raises(DatasetError, match=r"000009\.txt, line 2: expected 'caption#tokens#start#end'"):
        read_humanml3d(tmp_path, "train", 20.0, REST)
    with pytest.raises(DatasetError, match=r"000010\.npy: joint positions .*got \(10, 21, 3\)"):
        read_humanml3d(tmp_path, "val", 20.0, REST)
    with pytest.raises(DatasetError, match=r"test\.txt"):
        read_humanml3d(tmp_path, "test", 20.0, REST)
    (tmp_path / "bad.txt").write_text("a caption#tok#soon#later\n")
    with pytest.raises(DatasetError, match=r"bad\.txt, line 1: start/end must be seconds"):
        read_captions(tmp_path / "bad.txt")


# -- InterHuman ----------------------------------------------------------------------------------


def interhuman_rows(motion: Motion, rng) -> np.ndarray:
    """(T, 492) in the documented layout: 62 x 3 positions, then 51 x 6 rotations as rot_mat[:, :2] row by row."""
    T = motion.num_frames
    positions = np.concatenate([fk(motion)[:, :22], rng.normal(size=(T, 40, 3))], axis=1)
    body = motion.local_rotations()[:, 1:22, :, :2].reshape(T, 21, 6)  # [R00, R01, R10, R11, R20, R21]
    hands = rng.normal(size=(T, 30, 6))
    return np.concatenate([positions.reshape(T, -1), body.reshape(T, -1), hands.reshape(T, -1)], axis=1)


@pytest.fixture()
def interhuman(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "InterHuman"
    for person in ("person1", "person2"):
        (root / "motions_processed" / person).mkdir(parents=True)
    (root / "annots").mkdir()
    (root / "split").mkdir()
    motions = {}
    for clip_id, T in (("7", 91), ("8", 40), ("9", 40)):
        pair = [smooth_motion(int(clip_id) + k, T=T, fps=30.0) for k in (0, 10)]
        motions[clip_id] = pair
        for person, motion in zip(("person1", "person2"), pair):
            rows = interhuman_rows(motion, rng).astype(np.float32)
            np.save(root / "motions_processed" / person / f"{clip_id}.npy", rows)
        (root / "annots" / f"{clip_id}.txt").write_text(f"two people shake hands {clip_id}.\n\none pushes the other.\n")
    (root / "split" / "train.txt").write_text("7\n9\n")
    (root / "split" / "ignore_list.txt").write_text("9\n")
    (root / "val.txt").write_text("8\n")  # InterGen keeps the split files at the root: both places work
    return root, motions


@pytest.mark.parametrize("fps, frames", [(30.0, 91), (20.0, 61), (10.0, 31)])
def test_interhuman_two_person_clips(interhuman, fps, frames):
    root, motions = interhuman
    (clip,) = read_interhuman(root, "train", fps=fps, rest_joints=REST)  # 9 is on the ignore list
    assert clip.source == "interhuman:7" and clip.split == "train"
    assert clip.texts == ["two people shake hands 7.", "one pushes the other."]
    assert clip.num_persons == 2 and clip.num_frames == frames and clip.fps == fps
    assert [m.role for m in clip.motions] == ["person", "person"]
    if fps == 30.0:
        for ours, truth in zip(clip.motions, motions["7"]):
            # The root orientation is not stored: it is fitted, exactly for a matching skeleton.
            np.testing.assert_allclose(ours.local_rotations()[:, :22], truth.local_rotations()[:, :22], atol=1e-5)
            np.testing.assert_allclose(fk(ours)[:, :22], fk(truth)[:, :22], atol=1e-5)
            assert (fk(ours)[:, 15, 2] > fk(ours)[:, 0, 2] + 0.3).all()  # Z up already


def test_interhuman_split_at_root_and_errors(interhuman):
    root, _ = interhuman
    (clip,) = read_interhuman(root, "val", fps=30.0, rest_joints=REST)
    assert clip.source == "interhuman:8"
    with pytest.raises(DatasetError, match=r"split file 'test\.txt' found neither"):
        read_interhuman(root, "test", fps=30.0, rest_joints=REST)
    np.save(root / "motions_processed" / "person2" / "8.npy", np.zeros((39, 492), np.float32))
    with pytest.raises(DatasetError, match=r"person2/8\.npy: has 39 frames, .*person1/8\.npy has 40"):
        read_interhuman(root, "val", fps=30.0, rest_joints=REST)
    np.save(root / "motions_processed" / "person2" / "8.npy", np.zeros((40, 262), np.float32))
    with pytest.raises(DatasetError, match=r"person2/8\.npy: InterHuman rows \(T, 492\): expected .*got \(40, 262\)"):
        read_interhuman(root, "val", fps=30.0, rest_joints=REST)
    (root / "annots" / "7.txt").unlink()
    with pytest.raises(DatasetError, match=r"annots/7\.txt: missing"):
        read_interhuman(root, "train", fps=30.0, rest_joints=REST)


# -- bundles -------------------------------------------------------------------------------------


def test_bundle_clips_split_where_visibility_changes(tmp_path):
    rng = np.random.default_rng(3)
    P, T = 3, 20
    persons = [smooth_motion(20 + p, T=T, fps=10.0) for p in range(P)]
    valid = np.zeros((P, T), bool)
    valid[0] = True
    valid[1, :12] = valid[1, 14:] = True  # a 2-frame gap
    valid[2, 5:8] = True
    bundle = Bundle(
        fps=10.0, image_size=(64, 48), K=np.eye(3), camera_to_world=np.eye(4),
        points=rng.normal(size=(30, 3)).astype(np.float32), colors=np.zeros((30, 3), np.uint8),
        point_labels=np.zeros(30, np.int16), mask_labels=["floor"],
        person_roles=["staff", "patient", "person"], person_names=["Anna", "Bo", "Cy"],
        person_betas=rng.normal(size=(P, 10)),
        person_global_orient=np.stack([m.global_orient for m in persons]),
        person_body_pose=np.stack([m.body_pose for m in persons]),
        person_transl=np.stack([m.transl for m in persons]),
        person_valid=valid,
        person_actions=rng.integers(-1, 2, (P, T)).astype(np.int32), action_names=["walk", "stand"],
    )
    path = tmp_path / "room_a.npz"
    write_bundle(path, bundle)
    assert visibility_runs(valid) == [(0, 5), (5, 8), (8, 12), (12, 14), (14, 20)]
    clips = read_bundle_clips(path, fps=20.0, min_frames=3)  # (12, 14) is too short
    assert [c.source for c in clips] == [f"bundle:room_a[{a}:{b}]" for a, b in ((0, 5), (5, 8), (8, 12), (14, 20))]
    assert [[m.role for m in c.motions] for c in clips] == [
        ["staff", "patient"], ["staff", "patient", "person"], ["staff", "patient"], ["staff", "patient"]]
    assert [c.num_frames for c in clips] == [9, 5, 7, 11]  # (n - 1) * 2 + 1 at 20 fps
    for clip in clips:
        assert clip.texts == [] and clip.split == "train"
        np.testing.assert_array_equal(clip.scene_points, bundle.points)
    second = clips[1].motions[2]
    assert second.name == "bundle:room_a[5:8]/Cy"
    np.testing.assert_array_equal(second.betas, bundle.person_betas[2])
    np.testing.assert_array_equal(second.labels[::2], bundle.person_actions[2, 5:8])
    np.testing.assert_allclose(fk(second)[::2], fk(persons[2])[5:8], atol=1e-9)


def test_bundle_errors_name_file_and_key(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, meta_json=np.array("{}"))
    with pytest.raises(DatasetError, match=r"broken\.npz: missing key\(s\) \['points'"):
        read_bundle_clips(path, fps=10.0)


# -- mirroring -----------------------------------------------------------------------------------


def test_mirror_reflects_fk_and_swaps_sides():
    motion = smooth_motion(5, T=25, fps=30.0, amplitude=1.0)
    for rest, pelvis in ((REST, None), (REST + np.array([0.0, 0.1, 0.2]), None)):
        mirrored = mirror_motion(motion, rest_pelvis=pelvis)
        expected = (fk(motion, rest) @ REFLECT)[:, list(MIRROR)]
        assert np.abs(fk(mirrored, rest) - expected).max() < 1e-6
    # With J_0 off the symmetry plane, passing it keeps the pelvis mirrored; assuming x = 0 does not.
    shifted = REST + np.array([0.003, 0.0, 0.0])
    pelvis = fk(motion, shifted)[:, 0] @ REFLECT
    np.testing.assert_allclose(fk(mirror_motion(motion, rest_pelvis=shifted[0]), shifted)[:, 0], pelvis, atol=1e-12)
    assert np.abs(fk(mirror_motion(motion), shifted)[:, 0] - pelvis).max() > 1e-3
    twice = mirror_motion(mirror_motion(motion))
    np.testing.assert_allclose(twice.local_rotations(), motion.local_rotations(), atol=1e-12)
    np.testing.assert_allclose(twice.transl, motion.transl, atol=1e-12)


def test_mirror_clip_texts_roles_and_scene():
    staff = smooth_motion(6, T=10, fps=30.0)
    staff.role = "staff"
    points = np.array([[1.0, 2.0, 0.0], [-0.5, 0.0, 1.0]], np.float32)
    clip = Clip(motions=[staff], texts=["Turn LEFT, then walk right; turn counter-clockwise, then clockwise."],
                scene_points=points, source="bundle:x", split="train")
    mirrored = mirror_clip(clip)
    assert mirrored.texts == ["Turn RIGHT, then walk left; turn clockwise, then counterclockwise."]
    assert [m.role for m in mirrored.motions] == ["staff"]
    np.testing.assert_array_equal(mirrored.scene_points, [[-1.0, 2.0, 0.0], [0.5, 0.0, 1.0]])
    assert mirror_text("Leftward, the bright leftover anticlockwise") == "Rightward, the bright leftover clockwise"
    assert mirror_text(mirror_text("left and right")) == "left and right"


def test_clip_rejects_mismatched_persons():
    with pytest.raises(DatasetError, match=r"motions\[1\] has 9 frames"):
        Clip(motions=[smooth_motion(1, 10, 30.0), smooth_motion(2, 9, 30.0)], source="x")
    with pytest.raises(DatasetError, match="expected 1..4 persons, got 5"):
        Clip(motions=[smooth_motion(1, 3, 30.0)] * 5)
