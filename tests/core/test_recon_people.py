"""People in a reconstruction: COCO keypoints, occlusion duplicates (thesis 5.1), tracking and
matching (draft eq. 4.1-4.3), smoothing (eq. 5.1) and the optional 2D refinement, by value.

The synthetic scenes are built here: SMPL-like rest skeletons with random size, a walking
pose, people placed in the OpenCV camera frame (x right, y down, z forward) of a camera at
the height of a head, so the true identities and joints are known.
"""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from addon.core.recon.duplicates import occlusion_cost, remove_occlusion_duplicates
from addon.core.recon.keypoints import (
    COCO_BODY_ONLY,
    COCO_NAMES,
    keypoint_distance,
    project_opencv,
    smpl_joints_to_coco,
)
from addon.core.recon.refine import refine_track
from addon.core.recon.smoothing import (
    joint_jitter,
    lam_for_cutoff,
    second_difference_matrix,
    smooth_positions,
    smooth_track,
    smoothing_objective,
)
from addon.core.recon.tracking import (
    greedy_assignment,
    identity_switches,
    match_costs,
    match_tracks_to_annotations,
    track,
)
from addon.core.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from addon.core.skeleton import JOINT_INDEX, forward_kinematics

FPS = 10.0  # the monitoring camera's rate
K = np.array([[600.0, 0.0, 640.0], [0.0, 600.0, 360.0], [0.0, 0.0, 1.0]])
STAFF, PATIENT = 1, 2

# Approximate rest joints of SMPL's neutral body (template frame: metres, Y up, Z forward).
SMPL_LIKE_REST = np.array([
    [-0.0018, -0.2233, 0.0282], [0.0695, -0.3143, 0.0239], [-0.0677, -0.3142, 0.0227],
    [-0.0025, -0.1037, 0.0040], [0.1044, -0.6700, 0.0352], [-0.1048, -0.6755, 0.0306],
    [0.0055, 0.0303, 0.0354], [0.0845, -1.0747, -0.0073], [-0.0874, -1.0767, -0.0104],
    [0.0021, 0.0863, 0.0368], [0.1184, -1.1311, 0.1124], [-0.1164, -1.1327, 0.1175],
    [-0.0002, 0.2931, 0.0142], [0.0774, 0.1944, 0.0230], [-0.0761, 0.1929, 0.0175],
    [0.0047, 0.3598, 0.0660], [0.1987, 0.2333, 0.0106], [-0.1911, 0.2344, 0.0128],
    [0.4537, 0.2166, -0.0195], [-0.4564, 0.2151, -0.0143], [0.7204, 0.2241, -0.0174],
    [-0.7218, 0.2229, -0.0203], [0.8066, 0.2172, -0.0360], [-0.8112, 0.2152, -0.0409],
])


# ----------------------------------------------------------------------------- scenes


def random_rest_joints(rng):
    return SMPL_LIKE_REST * rng.uniform(0.85, 1.1) + rng.normal(0.0, 0.01, SMPL_LIKE_REST.shape)


def walking_pose(num_frames, rng, step_hz=0.75):
    """(T, 23, 3) axis-angle: legs and arms swinging at step_hz, arms down, small noise."""
    swing = np.sin(2 * np.pi * step_hz * np.arange(num_frames) / FPS + rng.uniform(0, 2 * np.pi))
    pose = np.zeros((num_frames, 23, 3))
    left_hip, right_hip, left_knee, right_knee = (JOINT_INDEX[n] - 1 for n in ("left_hip", "right_hip", "left_knee", "right_knee"))
    left_sh, right_sh, left_el, right_el = (JOINT_INDEX[n] - 1 for n in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow"))
    pose[:, left_hip, 0], pose[:, right_hip, 0] = 0.4 * swing, -0.4 * swing
    pose[:, left_knee, 0], pose[:, right_knee, 0] = 0.5 * np.maximum(swing, 0), 0.5 * np.maximum(-swing, 0)
    pose[:, left_sh, 2], pose[:, right_sh, 2] = -1.2, 1.2  # arms down from the T-pose
    pose[:, left_sh, 0], pose[:, right_sh, 0] = -0.3 * swing, 0.3 * swing
    pose[:, left_el, 1], pose[:, right_el, 1] = 0.3, -0.3
    return pose + rng.normal(0.0, 0.02, pose.shape)


def camera_orient(heading):
    """(T, 3) axis-angle: SMPL's Y-up template upright in the OpenCV frame (y down), turned by heading about y."""
    upright = Rotation.from_rotvec([np.pi, 0.0, 0.0])
    return np.stack([(Rotation.from_rotvec([0.0, h, 0.0]) * upright).as_rotvec() for h in heading])


def posed_joints(orient, pose, transl, rest):
    rotations = axis_angle_to_matrix(np.concatenate([orient[:, None], pose], axis=1))
    return forward_kinematics(rotations, rest, transl)[1]


def walker(rng, x, z, pelvis_y=1.6):
    """A person whose pelvis follows (x(t), pelvis_y, z(t)) in the camera frame, facing where it walks."""
    T = len(x)
    rest = random_rest_joints(rng)
    heading = np.where(np.gradient(x) >= 0, -np.pi / 2, np.pi / 2)  # facing +x or -x
    orient = camera_orient(heading)
    pose = walking_pose(T, rng)
    transl = np.stack([x, np.full(T, pelvis_y), z], axis=-1) - rest[0]  # pelvis = J_0 + transl
    return {"rest": rest, "orient": orient, "pose": pose, "transl": transl, "joints": posed_joints(orient, pose, transl, rest)}


def crossing_scene(seed, num_frames=200, *, joint_jitter_m=0.0, depth_error_m=0.0, miss_rate=0.0,
                   wrong_class_rate=0.0, depth_gap_m=0.3):
    """Two people walking back and forth in opposite directions, crossing every 40 frames
    (0.3 m apart in depth), as detection rows. HMR-like errors: per-joint jitter, a
    per-detection depth error (the whole body along z), missed detections, wrong classes."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)
    x = 2.0 * np.sin(2 * np.pi * t / 80)  # up to 1.6 m/s
    people = [walker(rng, x, np.full(num_frames, 4.0)), walker(rng, -x, np.full(num_frames, 4.0 + depth_gap_m))]
    frames = np.repeat(t, 2)
    truth = np.tile([0, 1], num_frames)
    classes = np.tile([STAFF, PATIENT], num_frames)
    clean = np.stack([p["joints"] for p in people], axis=1).reshape(-1, 24, 3)
    joints = clean + rng.normal(0.0, joint_jitter_m, clean.shape)
    joints[..., 2] += rng.normal(0.0, depth_error_m, (len(joints), 1))
    classes = np.where(rng.random(len(classes)) < wrong_class_rate, STAFF + PATIENT - classes, classes)
    kept = rng.random(len(frames)) >= miss_rate
    return {"frames": frames[kept], "joints": joints[kept], "clean": clean[kept], "classes": classes[kept],
            "truth": truth[kept], "people": people}


def coco_pixels(joints):
    return project_opencv(smpl_joints_to_coco(joints), K)


def annotate(pixels, rng=None, noise_px=0.0):
    """(..., 17, 3) annotations: pixels (+ noise) with confidence 1 (0.9 on the face)."""
    noisy = pixels if rng is None else pixels + rng.normal(0.0, noise_px, pixels.shape)
    confidence = np.where(COCO_BODY_ONLY, 1.0, 0.9) * np.ones(pixels.shape[:-1])
    return np.concatenate([noisy, confidence[..., None]], axis=-1)


# -------------------------------------------------------------------------- keypoints


def test_coco_correspondence_and_projection():
    joints = np.arange(24 * 3, dtype=float).reshape(24, 3)
    coco = smpl_joints_to_coco(joints)
    assert coco.shape == (17, 3) and len(COCO_NAMES) == 17
    index = {name: i for i, name in enumerate(COCO_NAMES)}
    np.testing.assert_array_equal(coco[index["left_shoulder"]], joints[16])
    np.testing.assert_array_equal(coco[index["right_hip"]], joints[2])
    np.testing.assert_array_equal(coco[index["left_ankle"]], joints[7])
    np.testing.assert_array_equal(coco[index["nose"]], joints[15])  # the face approximated by the head
    assert COCO_BODY_ONLY.sum() == 12 and not COCO_BODY_ONLY[:5].any()
    # A point 2 m ahead, 0.5 m right and 0.25 m down: u = 600 * 0.25 + 640, v = 600 * 0.125 + 360.
    np.testing.assert_allclose(project_opencv(np.array([0.5, 0.25, 2.0]), K), [790.0, 435.0])
    assert np.isnan(project_opencv(np.array([[0.0, 0.0, -1.0]]), K)).all()  # behind the camera
    annotated = annotate(np.zeros((17, 2)))
    predicted = np.zeros((17, 2))
    predicted[:, 0] = 3.0
    predicted[0] = 100.0  # a face point: ignored by the body-only mean
    assert keypoint_distance(annotated, predicted) == pytest.approx(3.0)
    assert keypoint_distance(annotated, predicted, body_only=False) == pytest.approx((12 * 3 + np.hypot(100, 100) + 4 * 3) / 17)
    with pytest.raises(ValueError, match="joints"):
        smpl_joints_to_coco(np.zeros((22, 3)))


# ------------------------------------------------------------------------- duplicates


def occlusion_frame(seed, duplicate):
    """One frame, three people; with duplicate, the second detection's HMR prediction is the first person."""
    rng = np.random.default_rng(seed)
    people = [walker(rng, np.array([x, x + 0.1]), np.full(2, z)) for x, z in ((0.0, 4.0), (0.25, 4.8), (-1.5, 3.5))]
    true_joints = np.stack([p["joints"][0] for p in people])
    annotations = annotate(coco_pixels(true_joints), rng, noise_px=2.0)
    predicted = true_joints + rng.normal(0.0, 0.02, true_joints.shape)
    if duplicate:
        predicted[1] = true_joints[0] + rng.normal(0.0, 0.02, (24, 3))  # the occluder, predicted twice
    return annotations, coco_pixels(predicted)


def test_occlusion_duplicate_is_removed_and_genuine_people_kept():
    annotations, projected = occlusion_frame(3, duplicate=True)
    cost = occlusion_cost(annotations, projected)
    assert cost[0, 1] < cost[1, 1]  # prediction 1 lies nearer annotation 0 than its own
    frame = np.zeros(3, dtype=int)
    np.testing.assert_array_equal(remove_occlusion_duplicates(frame, annotations, projected), [True, False, True])
    # The same people predicted genuinely: nobody is removed, although persons 0 and 1 overlap.
    annotations, projected = occlusion_frame(3, duplicate=False)
    np.testing.assert_array_equal(remove_occlusion_duplicates(frame, annotations, projected), [True, True, True])


def test_occlusion_rule_works_per_frame_and_ignores_unannotated():
    dup_annot, dup_proj = occlusion_frame(4, duplicate=True)
    ok_annot, ok_proj = occlusion_frame(5, duplicate=False)
    frame = np.array([7, 7, 7, 2, 2, 2])
    keep = remove_occlusion_duplicates(frame, np.concatenate([dup_annot, ok_annot]), np.concatenate([dup_proj, ok_proj]))
    np.testing.assert_array_equal(keep, [True, False, True, True, True, True])
    # Without confident keypoints the duplicated detection cannot be judged and stays.
    dup_annot[1, :, 2] = 0.1
    np.testing.assert_array_equal(remove_occlusion_duplicates(frame[:3], dup_annot, dup_proj), [True, True, True])
    with pytest.raises(ValueError, match="projected"):
        remove_occlusion_duplicates(frame, np.concatenate([dup_annot, ok_annot]), dup_proj)


# --------------------------------------------------------------------------- tracking


def test_greedy_assignment_is_eq_4_1_not_hungarian():
    # Greedy takes (0, 0) at 1 first, then (1, 1) at 100: total 101, where the optimum is 4.
    assert greedy_assignment(np.array([[1.0, 2.0], [2.0, 100.0]])) == [(0, 0), (1, 1)]
    assert greedy_assignment(np.array([[5.0, np.inf], [np.inf, np.inf], [1.0, 3.0]])) == [(2, 0)]
    assert greedy_assignment(np.zeros((0, 3))) == []


def test_identity_switch_count():
    frames = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4])
    truth = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0])
    assert identity_switches(np.array([5, 6, 5, 6, 5, 6, 5, 6, 5]), truth, frames) == 0
    # Swapped at frame 2 and swapped back at frame 3: each identity switches twice.
    assert identity_switches(np.array([5, 6, 5, 6, 6, 5, 5, 6, 5]), truth, frames) == 4
    # A missed frame (-1) is not a switch; reappearing under a new track is.
    assert identity_switches(np.array([5, 6, -1, 6, 5, 6, 9, 6, 9]), truth, frames) == 1


def test_tracking_clean_crossing_has_no_switch():
    scene = crossing_scene(0)
    ids = track(scene["frames"], scene["joints"], scene["classes"])
    assert len(np.unique(ids)) == 2
    assert identity_switches(ids, scene["truth"], scene["frames"]) == 0


def test_tracking_with_jitter_misses_and_wrong_classes():
    switches, frames = 0, 0
    for seed in range(5):
        scene = crossing_scene(seed, joint_jitter_m=0.05, miss_rate=0.1, wrong_class_rate=0.03)
        ids = track(scene["frames"], scene["joints"], scene["classes"])
        switches += identity_switches(ids, scene["truth"], scene["frames"])
        frames += 200
    assert switches / frames * 100 < 1.0  # fewer than one switch per 100 frames


def test_class_term_helps_when_people_cross():
    # HMR's largest error is depth (the whole body along the ray); with 0.3 m of it the two
    # crossing people are 3D-ambiguous, and only the class term of eq. 4.2 tells them apart.
    with_class = without_class = 0
    for seed in range(10):
        scene = crossing_scene(seed, joint_jitter_m=0.05, depth_error_m=0.3)
        args = (scene["frames"], scene["joints"], scene["classes"])
        with_class += identity_switches(track(*args, beta=0.5), scene["truth"], scene["frames"])
        without_class += identity_switches(track(*args, beta=0.0), scene["truth"], scene["frames"])
    assert without_class >= with_class
    assert with_class == 0 and without_class >= 10  # 2000 frames, 50 crossings


def test_gap_limit_and_cost_gate_start_new_tracks():
    rng = np.random.default_rng(2)
    person = walker(rng, np.linspace(-1, 1, 40), np.full(40, 4.0))
    frames = np.arange(40)
    present = (frames < 10) | (frames >= 25)  # absent for 15 frames
    classes = np.full(40, STAFF)
    ids = track(frames[present], person["joints"][present], classes[present], max_gap=20)
    assert len(np.unique(ids)) == 1
    ids = track(frames[present], person["joints"][present], classes[present], max_gap=10)
    assert len(np.unique(ids)) == 2 and (np.diff(ids) >= 0).all()
    # A jump of 3 m costs more than max_cost: a new track, not a teleport.
    jumped = person["joints"].copy()
    jumped[20:, :, 0] += 3.0
    ids = track(frames, jumped, classes)
    assert ids[19] != ids[20] and len(np.unique(ids[20:])) == 1
    # Rows not kept get -1 and are not tracked.
    keep = np.ones(40, dtype=bool)
    keep[5] = False
    ids = track(frames, person["joints"], classes, keep=keep)
    assert ids[5] == -1 and set(ids[keep]) == {0}
    with pytest.raises(ValueError, match="class_id"):
        track(frames, person["joints"], classes[:-1])


def test_matching_recovers_annotated_ids():
    scene = crossing_scene(1, joint_jitter_m=0.05, miss_rate=0.1)
    rng = np.random.default_rng(11)
    ids = track(scene["frames"], scene["joints"], scene["classes"])
    annotated = np.where(scene["truth"] == 0, 7, 3)  # the annotators' ids
    annotations = annotate(coco_pixels(scene["clean"]), rng, noise_px=3.0)
    result = match_tracks_to_annotations(ids, annotated, scene["frames"], coco_pixels(scene["joints"]), annotations, gamma=50.0)
    expected = {int(t): int(np.bincount(annotated[ids == t]).argmax()) for t in np.unique(ids)}
    assert result == expected and sorted(result.values()) == [3, 7]


def test_matching_gamma_penalises_frames_without_the_annotation():
    # Track 0 lives in frames 0..19. Annotation 1 covers all of them at 20 px;
    # annotation 2 is closer (5 px) but only annotated in frames 0..9.
    frames_track = np.arange(20)
    frames = np.concatenate([frames_track, frames_track, frames_track[:10]])
    track_ids = np.concatenate([np.zeros(20, int), -np.ones(30, int)])
    annotated = np.concatenate([-np.ones(20, int), np.ones(20, int), np.full(10, 2)])
    pred = np.zeros((50, 17, 2))
    annot = annotate(np.zeros((50, 17, 2)))
    annot[20:40, :, 0] = 20.0
    annot[40:, :, 0] = 5.0
    costs = match_costs(track_ids, annotated, frames, pred, annot, gamma=0.0)
    np.testing.assert_allclose(costs.cost, [[400.0, 50.0]])
    assert match_tracks_to_annotations(track_ids, annotated, frames, pred, annot, gamma=0.0) == {0: 2}
    costs = match_costs(track_ids, annotated, frames, pred, annot, gamma=100.0)
    np.testing.assert_allclose(costs.cost, [[400.0, 50.0 + 10 * 100.0]])
    assert match_tracks_to_annotations(track_ids, annotated, frames, pred, annot, gamma=100.0) == {0: 1}
    # "union": also gamma for annotated frames the track misses (track cut to frames 0..4).
    short = np.where(frames < 5, track_ids, -1)
    costs = match_costs(short, annotated, frames, pred, annot, gamma=10.0, horizon="union")
    np.testing.assert_allclose(costs.cost, [[5 * 20.0 + 15 * 10.0, 5 * 5.0 + 5 * 10.0]])


# -------------------------------------------------------------------------- smoothing


def straight_walk(seed, num_frames=100):
    rng = np.random.default_rng(seed)
    return walker(rng, np.linspace(-2.0, 2.0, num_frames), np.full(num_frames, 4.0))


def test_smoothing_reduces_jitter_and_error():
    rng = np.random.default_rng(0)
    person = straight_walk(0)
    clean = person["joints"]
    noisy = clean + rng.normal(0.0, 0.02, clean.shape)
    smoothed = smooth_positions(noisy, lam_for_cutoff(2.0, FPS))
    jitter_noisy, jitter_smooth = joint_jitter(noisy, FPS), joint_jitter(smoothed, FPS)
    error_noisy = np.linalg.norm(noisy - clean, axis=-1).mean()
    error_smooth = np.linalg.norm(smoothed - clean, axis=-1).mean()
    assert jitter_smooth <= 0.5 * jitter_noisy
    assert error_smooth < error_noisy


def test_smoothing_solves_the_normal_equations_exactly():
    rng = np.random.default_rng(1)
    T, lam = 60, 0.7
    x_bar = rng.normal(size=(T, 4, 3))
    valid = rng.random(T) > 0.2
    x = smooth_positions(x_bar, lam, valid)
    D = second_difference_matrix(T).toarray()
    flat, target = x.reshape(T, -1), np.where(valid[:, None], x_bar.reshape(T, -1), 0.0)
    # d/dx of sum ||D x||^2 + lam sum_valid ||x - x_bar||^2.
    gradient = 2 * D.T @ D @ flat + 2 * lam * valid[:, None] * (flat - target)
    assert np.abs(gradient).max() < 1e-10
    # ... and is the minimum: any perturbation increases eq. 5.1.
    best = smoothing_objective(x, x_bar, lam, valid)
    for _ in range(5):
        assert smoothing_objective(x + 1e-3 * rng.normal(size=x.shape), x_bar, lam, valid) > best


def test_infinite_lambda_returns_the_input():
    x = np.random.default_rng(2).normal(size=(30, 5, 3))
    np.testing.assert_allclose(smooth_positions(x, 1e12), x, atol=1e-8)
    # ... while a small lambda straightens it: a line is the limit.
    nearly_line = smooth_positions(x, 1e-9)
    assert np.abs(np.diff(nearly_line, 2, axis=0)).max() < 1e-5


def test_gaps_are_filled_smoothly():
    T = 50
    t = np.arange(T, dtype=float)
    line = np.stack([0.1 * t, -0.05 * t + 1.0, np.full(T, 4.0)], axis=-1)[:, None]  # (T, 1, 3)
    valid = np.ones(T, dtype=bool)
    valid[20:30] = False
    corrupt = np.where(valid[:, None, None], line, np.nan)  # missing frames may hold anything
    np.testing.assert_allclose(smooth_positions(corrupt, 0.5, valid), line, atol=1e-9)  # a line stays a line
    person = straight_walk(3)
    clean = person["joints"]
    filled = smooth_positions(np.where(valid[:T, None, None], clean[:T], np.nan), lam_for_cutoff(2.0, FPS), valid[:T])
    gap_error = np.linalg.norm(filled[20:30] - clean[20:30], axis=-1).mean()
    assert gap_error < 0.08  # 10 frames (1 s) of walking bridged within a few cm on average
    assert joint_jitter(filled[18:32], FPS) <= joint_jitter(clean[18:32], FPS)
    with pytest.raises(ValueError, match="valid"):
        smooth_positions(clean, 1.0, np.zeros(100, dtype=bool))


def test_plain_norm_mode_lowers_the_thesis_objective():
    rng = np.random.default_rng(4)
    person = straight_walk(4, 40)
    noisy = person["joints"] + rng.normal(0.0, 0.02, person["joints"].shape)
    lam = 1.0
    squared = smooth_positions(noisy, lam)
    plain = smooth_positions(noisy, lam, mode="plain")
    value = lambda x: smoothing_objective(x, noisy, lam, mode="plain")  # noqa: E731
    assert value(plain) < value(squared) < value(noisy)


def rotation_angle_between(a, b):
    relative = np.swapaxes(axis_angle_to_matrix(a), -1, -2) @ axis_angle_to_matrix(b)
    return np.linalg.norm(matrix_to_axis_angle(relative), axis=-1)


@pytest.mark.parametrize("space", ["6d", "quaternion"])
def test_smooth_track_rotations_are_valid_and_do_not_flip(space):
    rng = np.random.default_rng(5)
    T = 80
    person = straight_walk(5, T)
    # The root turns 1.8 turns about the vertical: axis-angle wraps at pi and quaternions
    # from matrices (w >= 0) change sign there; neither may make the result spin back.
    spin = np.linspace(0.0, 1.8 * 2 * np.pi, T)
    clean_orient = np.stack([(Rotation.from_rotvec([0, s, 0]) * Rotation.from_rotvec([np.pi, 0, 0])).as_rotvec() for s in spin])
    noisy_orient = (Rotation.from_rotvec(rng.normal(0, 0.03, (T, 3))) * Rotation.from_rotvec(clean_orient)).as_rotvec()
    noisy_pose = person["pose"] + rng.normal(0.0, 0.03, person["pose"].shape)
    valid = np.ones(T, dtype=bool)
    valid[30:35] = False
    result = smooth_track(noisy_orient, noisy_pose, person["transl"], lam_for_cutoff(2.0, FPS), valid, rotation_space=space)
    matrices = axis_angle_to_matrix(np.concatenate([result.global_orient[:, None], result.body_pose], axis=1))
    np.testing.assert_allclose(matrices @ np.swapaxes(matrices, -1, -2), np.broadcast_to(np.eye(3), matrices.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(matrices), 1.0, atol=1e-9)
    error = rotation_angle_between(result.global_orient, clean_orient)
    assert error.max() < np.radians(6) and error.mean() < np.radians(2.5)
    step = rotation_angle_between(result.global_orient[1:], result.global_orient[:-1])
    true_step = spin[1] - spin[0]
    assert np.abs(step - true_step).max() < np.radians(5)  # no flip: every step turns as much as the truth
    assert rotation_angle_between(result.body_pose, person["pose"]).mean() < rotation_angle_between(noisy_pose, person["pose"]).mean()
    np.testing.assert_allclose(result.transl, smooth_positions(person["transl"], lam_for_cutoff(2.0, FPS), valid))


def test_joint_jitter_of_constant_acceleration():
    t = np.arange(20) / FPS
    joints = np.zeros((20, 2, 3))
    joints[..., 2] = 0.5 * 3.0 * t[:, None] ** 2  # 3 m/s^2 along z
    assert joint_jitter(joints, FPS) == pytest.approx(3.0)
    assert lam_for_cutoff(2.0, FPS) == pytest.approx(16 * np.sin(np.pi * 0.2) ** 4)


# ------------------------------------------------------------------------- refinement


def test_refinement_reduces_reprojection_error():
    rng = np.random.default_rng(6)
    T = 20
    person = straight_walk(6, T)
    keypoints = annotate(coco_pixels(person["joints"]))  # exact 2D
    noisy_orient = person["orient"] + rng.normal(0.0, 0.02, (T, 3))
    noisy_pose = person["pose"] + rng.normal(0.0, 0.05, (T, 23, 3))
    noisy_transl = person["transl"] + rng.normal(0.0, 0.03, (T, 3))
    orient, pose, transl, report = refine_track(noisy_orient, noisy_pose, noisy_transl, person["rest"], keypoints, K)
    assert report.initial_error_px > 5.0
    assert report.final_error_px < 0.3 * report.initial_error_px
    assert report.final_loss < report.initial_loss
    recomputed = keypoint_distance(keypoints, coco_pixels(posed_joints(orient, pose, transl, person["rest"]))).mean()
    assert recomputed == pytest.approx(report.final_error_px, rel=1e-6)


def test_refinement_leaves_a_perfect_track_unchanged():
    person = straight_walk(7, 20)
    keypoints = annotate(coco_pixels(person["joints"]))
    orient, pose, transl, report = refine_track(person["orient"], person["pose"], person["transl"], person["rest"], keypoints, K)
    assert report.initial_error_px < 1e-9
    np.testing.assert_allclose(posed_joints(orient, pose, transl, person["rest"]), person["joints"], atol=1e-6)
    with pytest.raises(ValueError, match="keypoints2d"):
        refine_track(person["orient"], person["pose"], person["transl"], person["rest"], keypoints[:5], K)


def test_a_spurious_neighbour_track_does_not_steal_the_person():
    # One person; at frame 5 a spurious second detection 30 cm away starts a second track.
    # Without the gap penalty the two tracks would take turns; with it the person stays put.
    rng = np.random.default_rng(8)
    person = walker(rng, np.linspace(-1, 1, 30), np.full(30, 4.0))
    frames = np.arange(30)
    joints = person["joints"] + rng.normal(scale=0.03, size=person["joints"].shape)
    spurious = person["joints"][5] + np.array([0.3, 0.0, 0.0])
    all_frames = np.concatenate([frames, [5]])
    all_joints = np.concatenate([joints, spurious[None]])
    classes = np.full(31, STAFF)
    ids = track(all_frames, all_joints, classes)
    assert len(set(ids[:30])) == 1, "the real person keeps one track"
    alternating = track(all_frames, all_joints, classes, gap_weight=0.0)
    assert len(set(alternating[:30])) > 1, "negative control: without the penalty the tracks take turns"
