"""A temporary Blender user folder, so scripts never touch the developer's own configuration.

Import and call :func:`use_throwaway_user_folder` *before* ``import bpy``: Blender reads
``BLENDER_USER_RESOURCES`` once, when it loads.
"""

import atexit
import os
import shutil
import tempfile


def use_throwaway_user_folder(prefix: str = "isynth_blender_user_") -> str:
    """Point BLENDER_USER_RESOURCES at a new temporary folder, removed when Python exits."""
    folder = tempfile.mkdtemp(prefix=prefix)
    os.environ["BLENDER_USER_RESOURCES"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
