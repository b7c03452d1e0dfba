"""Flat-coloured materials that read the same in Workbench, EEVEE and Cycles."""

import bpy


def flat_material(name: str, rgba: tuple[float, float, float, float]) -> bpy.types.Material:
    """A material with one base colour (also the viewport colour Workbench shows)."""
    material = bpy.data.materials.new(name)
    material.diffuse_color = rgba
    # 5.0 always gives materials a node tree (use_nodes is deprecated there);
    # 4.2-4.5 create it on request.
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    principled = next(
        (node for node in material.node_tree.nodes if node.type == "BSDF_PRINCIPLED"), None
    )
    if principled is not None:
        principled.inputs["Base Color"].default_value = rgba
        principled.inputs["Roughness"].default_value = 0.8
    return material
