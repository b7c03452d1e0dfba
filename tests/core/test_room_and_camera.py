"""The demo room's geometry and the camera maths, checked by value."""

import numpy as np
import pytest

from addon.core.camera import intrinsics_from_fov, look_at, project_points, sensor_focal_mm
from addon.core.room import RoomLayout, box, build_room, demo_room_scene


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume enclosed by quads (split into triangles); positive when normals point outwards."""
    tris = np.concatenate([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]])
    a, b, c = (vertices[tris[:, i]].astype(np.float64) for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


@pytest.mark.parametrize("yaw", [0.0, 37.0, 200.0])
def test_box_is_closed_with_outward_faces_and_right_volume(yaw):
    vertices, faces = box((1.0, 2.0, 0.5), (0.4, 0.6, 1.0), yaw)
    assert vertices.shape == (8, 3) and faces.shape == (6, 4)
    assert signed_volume(vertices, faces) == pytest.approx(0.24, rel=1e-5)
    edges = np.sort(np.stack([faces, np.roll(faces, -1, axis=1)], axis=-1).reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all(), "every edge shared by exactly two faces: watertight"


def test_room_parts_sit_on_the_floor_inside_the_walls():
    layout = RoomLayout(width=5.0, depth=4.2, height=2.7)
    parts = {part.label: part for part in build_room(layout)}
    assert set(parts) == {"floor", "wall", "bed", "chair", "table"}
    for label in ("bed", "chair", "table"):
        v = parts[label].vertices
        assert v[:, 2].min() == pytest.approx(0.0, abs=1e-6), f"{label} rests on z = 0"
        assert (v[:, 0] > 0).all() and (v[:, 0] < layout.width).all(), label
        assert (v[:, 1] > 0).all() and (v[:, 1] < layout.depth).all(), label
    mattress_top = parts["bed"].vertices[:, 2].max()
    assert 0.5 < mattress_top < 0.75, "bed top at a care bed's height incl. pillow"
    assert parts["floor"].vertices[:, 2].max() == pytest.approx(0.0, abs=1e-6)
    for part in parts.values():
        assert part.faces.max() < len(part.vertices) and part.vertices.dtype == np.float32


def test_furniture_footprints_do_not_overlap():
    parts = {part.label: part for part in build_room(RoomLayout())}

    def footprint(label):
        v = parts[label].vertices
        return v[:, :2].min(axis=0), v[:, :2].max(axis=0)

    labels = ["bed", "chair", "table"]
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            (amin, amax), (bmin, bmax) = footprint(a), footprint(b)
            overlap = np.minimum(amax, bmax) - np.maximum(amin, bmin)
            assert (overlap <= 0).any(), f"{a} and {b} overlap"


def test_room_layout_rejects_a_closet():
    with pytest.raises(ValueError, match="RoomLayout.width"):
        RoomLayout(width=1.0)


def test_look_at_is_a_proper_rigid_transform_looking_at_the_target():
    eye, target = np.array([0.3, 0.2, 2.4]), np.array([2.5, 2.0, 0.5])
    matrix = look_at(eye, target)
    rotation = matrix[:3, :3]
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    forward = -rotation[:, 2]
    np.testing.assert_allclose(forward, (target - eye) / np.linalg.norm(target - eye), atol=1e-12)
    assert rotation[2, 1] > 0, "image up has a positive world-Z component"
    with pytest.raises(ValueError, match="parallel"):
        look_at(eye, eye + np.array([0.0, 0.0, -1.0]))


def test_target_projects_to_the_image_centre_and_fov_edges_to_the_borders():
    width, height, fov = 320, 240, 90.0
    K = intrinsics_from_fov(width, height, fov)
    assert K[0, 0] == pytest.approx(160.0)  # tan(45 deg) = 1
    camera = look_at(np.zeros(3), np.array([0.0, 5.0, 0.0]))
    uv = project_points(np.array([[0.0, 5.0, 0.0], [5.0, 5.0, 0.0], [0.0, 5.0, 1.0]]), camera, K)
    np.testing.assert_allclose(uv[0], [160.0, 120.0], atol=1e-9)
    np.testing.assert_allclose(uv[1], [320.0, 120.0], atol=1e-9)  # 45 deg right: right border
    assert uv[2, 1] < 120.0, "world up is image up (pixel y grows downwards)"
    assert sensor_focal_mm(90.0, 36.0) == pytest.approx(18.0)


def test_demo_camera_sees_the_bed():
    scene = demo_room_scene(RoomLayout())
    K = intrinsics_from_fov(320, 240, scene.horizontal_fov_deg)
    bed = next(p for p in scene.parts if p.label == "bed").vertices.astype(np.float64)
    uv = project_points(bed, scene.camera_to_world, K)
    assert ((uv >= 0) & (uv <= [320, 240])).all(), "the whole bed is in frame"
