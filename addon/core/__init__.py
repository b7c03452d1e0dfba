"""Everything that does not need Blender: maths, file formats, models, configs.

Nothing under this package imports ``bpy``, ``mathutils``, ``bmesh`` or ``gpu``,
not even lazily; ``tests/core/test_core_is_blender_free.py`` enforces it.
"""
