"""Coloured point clouds: a vertex-only mesh with a colour attribute, drawn as points.

A Geometry Nodes modifier (Mesh to Points, Set Material) makes the vertices render
as small spheres in Workbench, EEVEE and Cycles alike; the colour attribute rides
along and a material reads it.
"""

import bpy
import numpy as np

COLOR_ATTRIBUTE = "Col"
POINT_LABEL_ATTRIBUTE = "isynth_label"


def points_mesh(name: str, points: np.ndarray, colors: np.ndarray | None, labels: np.ndarray | None) -> bpy.types.Mesh:
    """A mesh of vertices only. points: (N, 3) metres; colors: (N, 3) uint8; labels: (N,) int."""
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(points))
    mesh.vertices.foreach_set("co", np.ascontiguousarray(points, dtype=np.float32).ravel())
    if colors is not None:
        attribute = mesh.color_attributes.new(COLOR_ATTRIBUTE, "BYTE_COLOR", "POINT")
        rgba = np.ones((len(points), 4), dtype=np.float32)
        # BYTE_COLOR stores sRGB bytes; foreach_set takes linear floats in [0, 1].
        srgb = np.asarray(colors, dtype=np.float32) / 255.0
        rgba[:, :3] = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
        attribute.data.foreach_set("color", rgba.ravel())
        mesh.color_attributes.active_color = attribute
    if labels is not None:
        attribute = mesh.attributes.new(POINT_LABEL_ATTRIBUTE, "INT", "POINT")
        attribute.data.foreach_set("value", np.asarray(labels, dtype=np.int32))
    mesh.update()
    return mesh


def point_material(name: str) -> bpy.types.Material:
    """A material whose colour is the points' colour attribute."""
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    attribute = nodes.new("ShaderNodeAttribute")
    attribute.attribute_name = COLOR_ATTRIBUTE
    principled = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    links.new(attribute.outputs["Color"], principled.inputs["Base Color"])
    principled.inputs["Roughness"].default_value = 0.9
    return material


def points_node_group(name: str, radius: float, material: bpy.types.Material) -> bpy.types.NodeTree:
    """Geometry nodes: mesh vertices -> points of ``radius`` metres with ``material``."""
    group = bpy.data.node_groups.new(name, "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    nodes, links = group.nodes, group.links
    source = nodes.new("NodeGroupInput")
    to_points = nodes.new("GeometryNodeMeshToPoints")
    to_points.inputs["Radius"].default_value = radius
    set_material = nodes.new("GeometryNodeSetMaterial")
    set_material.inputs["Material"].default_value = material
    sink = nodes.new("NodeGroupOutput")
    links.new(source.outputs[0], to_points.inputs["Mesh"])
    links.new(to_points.outputs["Points"], set_material.inputs["Geometry"])
    links.new(set_material.outputs["Geometry"], sink.inputs[0])
    return group


def point_cloud_object(
    name: str,
    points: np.ndarray,
    colors: np.ndarray | None,
    labels: np.ndarray | None,
    collection: bpy.types.Collection,
    radius: float = 0.012,
) -> bpy.types.Object:
    """An object showing ``points`` as coloured spheres of ``radius`` metres."""
    mesh = points_mesh(name, points, colors, labels)
    material = point_material(f"{name} Colours")
    mesh.materials.append(material)
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    modifier = obj.modifiers.new("Points", "NODES")
    modifier.node_group = points_node_group(f"{name} Points", radius, material)
    return obj
