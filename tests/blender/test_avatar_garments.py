"""A batch avatar's garment materials in the clip's drawn clothing colours (bridge.avatar_look):
on copies only, a textured garment tinted through its texture, and what renders is the colour."""

import bpy
import numpy as np
import pytest

from addon.batch.clip import render_clip
from addon.bridge.avatar_look import recolour_garments
from addon.bridge.render_avatars import append_avatar
from addon.bridge.render_video import FRAME_PATTERN, read_png
from addon.core.render.jobspec import load_job_spec
from addon.core.render.manifest import build_manifest
from helpers.avatar_blend import RED, save_avatar_blend
from helpers.avatar_job import JOB, annotations

PANTS_GREY = (0.5, 0.5, 0.5, 1.0)
LOOK = {"shirt_rgb": [0.1, 0.6, 0.2], "trousers_rgb": [0.1, 0.2, 0.7], "skin_rgb": [0.8, 0.6, 0.5]}


def save_dressed_avatar(path) -> dict:
    """The test avatar with its body material renamed "Top" and a textured "Pants" material on
    the last third of its faces (Base Color driven by an Image Texture)."""
    info = save_avatar_blend(path, "mixamo", scale=0.9)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    body = bpy.data.objects[info["body"]]
    body.data.materials[0].name = "Top"
    pants = bpy.data.materials.new("Pants")
    pants.diffuse_color = PANTS_GREY
    if bpy.app.version < (5, 0, 0):  # (5.0 gives every material its node tree)
        pants.use_nodes = body.data.materials[0].use_nodes = True
    texture = pants.node_tree.nodes.new("ShaderNodeTexImage")
    texture.image = bpy.data.images.new("Pants Print", 8, 8)
    principled = next(n for n in pants.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    pants.node_tree.links.new(texture.outputs["Color"], principled.inputs["Base Color"])
    body.data.materials.append(pants)
    faces = len(body.data.polygons)
    body.data.polygons.foreach_set("material_index", [0] * (faces - faces // 3) + [1] * (faces // 3))
    # Vertex colours, as a game asset may carry (Workbench's Attribute colouring shows them).
    attribute = body.data.color_attributes.new("Col", "FLOAT_COLOR", "POINT")
    shades = np.tile([[0.3, 0.3, 0.3, 1.0], [0.6, 0.6, 0.6, 1.0]], (len(body.data.vertices) // 2 + 1, 1))
    attribute.data.foreach_set("color", shades[: len(body.data.vertices)].ravel())
    body.data.color_attributes.active_color = attribute
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return info


@pytest.mark.compat
def test_two_copies_wear_their_own_colours_and_the_file_keeps_its_own(tmp_path):
    info = save_dressed_avatar(tmp_path / "nurse.blend")
    spec = {"name": "nurse", "blend": str(tmp_path / "nurse.blend"), "object": info["armature"]}
    garments = {"shirt": ["Top"], "trousers": ["Pant*"]}
    other = {**LOOK, "shirt_rgb": [0.7, 0.7, 0.1]}
    worn = []
    for p, look in enumerate((LOOK, other)):
        _, meshes = append_avatar(spec, bpy.context.scene.collection)
        assert recolour_garments(meshes, garments, look, f"person {p}") == {"shirt": ["Top"], "trousers": ["Pants"]}
        worn.append({slot.material.name: slot.material for slot in meshes[0].material_slots})
        # The vertex colours: each garment's points in its colour, times their relative shade.
        mesh = meshes[0].data
        colours = np.empty(len(mesh.vertices) * 4, dtype=np.float32)
        mesh.color_attributes.active_color.data.foreach_get("color", colours)
        colours = colours.reshape(-1, 4)[:, :3]
        for slot, rgb in ((0, look["shirt_rgb"]), (1, look["trousers_rgb"])):
            points = np.unique([v for f in mesh.polygons if f.material_index == slot for v in f.vertices])
            others = np.unique([v for f in mesh.polygons if f.material_index != slot for v in f.vertices])
            only = np.setdiff1d(points, others)
            shade = np.where(np.arange(len(mesh.vertices)) % 2 == 0, 0.3, 0.6)  # alternating, as saved
            relative = shade[only] / shade[points].mean()
            np.testing.assert_allclose(colours[only], relative[:, None] * np.asarray(rgb), atol=0.02)
    assert set(worn[0]) == {"Top (person 0)", "Pants (person 0)"}
    assert set(worn[1]) == {"Top.001 (person 1)", "Pants.001 (person 1)"}  # the second append's names
    for materials, look in zip(worn, (LOOK, other)):
        top = next(m for name, m in materials.items() if name.startswith("Top"))
        pants = next(m for name, m in materials.items() if name.startswith("Pants"))
        np.testing.assert_allclose(top.diffuse_color, (*look["shirt_rgb"], 1.0), atol=1e-6)
        principled = next(n for n in top.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
        np.testing.assert_allclose(principled.inputs["Base Color"].default_value, (*look["shirt_rgb"], 1.0), atol=1e-6)
        # The textured garment: the texture still drives the colour, through a Mix (Color) node.
        np.testing.assert_allclose(pants.diffuse_color, (*look["trousers_rgb"], 1.0), atol=1e-6)
        principled = next(n for n in pants.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
        mix = principled.inputs["Base Color"].links[0].from_node
        assert mix.type == "MIX" and mix.blend_type == "COLOR"
        a, b = [s for s in mix.inputs if s.type == "RGBA"]
        assert a.links[0].from_node.type == "TEX_IMAGE"
        np.testing.assert_allclose(b.default_value, (*look["trousers_rgb"], 1.0), atol=1e-6)
    # The appended originals and the user's file are as they were.
    np.testing.assert_allclose(bpy.data.materials["Top"].diffuse_color, RED, atol=1e-6)
    with bpy.data.libraries.load(str(tmp_path / "nurse.blend"), link=False) as (source, target):
        target.materials = ["Top", "Pants"]
    top, pants = target.materials
    np.testing.assert_allclose(top.diffuse_color, RED, atol=1e-6)
    assert not any(n.type == "MIX" for n in pants.node_tree.nodes)


def dressed_job(tmp_path, garments: str):
    from helpers.tiny_checkpoint import write_tiny_checkpoint  # torch: not in the compat envs

    save_dressed_avatar(tmp_path / "nurse.blend")
    text = JOB.format(roles='["patient"]', object_line=garments, checkpoint=write_tiny_checkpoint(tmp_path))
    (tmp_path / "jobs.toml").write_text(text)
    return build_manifest(load_job_spec(tmp_path / "jobs.toml"))["jobs"][0]


def test_the_rendered_avatar_wears_the_drawn_shirt_colour_and_the_annotations_say_so(tmp_path):
    job = dressed_job(tmp_path, '[avatars.garments]\nshirt = ["Top"]')
    folder = render_clip(job, tmp_path / "out")
    person = annotations(folder)["persons"][0]
    assert person["avatar"]["recoloured"] == {"shirt": ["Top"]}
    shirt = np.asarray(job["look"]["persons"][0]["shirt_rgb"])
    assert person["look"]["shirt_rgb"] == list(shirt) and "trousers_rgb" not in person["look"]
    image = read_png(folder / "frames" / FRAME_PATTERN.format(1)).astype(np.float64) / 255.0
    x, y, w, h = [int(round(v)) for v in annotations(folder)["frames"][0]["persons"][0]["bbox"]]
    inside = image[y:y + h, x:x + w, :3].reshape(-1, 3)
    red = (inside[:, 0] > 0.25) & (inside[:, 1] < 0.6 * inside[:, 0]) & (inside[:, 2] < 0.6 * inside[:, 0])
    assert red.sum() < 3, "the avatar still wears its own red"
    # Pixels whose colour points the way the drawn shirt's does (Workbench shades, so compare directions).
    unit = inside / np.maximum(np.linalg.norm(inside, axis=1, keepdims=True), 1e-6)
    expected = shirt ** (1 / 2.2)  # display (sRGB-like) view of the linear colour
    cosine = unit @ (expected / np.linalg.norm(expected))
    assert (cosine > 0.995).sum() > 20


@pytest.mark.parametrize("garments, words", [
    ('[avatars.garments]\nshirt = ["Jacket*"]', "key 'avatars[0].garments.shirt': 'Jacket*' matches no material"),
])
def test_the_render_command_refuses_a_garment_pattern_the_file_does_not_hold(tmp_path, capsys, garments, words):
    from addon.batch.cli import EXIT_BAD_INPUT, main

    dressed_job(tmp_path, garments)
    assert main(["--config", str(tmp_path / "jobs.toml"), "--out", str(tmp_path / "out"), "--dry-run"]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert words in error and "Pants, Top" in error, error
