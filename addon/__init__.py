"""Interaction Synth add-on package: registration only.

Blender-side modules are imported inside :func:`register` so that importing
``addon.core`` (plain Python, tests, the worker) never pulls in ``bpy``.
Modules register in dependency order and unregister in reverse.
"""


def _blender_modules():
    """The modules that register Blender classes, in dependency order."""
    from . import batch, operators, panels, preferences, properties

    return (preferences, properties, operators, panels, batch)


def register() -> None:
    for module in _blender_modules():
        module.register()


def unregister() -> None:
    for module in reversed(_blender_modules()):
        module.unregister()
