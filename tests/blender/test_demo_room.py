"""isynth.add_demo_room: what core computed is exactly what Blender holds."""

import numpy as np
import pytest
import bpy
from bpy_extras.object_utils import world_to_camera_view

from addon.core.camera import intrinsics_from_fov, project_points
from addon.core.room import RoomLayout, demo_room_scene

pytestmark = pytest.mark.compat


def mesh_vertices(obj) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3, dtype=np.float32)
    obj.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def test_room_meshes_round_trip_from_numpy(extension):
    assert bpy.ops.isynth.add_demo_room(width=5.0, depth=4.25) == {"FINISHED"}
    expected = {p.name: p for p in demo_room_scene(RoomLayout(width=5.0, depth=4.25)).parts}
    collection = bpy.context.scene.collection.children["Care Room"]
    meshes = {o.name: o for o in collection.objects if o.type == "MESH"}
    assert set(meshes) == set(expected)
    for name, part in expected.items():
        obj = meshes[name]
        np.testing.assert_array_equal(mesh_vertices(obj), part.vertices)
        loops = np.empty(len(obj.data.loops), dtype=np.int32)
        obj.data.loops.foreach_get("vertex_index", loops)
        np.testing.assert_array_equal(loops.reshape(-1, 4), part.faces)
        assert obj["isynth_label"] == part.label
        assert obj.data.materials[0].diffuse_color[:] == pytest.approx(part.color)


def test_camera_agrees_with_cores_projection(extension):
    bpy.ops.isynth.add_demo_room()
    scene = bpy.context.scene
    camera = scene.camera
    assert camera is not None and camera.name == "Monitoring Camera"
    room = demo_room_scene(RoomLayout())
    # mathutils exposes matrices column-major to numpy; go through rows explicitly.
    np.testing.assert_allclose([list(row) for row in camera.matrix_world], room.camera_to_world, atol=1e-6)
    width, height = 320, 240
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    bed = next(p for p in room.parts if p.label == "bed").vertices.astype(np.float64)
    ours = project_points(bed, room.camera_to_world, intrinsics_from_fov(width, height, room.horizontal_fov_deg))
    from mathutils import Vector

    theirs = np.array(
        [
            [ndc.x * width, (1.0 - ndc.y) * height]
            for ndc in (world_to_camera_view(scene, camera, Vector(p)) for p in bed)
        ]
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_room_size_below_the_minimum_is_clamped_not_crashed(extension):
    assert bpy.ops.isynth.add_demo_room(width=0.5) == {"FINISHED"}
    floor = bpy.context.scene.collection.children["Care Room"].objects["Floor"]
    extent = mesh_vertices(floor)[:, 0].max() - mesh_vertices(floor)[:, 0].min()
    assert extent == pytest.approx(1.5)
