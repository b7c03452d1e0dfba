"""``blender -b -c interaction_synth render ARGS``: the render command, registered while the
extension is enabled (``bpy.utils.register_cli_command``, Blender 4.2+)."""

import bpy

COMMAND = "interaction_synth"
_handle = None


def execute(argv: list[str]) -> int:
    """Blender calls this with the arguments after the command id; returns the exit code."""
    from .cli import EXIT_BAD_INPUT, main

    if not argv or argv[0] != "render":
        print(f"usage: blender -b -c {COMMAND} render --config jobs.toml --out DIR [--workers K] "
              "[--shard i/N] [--resume]  (render --help for more)")
        return EXIT_BAD_INPUT
    return main(argv[1:])


def register() -> None:
    global _handle
    if _handle is None:
        _handle = bpy.utils.register_cli_command(COMMAND, execute)


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.utils.unregister_cli_command(_handle)
        _handle = None
