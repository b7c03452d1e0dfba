"""Headless batch rendering: the command line, the process pool and the one-clip renderer.

``cli.main`` is the one entry point behind ``blender -b --python addon/batch/blender_render.py``,
``blender -b -c interaction_synth render`` and ``./run render``. Importing this package loads no
Blender module; :func:`register` (called from the add-on's module list) adds the CLI command.
"""


def register() -> None:
    from . import cli_command

    cli_command.register()


def unregister() -> None:
    from . import cli_command

    cli_command.unregister()
