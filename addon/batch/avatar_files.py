"""Check the job file's ``[[avatars]]`` against their .blend files before anything renders.

Core validates the job file without Blender; here, in the render command's own process, each
avatar file is opened for its list of names only (``bpy.data.libraries.load`` without asking
for anything loads nothing): a file Blender cannot read, an ``object`` the file does not hold,
no ``object`` given for a file with other than one armature, or a garment pattern that names no
material of the file is bad input (exit code 2, the key named) instead of a clip that fails
twice per job. What needs the objects themselves (that
the object is an armature, that a mapping fits its bones) is still checked by each clip.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from ..core.render.jobspec import JobSpec
from ..core.render.toml_table import JobSpecError


def check_avatar_files(spec: JobSpec) -> None:
    """JobSpecError naming ``avatars[i].<key>`` for the first avatar whose file does not fit."""
    if not spec.avatars:
        return
    import bpy  # (only here: a job file without avatars needs no Blender to be planned)

    for index, avatar in enumerate(spec.avatars):
        key = f"{spec.path}: key 'avatars[{index}]"
        try:
            with bpy.data.libraries.load(avatar.blend, link=False) as (source, _):
                objects, armatures, materials = list(source.objects), list(source.armatures), list(source.materials)
        except (OSError, ValueError) as error:  # (ValueError: e.g. the file this Blender has open)
            raise JobSpecError(f"{key}.blend': Blender cannot read {avatar.blend} ({error})") from None
        if avatar.object and avatar.object not in objects:
            raise JobSpecError(f"{key}.object': {avatar.blend} holds no object named {avatar.object!r}")
        if not avatar.object and len(armatures) != 1:
            raise JobSpecError(f"{key}.object': {avatar.blend} holds {len(armatures)} armatures "
                               f"({', '.join(sorted(armatures)) or 'none'}); name the avatar's armature object")
        for garment, patterns in avatar.garments:
            for pattern in patterns:
                if not any(fnmatchcase(material, pattern) for material in materials):
                    raise JobSpecError(f"{key}.garments.{garment}': {pattern!r} matches no material of "
                                       f"{avatar.blend} (its materials: {', '.join(sorted(materials)) or 'none'})")
