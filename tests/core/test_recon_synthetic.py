"""The synthetic Teton-like sequences: ground truth checked by value against independent geometry."""

from __future__ import annotations

import dataclasses
import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest

from addon.core.camera import intrinsics_from_fov
from addon.core.recon.sequence import read_sequence
from addon.core.recon.synthetic import (
    CLASS_NAMES,
    MASK_LABELS,
    SyntheticConfig,
    cast_capsules,
    generate_sequence,
    person_capsules,
    write_synthetic_sequence,
)
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import JOINT_NAMES, forward_kinematics

SMALL = SyntheticConfig(image_size=(160, 120), num_frames=20, key_frame_every=5)

# A joints-only body (designed adult T-pose, Y up, facing +Z, left +X) for when the bundled
# stand-in body is not there: FK of fixed rest joints, the joints standing in for vertices.
_LEFT_AND_MIDDLE = {
    "pelvis": (0.0, -0.23, 0.0), "left_hip": (0.085, -0.32, 0.0), "spine1": (0.0, -0.12, -0.015),
    "left_knee": (0.095, -0.73, 0.005), "spine2": (0.0, -0.01, -0.015), "left_ankle": (0.10, -1.14, -0.03),
    "spine3": (0.0, 0.07, -0.015), "left_foot": (0.115, -1.195, 0.10), "neck": (0.0, 0.25, -0.025),
    "left_collar": (0.075, 0.17, -0.02), "head": (0.0, 0.36, 0.005), "left_shoulder": (0.185, 0.155, -0.025),
    "left_elbow": (0.46, 0.15, -0.035), "left_wrist": (0.70, 0.15, -0.025), "left_hand": (0.785, 0.145, -0.025),
}


def _rest() -> np.ndarray:
    rows = []
    for name in JOINT_NAMES:
        x, y, z = _LEFT_AND_MIDDLE[name.replace("right_", "left_")]
        rows.append((-x if name.startswith("right_") else x, y, z))
    return np.array(rows)


class JointsOnlyBody:
    """rest_joints / forward like BodyModel; ``vertices`` are the joints (no mesh)."""

    def rest_joints(self, betas=None):
        return _rest()

    def forward(self, global_orient, body_pose, transl, betas=None):
        local = axis_angle_to_matrix(np.concatenate([np.asarray(global_orient)[:, None], np.asarray(body_pose)], axis=1))
        _, joints = forward_kinematics(local, _rest(), np.asarray(transl, dtype=np.float64))
        return SimpleNamespace(joints=joints, vertices=joints)


@pytest.fixture(scope="module")
def body():
    if importlib.util.find_spec("addon.core.body.standin") is not None:
        from addon.core.body.model import load_body_model

        return load_body_model(None)
    return JointsOnlyBody()


@pytest.fixture(scope="module")
def clean(body):
    return generate_sequence(dataclasses.replace(SMALL, num_people=(2, 2)), np.random.default_rng(3), body)


@pytest.fixture(scope="module")
def exact(body):
    """Clean preset with HMR jitter 0: predictions are the truth up to float32."""
    return generate_sequence(dataclasses.replace(SMALL, num_people=(2, 2), jitter=0.0), np.random.default_rng(3), body)


@pytest.fixture(scope="module")
def noisy(body):
    return generate_sequence(dataclasses.replace(SMALL, num_people=(2, 2), noise="noisy"), np.random.default_rng(3), body)


def world_points(generated, index: int) -> np.ndarray:
    """(H, W, 3) world points of key frame ``index``'s true depth, back-projected through K."""
    gt = generated.ground_truth
    z = gt["true_depth"][index].astype(np.float64)
    H, W = z.shape
    u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    pixels = np.stack([u, v, np.ones_like(u)], axis=-1)
    camera = (pixels @ np.linalg.inv(gt["K"]).T) * z[..., None]
    return camera @ gt["camera_to_world"][:3, :3].T + gt["camera_to_world"][:3, 3]


def true_people(generated, body):
    """Per person: world joints (T, 24, 3) and world rotations (T, 24, 3, 3) from the ground truth."""
    gt = generated.ground_truth
    result = []
    for p in range(len(gt["person_track"])):
        orient, pose, transl = gt["person_global_orient"][p], gt["person_body_pose"][p], gt["person_transl"][p]
        joints = body.forward(orient, pose, transl, gt["person_betas"][p]).joints
        local = axis_angle_to_matrix(np.concatenate([orient[:, None], pose], axis=1))
        rotations, _ = forward_kinematics(local, body.rest_joints(gt["person_betas"][p]))
        result.append((joints, rotations))
    return result


def label_id(name: str) -> int:
    return MASK_LABELS.index(name)


# ---------------------------------------------------------------------------
# Geometry of the true depth and the masks
# ---------------------------------------------------------------------------


def test_true_depth_lands_on_the_surfaces_of_the_labelled_boxes(clean, body):
    gt = clean.ground_truth
    people = true_people(clean, body)
    for index, k in enumerate(clean.meta.key_frames):
        points, mask = world_points(clean, index), clean.masks[k]
        floor = mask == label_id("floor")
        assert floor.mean() > 0.1
        assert np.abs(points[floor][:, 2]).max() < 1e-3, "floor pixels back-project onto z = 0"
        for label in ("bed", "chair", "table"):
            hit = points[mask == label_id(label)]
            if not len(hit):
                continue
            # Distance outside each box (max over axes of |local| - half): 0 on its surface.
            outside = []
            for center, size, yaw in zip(gt["furniture_center"], gt["furniture_size"], gt["furniture_yaw_deg"]):
                c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
                local = (hit - center) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
                outside.append((np.abs(local) - size / 2).max(axis=1))
            own = np.array(outside)[gt["furniture_labels"] == label]
            assert np.abs(own).min(axis=0).max() < 1e-3, f"{label} pixels lie on a {label} box"
        wall = points[mask == label_id("wall")]
        width, depth = wall[:, 0].max(), wall[:, 1].max()
        to_wall = np.minimum.reduce([np.abs(wall[:, 0]), np.abs(wall[:, 0] - width), np.abs(wall[:, 1]), np.abs(wall[:, 1] - depth)])
        assert to_wall.max() < 1e-3 and wall[:, 2].min() > -1e-3
        ceiling = points[mask == label_id("ceiling")]
        if len(ceiling):
            assert np.ptp(ceiling[:, 2]) < 1e-3 and ceiling[0, 2] > gt["camera_height"]
        # People: every person pixel is on the surface of the union of its capsules.
        person = points[mask == label_id("person")]
        assert len(person) > 20
        gap = np.full(len(person), np.inf)
        for joints, rotations in people:
            a, b, radius = person_capsules(joints[k], rotations[k])
            ab = b - a
            s = np.clip(((person[:, None] - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
            distance = np.linalg.norm(person[:, None] - (a + s[..., None] * ab), axis=-1) - radius
            gap = np.minimum(gap, distance.min(axis=1))
        assert np.abs(gap).max() < 1e-3


def test_person_silhouettes_match_a_brute_force_cast_of_every_pixel(clean, body):
    # The renderer casts each capsule only inside its screen box; all pixels x all capsules must agree.
    gt = clean.ground_truth
    people = true_people(clean, body)
    R, t = np.linalg.inv(gt["camera_to_world"])[:3, :3], np.linalg.inv(gt["camera_to_world"])[:3, 3]
    u, v = np.meshgrid(np.arange(160) + 0.5, np.arange(120) + 0.5)
    rays = np.stack([u, v, np.ones_like(u)], axis=-1).reshape(-1, 3) @ np.linalg.inv(gt["K"]).T
    for index, k in enumerate(clean.meta.key_frames):
        capsules = [person_capsules(joints[k] @ R.T + t, R @ rotations[k]) for joints, rotations in people]
        a, b, radius = (np.concatenate(parts) for parts in zip(*capsules))
        hit = cast_capsules(rays, a, b, radius).reshape(120, 160)
        person = clean.masks[k] == label_id("person")
        assert np.array_equal(person, hit <= gt["true_depth"][index] * (1 + 1e-6))
        assert np.allclose(gt["true_depth"][index][person], hit[person], rtol=1e-6)


def test_floor_label_is_exactly_where_the_ray_first_meets_the_floor(clean):
    gt = clean.ground_truth
    for index, k in enumerate(clean.meta.key_frames):
        H, W = clean.masks[k].shape
        u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
        rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(gt["K"]).T  # camera z = 1
        world = rays @ gt["camera_to_world"][:3, :3].T
        floor_z = -gt["camera_to_world"][2, 3] / world[..., 2]  # z-depth where the ray meets z = 0
        z = gt["true_depth"][index]
        meets_floor_first = (floor_z > 0) & (np.abs(z - floor_z) < 1e-6 * floor_z)  # float32 depth
        floor = clean.masks[k] == label_id("floor")
        assert np.array_equal(floor, meets_floor_first)


def test_camera_is_in_a_ceiling_corner_looking_down(clean):
    gt = clean.ground_truth
    pose = gt["camera_to_world"]
    assert np.allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-9) and np.linalg.det(pose[:3, :3]) > 0
    assert 2.3 <= gt["camera_height"] <= 2.7 and gt["camera_height"] == pose[2, 3]
    assert np.allclose(gt["floor_normal_camera"], pose[2, :3])
    forward = pose[:3, 2]
    assert forward[2] < -0.2, "looks down"
    fov = 2 * np.degrees(np.arctan(160 / 2 / gt["K"][0, 0]))
    assert 70 <= fov <= 100
    assert np.allclose(clean.meta.intrinsics.matrix(), gt["K"])


def test_people_walk_forwards_on_the_floor_at_walking_speed(body):
    config = dataclasses.replace(SMALL, num_frames=120, key_frame_every=120, num_people=(2, 2))
    generated = generate_sequence(config, np.random.default_rng(8), body)
    gt = generated.ground_truth
    people = true_people(generated, body)
    walking_frames = 0
    for p, (joints, _) in enumerate(people):
        lowest = joints[..., 2].min(axis=1)
        assert (lowest > -1e-9).all() and (lowest < 0.12).all(), "feet on the floor (joints above the soles)"
        assert (joints[:, 15, 2] > 1.3).all(), "standing upright"
        pelvis = joints[:, 0, :2]
        velocity = np.diff(pelvis, axis=0) * config.fps
        speed = np.linalg.norm(velocity, axis=1)
        walking = speed > 0.3
        walking_frames += walking.sum()
        assert (speed[walking] > 0.75).all() and (speed < 1.25).all()
        # The template faces +Z; the root rotation must turn it along the walk.
        facing = axis_angle_to_matrix(gt["person_global_orient"][p][1:]) @ np.array([0.0, 0.0, 1.0])
        assert np.abs(facing[:, 2]).max() < 1e-9, "upright: facing stays horizontal"
        cosine = (facing[walking, :2] * velocity[walking]).sum(1) / speed[walking]
        assert (cosine > 0.99).all()
    assert walking_frames > 30
    distance = np.linalg.norm(people[0][0][:, 0, :2] - people[1][0][:, 0, :2], axis=1)
    assert distance.min() >= 0.6, "two people do not walk through each other"


# ---------------------------------------------------------------------------
# Depth Anything-like maps
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture, white, min_inliers", [("clean", 0.002, 1.0), ("noisy", 0.01, 0.99)])
def test_disparity_is_the_recorded_affine_map_of_inverse_depth(request, fixture, white, min_inliers):
    generated = request.getfixturevalue(fixture)
    gt = generated.ground_truth
    scale, offset = float(gt["disparity_scale"]), float(gt["disparity_offset"])
    for index, k in enumerate(generated.meta.key_frames):
        expected = scale / gt["true_depth"][index].astype(np.float64)
        relative = (generated.depth[k].disparity - offset) / expected - 1
        inliers = np.abs(relative) < 6 * white
        assert inliers.mean() >= min_inliers
        assert relative[inliers].std() == pytest.approx(white, rel=0.2), "noise of the stated size"


def test_metric_depth_is_the_area_average_with_noise(clean):
    gt = clean.ground_truth
    for index, k in enumerate(clean.meta.key_frames):
        metric = clean.depth[k].metric
        assert metric.shape == (30, 40) and metric.dtype == np.float32
        block = gt["true_depth"][index].astype(np.float64).reshape(30, 4, 40, 4).mean(axis=(1, 3))
        relative = metric / block - 1
        assert np.abs(relative).max() < 6 * 0.01 and np.abs(relative).std() > 0.005


# ---------------------------------------------------------------------------
# Detections
# ---------------------------------------------------------------------------


def test_projected_true_joints_are_the_clean_keypoints(clean, body):
    gt, det = clean.ground_truth, clean.detections
    people = true_people(clean, body)
    R, t = np.linalg.inv(gt["camera_to_world"])[:3, :3], np.linalg.inv(gt["camera_to_world"])[:3, 3]
    smpl_for_body = [16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8]  # COCO 5..16
    assert len(det) > 10
    for row in range(len(det)):
        joints = people[gt["detection_person"][row]][0][det.frame[row]] @ R.T + t
        uv = joints @ gt["K"].T
        uv = uv[:, :2] / uv[:, 2:]
        keypoints = det.keypoints[row]
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < 160) & (uv[:, 1] >= 0) & (uv[:, 1] < 120) & (joints[:, 2] > 0.05)
        body_points = keypoints[5:]
        assert np.array_equal(body_points[:, 2] > 0, inside[smpl_for_body]), "confidence 1 exactly in the image"
        seen = body_points[:, 2] > 0
        assert np.abs(body_points[seen, :2] - uv[smpl_for_body][seen]).max() < 1e-3
        # Face points: within ~12 cm of the head joint, projected.
        head = uv[15]
        face = keypoints[:5][keypoints[:5, 2] > 0]
        assert (np.linalg.norm(face[:, :2] - head, axis=1) < 0.12 * gt["K"][0, 0] / joints[15, 2]).all()
        # The box holds every visible keypoint.
        x0, y0, x1, y1 = det.bbox[row]
        visible = keypoints[keypoints[:, 2] > 0]
        assert (visible[:, 0] >= x0).all() and (visible[:, 0] <= x1).all()
        assert (visible[:, 1] >= y0).all() and (visible[:, 1] <= y1).all()
    assert set(det.class_id.tolist()) == {CLASS_NAMES.index(role) for role in gt["person_role"]}
    assert set(det.track_id.tolist()) == set(gt["person_track"].tolist())


def _hmr_world_joints(generated, body, rows) -> np.ndarray:
    det, pose = generated.detections, generated.ground_truth["camera_to_world"]
    cam = body.forward(det.global_orient[rows].astype(np.float64), det.body_pose[rows].astype(np.float64),
                       det.cam_t[rows].astype(np.float64), None).joints
    return cam @ pose[:3, :3].T + pose[:3, 3]


def test_zero_jitter_predictions_reproduce_the_world_joints(exact, body):
    gt, det = exact.ground_truth, exact.detections
    people = true_people(exact, body)
    truth = np.stack([people[p][0][f] for p, f in zip(gt["detection_person"], det.frame)])
    if isinstance(body, JointsOnlyBody):
        predicted = _hmr_world_joints(exact, body, slice(None))
    else:  # betas matter for a real body: use each row's
        predicted = np.concatenate([
            body.forward(det.global_orient[i : i + 1].astype(np.float64), det.body_pose[i : i + 1].astype(np.float64),
                         det.cam_t[i : i + 1].astype(np.float64), det.betas[i].astype(np.float64)).joints
            for i in range(len(det))
        ]) @ gt["camera_to_world"][:3, :3].T + gt["camera_to_world"][:3, 3]
        assert np.allclose(det.betas, gt["person_betas"][gt["detection_person"]], atol=1e-6)
    assert np.abs(predicted - truth).max() < 1e-3


def test_default_jitter_is_a_monocular_error_mostly_along_the_ray(clean, exact, body):
    assert np.array_equal(clean.detections.frame, exact.detections.frame)
    error = clean.detections.cam_t.astype(np.float64) - exact.detections.cam_t
    ray = exact.detections.cam_t / np.linalg.norm(exact.detections.cam_t, axis=1, keepdims=True)
    along = (error * ray).sum(1)
    across = np.linalg.norm(error - along[:, None] * ray, axis=1)
    assert np.sqrt((along**2).mean()) > 2 * np.sqrt((across**2).mean() / 2)
    angle = np.linalg.norm(clean.detections.body_pose - exact.detections.body_pose, axis=-1)
    assert 0.01 < np.median(angle) < 0.1, "a few degrees of joint jitter"


def test_noisy_preset_keeps_the_world_and_adds_the_annotation_slips(clean, noisy, body):
    for key in ("camera_to_world", "person_transl", "person_body_pose", "furniture_center"):
        assert np.array_equal(clean.ground_truth[key], noisy.ground_truth[key]), key
    gt, det = noisy.ground_truth, noisy.detections
    rows_clean = set(zip(clean.ground_truth["detection_person"].tolist(), clean.detections.frame.tolist()))
    rows_noisy = set(zip(gt["detection_person"].tolist(), det.frame.tolist()))
    assert rows_noisy < rows_clean, "missed detections, nothing invented"
    # The thesis' occlusion case: the occluded person's row carries the occluder's pose.
    duplicates = np.flatnonzero(gt["detection_duplicate"])
    assert len(duplicates) > 0
    people = true_people(noisy, body)
    for row in duplicates:
        others = np.flatnonzero((det.frame == det.frame[row]) & (gt["detection_person"] != gt["detection_person"][row]))
        assert any(np.array_equal(det.body_pose[row], det.body_pose[o]) for o in others)
        predicted = _hmr_world_joints(noisy, body, [row])[0, 0]
        own = people[gt["detection_person"][row]][0][det.frame[row], 0]
        occluder = people[1 - gt["detection_person"][row]][0][det.frame[row], 0]
        assert np.linalg.norm(predicted - occluder) < np.linalg.norm(predicted - own)
    assert (det.keypoints[..., 2] > 0).mean() < (clean.detections.keypoints[..., 2] > 0).mean()


def test_noisy_flags_fire_over_a_long_sequence(body):
    config = dataclasses.replace(SMALL, num_frames=200, key_frame_every=200, noise="noisy")
    generated = generate_sequence(config, np.random.default_rng(11), body)
    det, gt = generated.detections, generated.ground_truth
    true_class = np.array([CLASS_NAMES.index(gt["person_role"][p]) for p in gt["detection_person"]])
    assert 0 < (det.class_id != true_class).mean() < 0.1
    assert 0 < (det.track_id == -1).mean() < 0.15
    assert 0 < (det.action_id == -1).mean() < 0.15


# ---------------------------------------------------------------------------
# Determinism, the written folder, the config
# ---------------------------------------------------------------------------


def _all_arrays(generated) -> dict[str, np.ndarray]:
    arrays = {f"det.{key}": value for key, value in generated.detections.arrays().items()}
    arrays.update({f"gt.{key}": value for key, value in generated.ground_truth.items()})
    for k in generated.meta.key_frames:
        arrays[f"metric.{k}"] = generated.depth[k].metric
        arrays[f"disparity.{k}"] = generated.depth[k].disparity
        arrays[f"mask.{k}"] = generated.masks[k]
    return arrays


def test_same_seed_same_arrays_other_seed_other_room(body, noisy):
    config = dataclasses.replace(SMALL, num_people=(2, 2), noise="noisy")
    again = _all_arrays(generate_sequence(config, np.random.default_rng(3), body))
    first = _all_arrays(noisy)
    assert first.keys() == again.keys()
    for key in first:
        assert np.array_equal(first[key], again[key]), key
    other = generate_sequence(config, np.random.default_rng(4), body).ground_truth
    assert not np.allclose(other["camera_to_world"], noisy.ground_truth["camera_to_world"])
    assert not np.allclose(other["furniture_center"], noisy.ground_truth["furniture_center"])


def test_written_sequence_reads_back_with_its_ground_truth(tmp_path, body):
    config = dataclasses.replace(SMALL, intrinsics_known=False)
    folder = write_synthetic_sequence(tmp_path / "synthetic", config, seed=5, body=body)
    sequence = read_sequence(folder)
    regenerated = generate_sequence(config, np.random.default_rng(5), body)
    assert sequence.meta == regenerated.meta and sequence.meta.intrinsics is None
    assert np.allclose(sequence.intrinsics(), intrinsics_from_fov(160, 120, 90.0))
    truth = sequence.ground_truth()
    assert truth.keys() == regenerated.ground_truth.keys()
    for key, value in regenerated.ground_truth.items():
        assert np.array_equal(truth[key], value), key
    k = sequence.meta.key_frames[-1]
    assert np.array_equal(sequence.mask(k), regenerated.masks[k])
    assert np.array_equal(sequence.disparity(k), regenerated.depth[k].disparity)


@pytest.mark.parametrize(
    "changes",
    [dict(num_people=(1, 3)), dict(image_size=(161, 120)), dict(noise="awful"), dict(jitter=-1.0),
     dict(roles=("patient",), num_people=(2, 2)), dict(camera_height=(2.5, 2.7), room_height=(2.5, 3.0))],
)
def test_config_rejects_impossible_requests(changes):
    with pytest.raises(ValueError, match="SyntheticConfig"):
        SyntheticConfig(**changes)
