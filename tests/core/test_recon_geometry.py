"""Depth restoration, back-projection, voxel downsampling and floor alignment, by value.

Every input is synthesised here: a camera 2.6 m above a floor, tilted down and yawed, looking at
two boxes and a back wall, with analytic depth per pixel from ray-plane / ray-box intersection.
"""

from __future__ import annotations

import numpy as np
import pytest

from addon.core.recon.backproject import (
    PointCloud,
    backproject,
    default_intrinsics,
    point_cloud,
    project,
    voxel_downsample,
)
from addon.core.recon.depth import (
    DisparityFit,
    fit_disparity_affine,
    restore_metric_depth,
    upsample_inverse_depth,
)
from addon.core.recon.floor import (
    Plane,
    align_smpl_roots,
    camera_to_world,
    fit_floor_plane,
    floor_alignment,
    rotation_between,
    transform_points,
)
from addon.core.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from addon.core.skeleton import forward_kinematics

W, H = 320, 240  # disparity / full resolution
w, h = 128, 96  # metric resolution (ratio 2.5: not an integer, as the format allows)
CAMERA_HEIGHT = 2.6
TILT_DEG, YAW_DEG = 40.0, 20.0
WALL_Y = 5.0
FLOOR, BED, CABINET, WALL = 1, 2, 3, 4
BOXES = (  # label, min corner, max corner (world, metres)
    (BED, np.array([-0.2, 2.0, 0.0]), np.array([1.8, 3.0, 0.6])),
    (CABINET, np.array([-1.5, 3.2, 0.0]), np.array([-0.9, 3.8, 1.0])),
)
# Disparity = SCALE / depth + OFFSET, so alpha = 1 / SCALE and beta = -OFFSET / SCALE.
SCALE, OFFSET = 10.0, 0.5
ALPHA, BETA = 1.0 / SCALE, -OFFSET / SCALE


def camera_pose() -> tuple[np.ndarray, np.ndarray]:
    """OpenCV camera -> world rotation (columns: right, down, forward) and centre."""
    tilt, yaw = np.radians(TILT_DEG), np.radians(YAW_DEG)
    forward = np.array([0.0, np.cos(tilt), -np.sin(tilt)])
    right = np.array([1.0, 0.0, 0.0])
    down = np.cross(forward, right)  # x cross y = z  <=>  z cross x = y
    Rz = np.array([[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
    return Rz @ np.stack([right, down, forward], axis=1), np.array([0.3, -0.5, CAMERA_HEIGHT])


def render(K: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Analytic depth (camera z, metres) and label per pixel centre of a (rows, cols) image."""
    R, C = camera_pose()
    v, u = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    rays_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    rays = rays_cam @ R.T  # world direction with camera-z component 1: ray parameter = depth
    depth = np.full(shape, np.inf)
    labels = np.zeros(shape, dtype=np.int64)

    def hit(t: np.ndarray, label: int) -> None:
        closer = (t > 0) & (t < depth)
        depth[closer] = t[closer]
        labels[closer] = label

    with np.errstate(divide="ignore", invalid="ignore"):
        hit(np.where(rays[..., 2] < 0, -C[2] / rays[..., 2], np.inf), FLOOR)
        hit(np.where(rays[..., 1] > 0, (WALL_Y - C[1]) / rays[..., 1], np.inf), WALL)
        for label, lo, hi in BOXES:
            t0, t1 = (lo - C) / rays, (hi - C) / rays
            near = np.minimum(t0, t1).max(-1)
            far = np.maximum(t0, t1).min(-1)
            hit(np.where(near <= far, near, np.inf), label)
    assert np.isfinite(depth).all()
    return depth, labels


def scaled_intrinsics(K: np.ndarray, factor: float) -> np.ndarray:
    S = np.diag([factor, factor, 1.0])
    return S @ K


@pytest.fixture(scope="module")
def scene():
    K = default_intrinsics(W, H)
    depth, labels = render(K, (H, W))
    depth_low, _ = render(scaled_intrinsics(K, w / W), (h, w))
    return K, depth, labels, depth_low


def noisy_key_frames(scene, rng: np.random.Generator, frames: int = 3, outlier_fraction: float = 0.05):
    """Disparity (0.5% noise, gross outliers) and low-resolution metric depth (1% noise) per frame."""
    _, depth, _, depth_low = scene
    disparities, metrics, outliers = [], [], []
    for _ in range(frames):
        disparity = (SCALE / depth + OFFSET) * (1.0 + 0.005 * rng.standard_normal(depth.shape))
        gross = rng.random(depth.shape) < outlier_fraction
        disparity[gross] = rng.uniform(0.0, 1.5 * disparity.max(), size=int(gross.sum()))
        disparities.append(disparity)
        metrics.append(depth_low * (1.0 + 0.01 * rng.standard_normal(depth_low.shape)))
        outliers.append(gross)
    return disparities, metrics, outliers


# ---------------------------------------------------------------- depth restoration (thesis 5.1)


@pytest.mark.parametrize("method", ["huber", "ransac"])
def test_disparity_fit_recovers_scale_and_offset(scene, method):
    rng = np.random.default_rng(1)
    disparities, metrics, outliers = noisy_key_frames(scene, rng)
    fit = fit_disparity_affine(disparities, metrics, method=method, rng=np.random.default_rng(2))
    assert abs(fit.alpha / ALPHA - 1.0) < 0.01
    assert abs(fit.beta / BETA - 1.0) < 0.01
    assert 0.85 < fit.inlier_fraction < 0.97  # the 5% gross outliers are not inliers
    # Restored depth at full resolution, away from the outliers, matches the truth in scale.
    depth = scene[1]
    restored = restore_metric_depth(disparities[0], fit)
    ratio = restored[~outliers[0]] / depth[~outliers[0]]
    assert abs(np.median(ratio) - 1.0) < 0.02
    assert np.percentile(np.abs(ratio - 1.0), 95) < 0.03


def test_least_squares_without_robustness_fails_on_the_outliers(scene):
    """The control: the same data through plain least squares is far off, so robustness matters."""
    disparities, metrics, _ = noisy_key_frames(scene, np.random.default_rng(1))
    d = np.concatenate([x.ravel() for x in disparities])
    y = np.concatenate([upsample_inverse_depth(m, (H, W)).ravel() for m in metrics])
    alpha, beta = np.polyfit(d, y, 1)
    assert abs(alpha / ALPHA - 1.0) > 0.10 or abs(beta / BETA - 1.0) > 0.10


def test_disparity_fit_ignores_invalid_and_masked_pixels(scene):
    rng = np.random.default_rng(3)
    disparities, metrics, _ = noisy_key_frames(scene, rng, frames=2, outlier_fraction=0.0)
    metrics[0][:20] = np.nan  # no metric depth
    metrics[1][:, :30] = -1.0  # non-positive metric depth
    disparities[0][100:140] = 1e6  # garbage, but masked out below
    valid = [np.ones((H, W), bool), np.ones((H, W), bool)]
    valid[0][100:140] = False
    fit = fit_disparity_affine(disparities, metrics, valid=valid, method="huber", rng=rng)
    assert abs(fit.alpha / ALPHA - 1.0) < 0.01 and abs(fit.beta / BETA - 1.0) < 0.01
    assert fit.inlier_fraction > 0.97


def test_restore_metric_depth_marks_non_positive_denominators_invalid():
    fit = DisparityFit(alpha=0.1, beta=-0.05, inlier_fraction=1.0, residual_rms=0.0)
    disparity = np.array([[2.5, 0.5, 0.1, np.nan]])
    restored = restore_metric_depth(disparity, fit)
    assert restored[0, 0] == pytest.approx(1.0 / (0.1 * 2.5 - 0.05))
    assert np.isnan(restored[0, 1:]).all()


def test_upsampled_inverse_depth_is_exact_on_planes_and_rejects_invalid_taps():
    # Inverse depth affine in the pixel coordinates (any plane) survives upsampling exactly.
    v, u = np.mgrid[0:6, 0:8] + 0.5
    inverse = 0.2 + 0.01 * u + 0.03 * v
    up = upsample_inverse_depth(1.0 / inverse, (15, 20))  # factor 2.5
    V, U = np.mgrid[0:15, 0:20] + 0.5
    expected = 0.2 + 0.01 * (U / 2.5) + 0.03 * (V / 2.5)
    inner = (slice(2, -2), slice(2, -2))  # edges are clamped, not extrapolated
    np.testing.assert_allclose(up[inner], expected[inner], atol=1e-12)
    metric = 1.0 / inverse
    metric[3, 4] = np.nan
    assert np.isnan(upsample_inverse_depth(metric, (15, 20))[8, 10])


def test_disparity_fit_reports_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="metric: 1 maps for 2"):
        fit_disparity_affine([np.ones((4, 4))] * 2, [np.ones((2, 2))], rng=rng)
    with pytest.raises(ValueError, match="fewer than 2 valid pixels"):
        fit_disparity_affine([np.ones((4, 4))], [np.full((2, 2), np.nan)], rng=rng)
    with pytest.raises(ValueError, match="not positive"):  # disparity that grows with depth
        depth = np.linspace(1.0, 5.0, 64).reshape(8, 8)
        fit_disparity_affine([depth], [depth], rng=rng)


# ---------------------------------------------------------------- back-projection (draft eq. 4.4-4.5)


def test_backproject_then_project_returns_pixel_centres():
    K = np.array([[410.0, 0.0, 161.3], [0.0, 395.0, 118.7], [0.0, 0.0, 1.0]])  # fx != fy on purpose
    depth = np.random.default_rng(4).uniform(0.5, 9.0, size=(H, W))
    uv = project(backproject(depth, K).reshape(-1, 3), K)
    v, u = np.mgrid[0:H, 0:W] + 0.5
    np.testing.assert_allclose(uv, np.stack([u.ravel(), v.ravel()], -1), atol=1e-6, rtol=0)


def test_fronto_parallel_wall_lies_at_its_depth():
    K = default_intrinsics(W, H)
    points = backproject(np.full((H, W), 3.25), K)
    np.testing.assert_allclose(points[..., 2], 3.25, atol=1e-12)
    # 90 degree horizontal field of view: the outer pixel edges sit at x = +-Z.
    half_pixel = 3.25 / K[0, 0] / 2.0
    assert points[0, 0, 0] == pytest.approx(-3.25 + half_pixel)
    assert points[0, -1, 0] == pytest.approx(3.25 - half_pixel)
    assert points[0, 0, 1] < 0 < points[-1, 0, 1]  # y down
    assert np.isnan(backproject(np.array([[0.0, -1.0, np.nan]]), K)).all()


def test_backprojected_floor_pixels_land_on_the_floor(scene):
    """Conventions end to end: pixel centres, f_y for Y, OpenCV axes."""
    K, depth, labels, _ = scene
    R, C = camera_pose()
    world = transform_points(backproject(depth, K), R, C)
    np.testing.assert_allclose(world[labels == FLOOR][:, 2], 0.0, atol=1e-9)
    np.testing.assert_allclose(world[labels == WALL][:, 1], WALL_Y, atol=1e-9)


def test_point_cloud_keeps_valid_pixels_with_colours_and_labels(scene):
    K, depth, labels, _ = scene
    depth2 = depth.copy()
    depth2[:10] = np.nan
    valid = np.ones((H, W), bool)
    valid[:, :5] = False
    colors = np.zeros((H, W, 3), np.uint8)
    colors[..., 0] = 200
    cloud = point_cloud([depth, depth2], [colors, colors], [labels, labels], K=K, valid=[np.ones((H, W), bool), valid])
    assert len(cloud) == H * W + (H - 10) * (W - 5)
    assert cloud.colors.dtype == np.uint8 and (cloud.colors[:, 0] == 200).all()
    assert np.bincount(cloud.labels)[FLOOR] == (labels == FLOOR).sum() + (labels[10:, 5:] == FLOOR).sum()
    assert (point_cloud(depth, K=K).labels == -1).all()
    with pytest.raises(ValueError, match="no valid depth"):
        point_cloud([np.full((4, 4), np.nan)], K=K)


# ---------------------------------------------------------------- voxel downsampling


def test_voxel_downsample_respects_the_budget(scene):
    K, depth, labels, _ = scene
    cloud = point_cloud(depth, masks=labels, K=K)
    for budget in (500, 3000, 20000):
        small = voxel_downsample(cloud, point_budget=budget)
        assert 0.95 * budget <= len(small) <= budget
        # Each label keeps about its share of the scene.
        assert set(np.unique(small.labels)) == {FLOOR, BED, CABINET, WALL}
    assert voxel_downsample(cloud, point_budget=len(cloud)) is cloud


def test_voxel_downsample_means_and_majority_label():
    points = np.array([
        [0.01, 0.01, 0.01], [0.02, 0.03, 0.04], [0.05, 0.05, 0.05], [0.08, 0.02, 0.06], [0.09, 0.09, 0.09],
        [1.05, 0.05, 0.05], [1.06, 0.06, 0.06],  # second voxel: tie between labels 7 and 3
    ])
    labels = np.array([2, 5, 2, 5, 2, 7, 3])
    colors = np.array([[10, 0, 0], [20, 0, 0], [30, 0, 0], [40, 0, 0], [50, 0, 0], [0, 100, 0], [0, 201, 0]], np.uint8)
    small = voxel_downsample(PointCloud(points, colors, labels), voxel_size=0.1)
    assert len(small) == 2
    np.testing.assert_allclose(small.points[0], points[:5].mean(0), atol=1e-12)
    np.testing.assert_allclose(small.points[1], points[5:].mean(0), atol=1e-12)
    assert small.labels.tolist() == [2, 3]  # majority; tie -> smaller id
    assert small.colors.tolist() == [[30, 0, 0], [0, 150, 0]]  # 150.5 rounds half to even


def test_voxel_downsample_dense_and_sorted_paths_agree(scene, monkeypatch):
    """Small grids count in a dense table, large ones by sorting keys: same result either way."""
    from addon.core.recon import backproject as module

    K, depth, labels, _ = scene
    colors = (np.arange(H * W * 3) % 251).astype(np.uint8).reshape(H, W, 3)
    cloud = point_cloud(depth, colors, labels, K=K)
    dense = voxel_downsample(cloud, point_budget=4000), voxel_downsample(cloud, voxel_size=0.05)
    monkeypatch.setattr(module, "_DENSE_CELLS", 0)
    sorted_ = voxel_downsample(cloud, point_budget=4000), voxel_downsample(cloud, voxel_size=0.05)
    for a, b in zip(dense, sorted_):
        np.testing.assert_array_equal(a.points, b.points)
        np.testing.assert_array_equal(a.colors, b.colors)
        np.testing.assert_array_equal(a.labels, b.labels)


# ---------------------------------------------------------------- floor (thesis 5.3, eq. 5.2-5.5)


def synthetic_floor_points(rng: np.random.Generator, count: int = 20000, clutter: float = 0.3, noise: float = 0.01):
    """Camera-frame floor points with Gaussian noise plus a fraction of clutter above the floor."""
    R, C = camera_pose()
    floor_count = int(count * (1.0 - clutter))
    floor = np.c_[rng.uniform(-3, 3, floor_count), rng.uniform(0.5, 6, floor_count), np.zeros(floor_count)]
    junk = np.c_[rng.uniform(-3, 3, count - floor_count), rng.uniform(0.5, 6, count - floor_count),
                 rng.uniform(0.0, 2.0, count - floor_count)]
    to_camera = lambda p: (p - C) @ R  # noqa: E731  (R^T (p - C), row-wise)
    noisy = to_camera(floor) + noise * rng.standard_normal((floor_count, 3))
    return np.vstack([noisy, to_camera(junk)]), to_camera(floor), floor_count


def test_floor_plane_fit_with_clutter():
    rng = np.random.default_rng(5)
    points, clean_floor, floor_count = synthetic_floor_points(rng)
    plane = fit_floor_plane(points, np.random.default_rng(6))
    R, _ = camera_pose()
    true_normal = R.T @ np.array([0.0, 0.0, 1.0])  # world up in the camera frame
    angle = np.degrees(np.arccos(np.clip(plane.normal @ true_normal, -1, 1)))
    assert angle < 1.0
    assert abs(plane.offset - CAMERA_HEIGHT) < 0.03
    # The least-squares refinement does much better than the best 3-point hypothesis (about
    # 0.08 deg and 3.4 mm here); what is left is mostly clutter that falls within 10 cm.
    assert angle < 0.03 and abs(plane.offset - CAMERA_HEIGHT) < 0.002
    assert np.linalg.norm(plane.normal) == pytest.approx(1.0)
    assert plane.inliers[:floor_count].mean() > 0.99 and plane.inliers[floor_count:].mean() < 0.1
    # After alignment the floor is z = 0 and the camera sits at the fitted height.
    Rw, t = floor_alignment(plane)
    assert np.abs(transform_points(clean_floor, Rw, t)[:, 2]).max() < 0.01
    aligned_noisy = transform_points(points[:floor_count], Rw, t)[:, 2]
    assert abs(aligned_noisy.mean()) < 0.002 and abs(aligned_noisy.std() - 0.01) < 0.002
    np.testing.assert_allclose(transform_points(np.zeros(3), Rw, t), [0.0, 0.0, plane.offset], atol=1e-12)
    # The world differs from the true one by a yaw and a horizontal shift only.
    np.testing.assert_allclose((Rw @ R.T)[2], [0.0, 0.0, 1.0], atol=np.radians(1.0))


def test_floor_alignment_orientation_and_matrix():
    R, C = camera_pose()
    plane = Plane(R.T @ np.array([0.0, 0.0, 1.0]), CAMERA_HEIGHT, np.zeros(0, bool))
    Rw, t = floor_alignment(plane)
    assert np.linalg.det(Rw) == pytest.approx(1.0)
    np.testing.assert_allclose(Rw @ Rw.T, np.eye(3), atol=1e-12)
    # Exact plane: Rw equals the truth up to the yaw that sends the view direction to +Y.
    forward = Rw @ np.array([0.0, 0.0, 1.0])
    assert abs(forward[0]) < 1e-12 and forward[1] > 0 and forward[2] == pytest.approx(-np.sin(np.radians(TILT_DEG)))
    assert (Rw @ np.array([1.0, 0.0, 0.0]))[0] == pytest.approx(1.0)  # image right -> +X
    M = camera_to_world(Rw, t)
    np.testing.assert_allclose(M[:3, :3], Rw)
    np.testing.assert_allclose(M[:3, 3], [0.0, 0.0, CAMERA_HEIGHT])
    np.testing.assert_allclose(M[3], [0, 0, 0, 1])
    # Camera looking straight down: image up (-y) becomes +Y.
    Rd, _ = floor_alignment(Plane(np.array([0.0, 0.0, -1.0]), 3.0, np.zeros(0, bool)))
    np.testing.assert_allclose(Rd @ np.array([0.0, -1.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)


def test_floor_fit_normal_points_to_the_camera_and_errors():
    rng = np.random.default_rng(7)
    xy = rng.uniform(-2, 2, size=(500, 2))
    below = np.c_[xy[:, 0], np.full(500, 1.5), xy[:, 1] + 4.0]  # plane y = 1.5 (below: y is down)
    plane = fit_floor_plane(below, rng)
    np.testing.assert_allclose(plane.normal, [0.0, -1.0, 0.0], atol=1e-9)
    assert plane.offset == pytest.approx(1.5)
    with pytest.raises(ValueError, match="no floor points"):
        fit_floor_plane(np.full((5, 3), np.nan), rng)


def test_restored_scene_floor_alignment_matches_ground_truth(scene):
    """Depth restoration -> point cloud -> floor fit -> alignment, against the true camera height."""
    K, _, labels, _ = scene
    disparities, metrics, _ = noisy_key_frames(scene, np.random.default_rng(8), frames=2)
    fit = fit_disparity_affine(disparities, metrics, method="ransac", rng=np.random.default_rng(9))
    depths = [restore_metric_depth(d, fit) for d in disparities]
    cloud = point_cloud(depths, masks=[labels, labels], K=K)
    plane = fit_floor_plane(cloud.points[cloud.labels == FLOOR], np.random.default_rng(10))
    assert abs(plane.offset - CAMERA_HEIGHT) < 0.03
    R, _ = camera_pose()
    assert np.degrees(np.arccos(plane.normal @ (R.T @ np.array([0.0, 0.0, 1.0])))) < 1.0


def test_rotation_between_is_a_proper_rotation_mapping_a_to_b():
    rng = np.random.default_rng(11)
    a_all = rng.normal(size=(200, 3)) * rng.uniform(0.1, 5.0, size=(200, 1))
    b_all = rng.normal(size=(200, 3))
    opposite = rng.normal(size=(3, 3))
    pairs = list(zip(a_all, b_all)) + [(a, 2.0 * a) for a in opposite] + [(a, -a) for a in opposite]
    pairs += [(a, -a + 1e-7 * rng.normal(size=3)) for a in opposite] + [(np.array([0, 0, 1.0]), np.array([0, 0, -1.0]))]
    for a, b in pairs:
        R = rotation_between(a, b)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(R @ (a / np.linalg.norm(a)), b / np.linalg.norm(b), atol=1e-12)
        # The smallest such rotation: its angle is the angle between a and b.
        cos_ab = np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)
        assert np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)) == pytest.approx(np.arccos(cos_ab), abs=1e-6)
    np.testing.assert_allclose(rotation_between(np.array([1.0, 2, 3]), np.array([2.0, 4, 6])), np.eye(3), atol=1e-15)
    with pytest.raises(ValueError, match="a: expected a non-zero"):
        rotation_between(np.zeros(3), np.ones(3))


# ---------------------------------------------------------------- SMPL roots (thesis eq. 5.5-5.6)


def smpl_predictions(rng: np.random.Generator, count: int = 4):
    rest = rng.normal(scale=0.2, size=(24, 3))
    rest[0] = [0.003, -0.23, 0.03]  # SMPL-like rest pelvis, off the origin on purpose
    orient = rng.normal(size=(count, 3))
    body_pose = rng.normal(scale=0.3, size=(count, 23, 3))
    transl = np.c_[rng.uniform(-1, 1, count), rng.uniform(0.5, 1.5, count), rng.uniform(3, 5, count)]
    return rest, orient, body_pose, transl


def smpl_joints(rest, orient, body_pose, transl):
    local = axis_angle_to_matrix(np.concatenate([orient[:, None], body_pose], axis=1))
    return forward_kinematics(local, rest, transl)[1]


def test_align_smpl_roots_moves_the_joints_rigidly():
    rng = np.random.default_rng(12)
    rest, orient, body_pose, transl = smpl_predictions(rng)
    R, C = camera_pose()
    Rw, t = floor_alignment(Plane(R.T @ np.array([0.0, 0.0, 1.0]), CAMERA_HEIGHT, np.zeros(0, bool)))
    expected = transform_points(smpl_joints(rest, orient, body_pose, transl), Rw, t)
    for pelvis in (rest[0], np.repeat(rest[:1], len(orient), axis=0)):
        new_orient, new_transl = align_smpl_roots(orient, transl, pelvis, Rw, t)
        np.testing.assert_allclose(smpl_joints(rest, new_orient, body_pose, new_transl), expected, atol=1e-9)


def test_thesis_eq_5_6_read_literally_misplaces_the_joints():
    """O* = (R O^-1)^-1 = O R^T, with O the body -> camera rotation, is not the moved body."""
    rng = np.random.default_rng(13)
    rest, orient, body_pose, transl = smpl_predictions(rng)
    R, _ = camera_pose()
    Rw, t = floor_alignment(Plane(R.T @ np.array([0.0, 0.0, 1.0]), CAMERA_HEIGHT, np.zeros(0, bool)))
    expected = transform_points(smpl_joints(rest, orient, body_pose, transl), Rw, t)
    _, new_transl = align_smpl_roots(orient, transl, rest[0], Rw, t)
    O = axis_angle_to_matrix(orient)
    literal = matrix_to_axis_angle(np.linalg.inv(Rw @ np.linalg.inv(O)))
    np.testing.assert_allclose(axis_angle_to_matrix(literal), O @ Rw.T, atol=1e-9)
    error = np.linalg.norm(smpl_joints(rest, literal, body_pose, new_transl) - expected, axis=-1)
    assert error.mean() > 0.1
    composed = matrix_to_axis_angle(Rw @ O)
    np.testing.assert_allclose(smpl_joints(rest, composed, body_pose, new_transl), expected, atol=1e-9)


def test_align_smpl_roots_reports_bad_shapes():
    with pytest.raises(ValueError, match="transl must be"):
        align_smpl_roots(np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3), np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="rest_pelvis must be"):
        align_smpl_roots(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 3)), np.eye(3), np.zeros(3))
