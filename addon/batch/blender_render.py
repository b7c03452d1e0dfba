"""The script a render node runs: ``blender -b --factory-startup --python blender_render.py -- ARGS``.

ARGS are ``render``'s (``addon/batch/cli.py``): ``--config jobs.toml --out DIR`` for a whole job,
``--out DIR --one-clip KEY`` for one clip. The same file runs with the bpy module
(``python blender_render.py -- ARGS``). It imports the extension from the folder it ships in, so
nothing needs to be installed or enabled; wheels that Blender installed for the extension are
found in the extensions' ``.local`` site-packages.

It ends with ``sys.exit(code)``, render's exit code, and a failure before render runs (the
extension not importable) exits 1: Blender exits with a script's ``SystemExit`` code, while an
escaping exception ends ``blender -b --python`` with 0 unless ``--python-exit-code`` is given.
"""

import sys
from pathlib import Path

EXTENSION_ROOT = Path(__file__).resolve().parents[2]  # holds blender_manifest.toml and addon/


def _extension_site_packages() -> list[str]:
    """Where Blender installs extension wheels (only when running inside Blender)."""
    try:
        import bpy

        local = bpy.utils.user_resource("EXTENSIONS", path=".local")
    except (ImportError, AttributeError, ValueError):
        return []
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [str(p) for p in (Path(local) / "lib" / version / "site-packages",) if p.is_dir()]


def main() -> int:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    sys.path.insert(0, str(EXTENSION_ROOT))
    sys.path.extend(p for p in _extension_site_packages() if p not in sys.path)
    from addon.batch.cli import main as render_main

    return render_main(argv)


def exit_code() -> int:
    """main()'s code; 1, with the traceback, if the extension itself fails to import."""
    try:
        return main()
    except Exception:  # noqa: BLE001  (render's main never raises; this is the import before it)
        import traceback

        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(exit_code())
