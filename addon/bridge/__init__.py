"""The only code that writes Blender data: numpy arrays and core dataclasses in, IDs out.

Everything is written in bulk (``foreach_set``); Blender-version branches live here.
"""
