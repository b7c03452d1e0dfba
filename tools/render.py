"""Render a job file into a labelled synthetic video data set (`./run render --config jobs.toml --out DIR`).

The same command line as ``blender -b --factory-startup --python addon/batch/blender_render.py --``
(see ``addon/batch/cli.py`` and docs/batch_rendering.md), run on this checkout's bpy module: each
clip renders in its own ``python addon/batch/blender_render.py`` process. Clip processes use a
throwaway Blender user folder, never the developer's configuration.
"""

from __future__ import annotations

import sys
from pathlib import Path

from throwaway_blender_user import use_throwaway_user_folder

# Inherited by every clip process (each imports bpy, which reads it once).
use_throwaway_user_folder("isynth_render_user_")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from addon.batch.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
