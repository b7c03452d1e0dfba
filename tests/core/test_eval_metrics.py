"""Physical and distribution metrics give known numbers on constructed clips and embeddings."""

import math

import numpy as np
import pytest

from addon.core.eval.confidence import mean_and_half_width
from addon.core.eval.distribution import (
    diversity, embedding_statistics, fid, frechet_distance, matching_score, multimodality, r_precision, replicate,
)
from addon.core.eval.geometry import BONE_RADII, depth_inside_boxes, inside_footprints, segment_distance
from addon.core.eval.physical import (
    bone_length_std, contact_rate, fk_agreement, floor_float, floor_penetration, foot_skating_ratio, has_contact,
    penetration_depths, person_penetration, scene_penetration, seated_share, velocity_agreement,
)
from addon.core.eval.physical_report import physical_metrics
from addon.core.motion.motion import Motion
from addon.core.motion.representation import POSITIONS, VELOCITIES, encode_motion
from helpers.tiny_smpl import SKELETON_Y_UP

FOOT_HEIGHT = 0.026  # a standing person's foot joints above the floor, metres


def standing(frames=10, x=0.0, y=0.0):
    """(1, T, 22, 3): the test skeleton standing still at (x, y), Z up, arms out along x."""
    body = SKELETON_Y_UP[:22] @ np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # (x, y, z) -> (x, -z, y)
    body = body - [0.0, 0.0, body[10, 2] - FOOT_HEIGHT] + [x, y, 0.0]
    return np.repeat(body[None, None], frames, axis=1)


def walking(frames, speed, fps, lift=0.0):
    """standing() moved along +x at ``speed`` m/s, raised by ``lift`` metres."""
    joints = standing(frames)
    joints[..., 0] += speed * np.arange(frames)[:, None] / fps
    joints[..., 2] += lift
    return joints


# ---- foot skating ---------------------------------------------------------------------------

@pytest.mark.parametrize("fps", [20.0, 30.0, 60.0])
def test_a_planted_foot_sliding_at_1_m_s_skates_at_every_frame_rate(fps):
    assert foot_skating_ratio(walking(30, 1.0, fps), fps) == 1.0
    assert foot_skating_ratio(standing(30), fps) == 0.0
    assert foot_skating_ratio(walking(30, 0.3, fps), fps) == 0.0  # slow shuffle
    assert foot_skating_ratio(walking(30, 1.0, fps, lift=0.3), fps) == 0.0  # feet in the air


def test_skating_counts_only_the_sliding_intervals():
    fps = 30.0
    slide, stop = walking(30, 1.0, fps), walking(30, 1.0, fps)[:, -1:].repeat(30, axis=1)
    joints = np.concatenate([slide, stop], axis=1)  # 29 sliding intervals, then 30 still ones
    assert foot_skating_ratio(joints, fps) == pytest.approx(29 / 59)
    # Only the right foot above 5 cm: half the foot-intervals stop counting.
    joints[:, :, 11, 2] = 0.2
    assert foot_skating_ratio(joints, fps) == pytest.approx(29 / 118)


# ---- floor ----------------------------------------------------------------------------------

def test_floor_penetration_is_the_depth_of_the_lowest_joint():
    assert floor_penetration(standing()) == 0.0
    sunk = standing(4)
    sunk[:, :2, :, 2] -= 0.1  # two of four frames 7.4 cm under the floor
    assert floor_penetration(sunk) == pytest.approx((0.1 - FOOT_HEIGHT) / 2)


def test_floating_is_measured_against_the_floor_or_the_box_under_the_lowest_joint():
    assert floor_float(standing()) == 0.0
    raised = standing(4)
    raised[..., 2] += 0.45
    assert floor_float(raised) == 1.0
    platform = np.array([[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.45]])  # person stands on it
    assert floor_float(raised, platform) == 0.0
    beside = platform + [3.0, 0, 0, 0, 0, 0, 0]
    assert floor_float(raised, beside) == 1.0
    shelf_above = np.array([[0.0, 0.0, 0.0, 1.0, 1.0, 0.6, 0.7]])  # bottom above the feet: no support
    assert floor_float(raised, shelf_above) == 1.0
    lying = standing(2)
    lying[..., 2] = 0.1  # pelvis and spine ~10 cm above the floor
    assert floor_float(lying) == 0.0


# ---- capsules and boxes -----------------------------------------------------------------------

def brute_segment_distance(p1, q1, p2, q2, n=801):
    s = np.linspace(0, 1, n)[:, None]
    a, b = p1 + s * (q1 - p1), p2 + s * (q2 - p2)
    return np.linalg.norm(a[:, None] - b[None, :], axis=-1).min()


def test_segment_distance_matches_brute_force_including_parallel_and_degenerate_cases():
    rng = np.random.default_rng(0)
    p1, q1, p2, q2 = rng.normal(size=(4, 50, 3))
    fast = segment_distance(p1, q1, p2, q2)
    slow = np.array([brute_segment_distance(*row) for row in zip(p1, q1, p2, q2)])
    np.testing.assert_allclose(fast, slow, atol=2e-3)
    assert np.all(fast <= slow + 1e-12)  # exact minimum, never above a sampled one
    x = np.array([1.0, 0, 0])
    # Parallel, overlapping: 0.3 apart; parallel, end to end with a gap of 0.5 along x.
    assert segment_distance(0 * x, x, [0.5, 0.3, 0], [1.5, 0.3, 0]) == pytest.approx(0.3)
    assert segment_distance(0 * x, x, 1.5 * x, 2.5 * x) == pytest.approx(0.5)
    # A point against a segment, a point against a point.
    assert segment_distance(np.array([0.5, 2.0, 0]), np.array([0.5, 2.0, 0]), 0 * x, x) == pytest.approx(2.0)
    assert segment_distance(x, x, [1.0, 0, 3.0], [1.0, 0, 3.0]) == pytest.approx(3.0)
    # Crossing at right angles 0.2 apart in z.
    assert segment_distance(-x, x, [0, -1, 0.2], [0, 1, 0.2]) == pytest.approx(0.2)


def test_two_persons_penetrate_when_overlapping_and_not_when_apart():
    far = np.concatenate([standing(6), standing(6, x=2.0)])
    assert person_penetration(far) == {"frames_fraction": 0.0, "mean_depth_m": 0.0}
    same = np.concatenate([standing(6), standing(6)])
    result = person_penetration(same)
    assert result["frames_fraction"] == 1.0
    assert result["mean_depth_m"] == pytest.approx(2 * BONE_RADII.max())  # torso on torso at distance 0
    half = far.copy()
    half[1, :3] = standing(3)[0]  # the second person walks into the first for 3 of 6 frames
    assert person_penetration(half)["frames_fraction"] == 0.5
    assert person_penetration(standing(6)) == {"frames_fraction": 0.0, "mean_depth_m": 0.0}


def test_thicker_persons_overlap_by_their_thicker_capsules():
    """Two people side by side, 0.22 m apart: SMPL-sized capsules (torso 0.1 m) do not meet,
    1.3x ones do, by 0.3 x the two torso radii more."""
    pair = np.concatenate([standing(2), standing(2, y=0.22)])
    plain = penetration_depths(pair)
    assert plain.max() < 0.0
    np.testing.assert_allclose(penetration_depths(pair, scales=[1.0, 1.0]), plain)
    thick = penetration_depths(pair, scales=[1.3, 1.3])
    np.testing.assert_allclose(thick.max(), plain.max() + 0.3 * 2 * BONE_RADII.max(), atol=1e-9)
    assert thick.max() > 0.0
    one = penetration_depths(pair, scales=[1.3, 1.0])  # only one of them bigger: half the gain
    np.testing.assert_allclose(one.max(), plain.max() + 0.3 * BONE_RADII.max(), atol=1e-9)


def test_three_persons_count_every_pair():
    joints = np.concatenate([standing(4), standing(4), standing(4, x=3.0)])  # 1 of 3 pairs overlaps
    assert person_penetration(joints)["frames_fraction"] == pytest.approx(1 / 3)


def test_a_joint_inside_a_box_penetrates_the_scene():
    person = standing(3)
    wrist = person[0, 0, 20]
    box = np.array([[wrist[0], wrist[1], 0.3, 0.1, 0.1, wrist[2] - 0.05, wrist[2] + 0.05]])
    result = scene_penetration(person, box)
    assert result["frames_fraction"] == 1.0
    assert result["mean_depth_m"] == pytest.approx(0.05)  # the wrist sits 5 cm from every face
    assert scene_penetration(person, box + [4.0, 0, 0, 0, 0, 0, 0]) == {"frames_fraction": 0.0, "mean_depth_m": 0.0}
    assert scene_penetration(person, np.zeros((0, 7))) == {"frames_fraction": 0.0, "mean_depth_m": 0.0}
    # Within the 2 cm tolerance of a face: not counted.
    shallow = box.copy()
    shallow[0, 6] = wrist[2] + 0.015
    assert scene_penetration(person, shallow)["frames_fraction"] == 0.0


def test_box_yaw_turns_the_footprint():
    long_x = np.array([[0.0, 0.0, 0.0, 2.0, 0.2, 0.0, 1.0]])
    turned = long_x + [0, 0, np.pi / 2, 0, 0, 0, 0]
    point = np.array([[0.8, 0.0]])
    assert inside_footprints(point, long_x)[0, 0] and not inside_footprints(point, turned)[0, 0]
    assert inside_footprints(point[:, ::-1], turned)[0, 0]
    diagonal = long_x + [0, 0, np.pi / 4, 0, 0, 0, 0]
    assert inside_footprints(np.array([[0.5, 0.5]]), diagonal)[0, 0]
    assert depth_inside_boxes(np.array([0.0, 0.0, 0.3]), long_x)[0] == pytest.approx(0.1)


def test_a_seated_body_on_a_seat_does_not_penetrate_it():
    person = standing(2)
    seat_top = person[0, 0, :, 2].min() - 0.01  # everything above the seat
    seat = np.array([[0.0, 0.0, 0.0, 0.6, 0.6, 0.0, seat_top]])
    assert scene_penetration(person, seat)["frames_fraction"] == 0.0


def sitting(frames=6, x=0.0, y=0.0, pelvis_z=0.63):
    """(1, T, 22, 3): standing() with the pelvis at ``pelvis_z`` and the thighs level, shins down."""
    body = standing(frames, x, y)
    body[..., 2] += pelvis_z - body[0, 0, 0, 2]
    for hip, knee, ankle, foot in ((1, 4, 7, 10), (2, 5, 8, 11)):
        body[..., knee, :] = body[..., hip, :] + [0.0, -0.42, -0.02]
        body[..., ankle, :] = body[..., knee, :]
        body[..., ankle, 2] = 0.08
        body[..., foot, :] = body[..., ankle, :] + [0.0, -0.12, -0.05]
    return body


def test_seated_is_the_share_of_sitting_frames_on_a_chair():
    chair = np.array([[0.0, 0.0, 0.3, 0.5, 0.5, 0.0, 0.45]])
    assert seated_share(sitting(), chair) == 1.0
    assert seated_share(sitting(x=0.8), chair) == 0.0  # in mid-air beside it
    assert seated_share(np.concatenate([sitting(), sitting(x=0.8)], axis=0), chair) == 0.5
    assert seated_share(sitting(), np.zeros((0, 7))) == 0.0
    assert seated_share(sitting(pelvis_z=0.9), chair) is None  # too high to sit: standing
    assert seated_share(standing(), chair) is None
    bed = np.array([[0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.45]])
    assert seated_share(sitting(), bed) == 0.0  # a bed's edge is not a chair
    report = physical_metrics([{"joints": sitting(), "fps": 10.0, "boxes": chair, "on_chair": True},
                               {"joints": sitting(x=0.8), "fps": 10.0, "boxes": chair},
                               {"joints": standing(), "fps": 10.0, "boxes": chair, "on_chair": True}])
    assert report.counts["seated"] == 1 and report.means["seated"] == 1.0


def test_on_bed_is_the_share_of_sitting_frames_on_a_bed():
    bed = np.array([[0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.45]])  # x -0.5..0.5
    chair = np.array([[0.0, 0.0, 0.3, 0.5, 0.5, 0.0, 0.45]])
    assert seated_share(sitting(x=0.4), bed, on="bed") == 1.0  # near its edge
    assert seated_share(sitting(x=0.8), bed, on="bed") == 0.0  # in mid-air beside it
    assert seated_share(sitting(), chair, on="bed") == 0.0  # a chair is not a bed
    assert seated_share(standing(), bed, on="bed") is None
    with pytest.raises(ValueError, match="on must be"):
        seated_share(sitting(), bed, on="sofa")
    report = physical_metrics([{"joints": sitting(x=0.4), "fps": 10.0, "boxes": bed, "on_bed_edge": True},
                               {"joints": sitting(x=0.8), "fps": 10.0, "boxes": bed, "on_bed_edge": True},
                               {"joints": sitting(x=0.8), "fps": 10.0, "boxes": bed}])
    assert report.counts["seated_on_bed"] == 2 and report.means["seated_on_bed"] == 0.5
    assert report.counts["seated"] == 0


# ---- contact --------------------------------------------------------------------------------

def test_a_hand_on_the_other_person_is_contact():
    a = standing(10)
    b = standing(10, y=2.0)
    assert contact_rate(np.concatenate([a, b])) == 0.0 and not has_contact(np.concatenate([a, b]))
    # Move b so that its pelvis is 10 cm from a's right wrist, for frames 4..9.
    b[:, 4:] += a[0, 0, 21] + [0.1, 0, 0] - b[0, 0, 0]
    joints = np.concatenate([a, b])
    assert contact_rate(joints) == pytest.approx(0.6)
    assert has_contact(joints)
    # Two consecutive frames are a graze, not a touch.
    graze = np.concatenate([a, standing(10, y=2.0)])
    graze[1, 4:6] = joints[1, 4:6]
    assert contact_rate(graze) == pytest.approx(0.2) and not has_contact(graze, min_frames=3)
    assert contact_rate(a) == 0.0 and not has_contact(a)


# ---- consistency --------------------------------------------------------------------------------

def test_bone_length_std_is_zero_for_a_rigid_body_and_sees_a_stretched_forearm():
    assert bone_length_std(walking(10, 1.0, 30.0)) == pytest.approx(0.0, abs=1e-12)
    joints = standing(2)
    forearm = joints[0, 1, 20] - joints[0, 1, 18]
    joints[0, 1, 20] += 0.1 * forearm / np.linalg.norm(forearm)  # 10 cm longer in frame 1
    assert bone_length_std(joints) == pytest.approx(0.05 / 21)


def encoded_features(frames=12, fps=30.0):
    rng = np.random.default_rng(3)
    motion = Motion(
        global_orient=np.tile([np.pi / 2, 0, 0], (frames, 1)) + 0.1 * rng.normal(size=(frames, 3)),
        body_pose=0.2 * rng.normal(size=(frames, 23, 3)),
        transl=np.cumsum(0.02 * rng.normal(size=(frames, 3)), axis=0) + [0, 0, 1.0],
        betas=np.zeros(10),
        fps=fps,
    )
    return encode_motion(motion, SKELETON_Y_UP)[None]  # (1, T, 264)


def test_encoded_features_agree_with_themselves_and_edits_show_up():
    features = encoded_features()
    assert fk_agreement(features, SKELETON_Y_UP) < 1e-5
    assert fk_agreement(features, np.stack([SKELETON_Y_UP])) < 1e-5  # one skeleton per person
    assert velocity_agreement(features, 30.0) < 1e-4
    moved = features.copy()
    moved[..., POSITIONS.start + 3 * 15 + 2] += 0.05  # head 5 cm up in the stored positions only
    assert fk_agreement(moved, SKELETON_Y_UP) == pytest.approx(0.05 / 22, abs=1e-5)
    fast = features.copy()
    fast[..., VELOCITIES.start::3] += 0.01  # 1 cm/frame extra x velocity on every joint
    assert velocity_agreement(fast, 30.0) == pytest.approx(0.3, abs=1e-4)


# ---- the report -----------------------------------------------------------------------------------

def test_physical_metrics_average_over_the_clips_each_metric_applies_to():
    fps = 30.0
    skating_pair = {"joints": np.concatenate([walking(20, 1.0, fps), walking(20, 1.0, fps, lift=0.0) + [0, 2, 0]]),
                    "fps": fps, "touch": True}
    still_single = {"joints": standing(20), "fps": fps, "boxes": np.zeros((0, 7)),
                    "features": encoded_features(20, fps), "rest_joints": SKELETON_Y_UP}
    report = physical_metrics([skating_pair, still_single])
    assert report.means["foot_skating_ratio"] == pytest.approx(0.5)
    assert report.half_widths["foot_skating_ratio"] == pytest.approx(1.96 * 0.5 / math.sqrt(2))
    assert report.counts["contact_recall"] == 1 and report.means["contact_recall"] == 0.0
    assert report.counts["person_penetration_frames"] == 1 and report.counts["person_penetration_depth_m"] == 0
    assert report.counts["fk_mpjpe_m"] == 1 and report.means["fk_mpjpe_m"] < 1e-5
    assert math.isnan(report.means["scene_penetration_frames"])
    assert report.to_json()["scene_penetration_frames"] == {"mean": None, "half_width": None, "n": 0}
    with pytest.raises(ValueError, match=r"clip 0: missing field 'fps'"):
        physical_metrics([{"joints": standing()}])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"joints: expected \(P, T, 22, 3\)"):
        floor_penetration(np.zeros((10, 22, 3)))
    with pytest.raises(ValueError, match=r"boxes: expected \(K, 7\)"):
        scene_penetration(standing(), np.zeros((2, 6)))


# ---- distribution metrics ------------------------------------------------------------------------

def test_frechet_distance_of_known_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    assert frechet_distance(mu1, np.eye(3), mu2, np.eye(3)) == pytest.approx(5.0)
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    # Diagonal covariances: |mu1 - mu2|² + sum (sqrt a - sqrt b)².
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(5.0 + 1.0 + 1.0)
    # Singular product: the eps fallback stays close to the exact 2 + 2.
    singular = frechet_distance(np.zeros(2), np.diag([1.0, 0]), np.zeros(2), np.diag([0, 1.0]))
    assert singular == pytest.approx(2.0, abs=1e-2)
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), -np.eye(2))


def test_fid_of_samples_approaches_the_analytic_value():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(20000, 4))
    shifted = rng.normal(size=(20000, 4)) * 2.0 + [1.0, 0, 0, 0]
    # |mu|² = 1, four dimensions each contributing (1 - 2)² = 1.
    assert fid(real, shifted) == pytest.approx(5.0, abs=0.15)
    assert fid(real, real) == pytest.approx(0.0, abs=1e-6)
    mean, cov = embedding_statistics(real)
    assert mean.shape == (4,) and cov.shape == (4, 4)


def test_r_precision_is_one_for_perfect_matches_and_chance_for_random_ones():
    rng = np.random.default_rng(1)
    text = rng.normal(size=(96, 8))
    np.testing.assert_array_equal(r_precision(text, text.copy(), rng=np.random.default_rng(0)), [1.0, 1.0, 1.0])
    random = r_precision(rng.normal(size=(32 * 300, 8)), rng.normal(size=(32 * 300, 8)), rng=np.random.default_rng(0))
    np.testing.assert_allclose(random, [1 / 32, 2 / 32, 3 / 32], atol=0.01)
    # Noisy matches are easier to find among fewer texts: the batch size changes the number.
    noisy = text + 1.0 * rng.normal(size=text.shape)
    small = r_precision(text, noisy, batch_size=8, top_k=1, rng=np.random.default_rng(0))[0]
    large = r_precision(text, noisy, batch_size=96, top_k=1, rng=np.random.default_rng(0))[0]
    assert small > large
    with pytest.raises(ValueError, match="do not fill one batch"):
        r_precision(text[:10], text[:10], rng=np.random.default_rng(0))


def test_matching_score_diversity_and_multimodality():
    rng = np.random.default_rng(2)
    motion = rng.normal(size=(50, 3))
    assert matching_score(motion + [0.3, 0.4, 0.0], motion) == pytest.approx(0.5)
    two_clusters = np.repeat([[1.0, 0.0], [-1.0, 0.0]], 300, axis=0)  # distance 0 or 2
    assert diversity(two_clusters, rng=np.random.default_rng(0)) == pytest.approx(1.0, abs=0.25)
    # Raw distances: scaling the embeddings scales the number (no emb_scale convention).
    assert diversity(3 * two_clusters, rng=np.random.default_rng(0)) == pytest.approx(
        3 * diversity(two_clusters, rng=np.random.default_rng(0))
    )
    with pytest.raises(ValueError, match="needs >= 300"):
        diversity(motion, rng=np.random.default_rng(0))
    identical = np.ones((5, 30, 4))
    assert multimodality(identical, rng=np.random.default_rng(0)) == 0.0
    one_hot = np.broadcast_to(np.eye(30), (5, 30, 30))  # distinct generations are sqrt(2) apart
    value = multimodality(one_hot, rng=np.random.default_rng(0))
    assert 1.0 < value <= math.sqrt(2) + 1e-12


def test_replicate_gives_mean_and_95_percent_half_width():
    mean, half = replicate(lambda rng: rng.normal(), replications=400, seed=5)
    assert abs(mean) < 0.2 and half == pytest.approx(1.96 / 20, rel=0.15)
    assert replicate(lambda rng: rng.normal(), replications=400, seed=5) == (mean, half)
    means, halves = replicate(lambda rng: {"a": 2.0, "b": rng.uniform()}, replications=20, seed=0)
    assert means["a"] == 2.0 and halves["a"] == 0.0 and 0 < means["b"] < 1
    assert mean_and_half_width([1.0, 3.0]) == (2.0, pytest.approx(1.96 / math.sqrt(2)))
