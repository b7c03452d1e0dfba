"""Collections the extension creates (never found by name afterwards: keep the reference)."""

import bpy


def new_child_collection(scene: bpy.types.Scene, name: str) -> bpy.types.Collection:
    """A new collection linked under the scene's master collection.

    Blender deduplicates the name (``Name.001``); callers keep the returned object.
    """
    collection = bpy.data.collections.new(name)
    scene.collection.children.link(collection)
    return collection
