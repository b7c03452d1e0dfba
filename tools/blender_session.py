"""Load the extension from this source tree into a running Blender (the bpy module).

Used by the demo, the benchmarks and the Blender-tier tests. It goes through
Blender's own extension machinery: a local extension repository whose one
package is a symlink to the source tree, then ``addon_utils.enable``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import bpy  # first: addon_utils only becomes importable once bpy has loaded
import addon_utils  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
EXTENSION_ID = "interaction_synth"
DEV_REPO_NAME = "isynth_dev"

_dev_dir: str | None = None


def _dev_repository_dir() -> str:
    """A folder holding ``interaction_synth -> REPO_ROOT``, made once per process."""
    global _dev_dir
    if _dev_dir is None:
        _dev_dir = tempfile.mkdtemp(prefix="isynth_dev_repo_")
        # rmtree unlinks the symlink itself and never follows it into the checkout.
        atexit.register(shutil.rmtree, _dev_dir, ignore_errors=True)
        os.symlink(REPO_ROOT, os.path.join(_dev_dir, EXTENSION_ID))
    return _dev_dir


def _dev_repository():
    repos = bpy.context.preferences.extensions.repos
    for repo in repos:
        if repo.name == DEV_REPO_NAME:
            return repo
    result = bpy.ops.preferences.extension_repo_add(
        name=DEV_REPO_NAME,
        type="LOCAL",
        use_custom_directory=True,
        custom_directory=_dev_repository_dir(),
    )
    if result != {"FINISHED"}:
        raise RuntimeError(f"could not add the local extension repository: {result}")
    return next(repo for repo in repos if repo.name == DEV_REPO_NAME)


def enable_from_source() -> str:
    """Enable the extension from this checkout; returns its module name (``bl_ext.….interaction_synth``)."""
    module_name = f"bl_ext.{_dev_repository().module}.{EXTENSION_ID}"
    errors: list[BaseException] = []
    module = addon_utils.enable(module_name, default_set=True, handle_error=errors.append)
    if module is None or errors:
        raise RuntimeError(f"enabling {module_name} failed: {errors or 'module not loaded'}")
    return module_name


def disable(module_name: str) -> None:
    """Disable the extension (unregisters every class) if it is enabled."""
    if module_name in bpy.context.preferences.addons:
        addon_utils.disable(module_name, default_set=True)


def registered_classes(prefix: str = "ISYNTH_") -> set[str]:
    """Names of every registered Blender class whose name starts with ``prefix``, of any type."""
    found = set()
    stack = [bpy.types.bpy_struct]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if sub.__name__.startswith(prefix) and getattr(sub, "is_registered", False):
                found.add(sub.__name__)
    return found
