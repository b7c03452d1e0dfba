"""The job file's ``[[avatars]]`` tables: the user's own rigged characters for batch rendering.

An avatar is an armature (with the meshes it deforms) in a .blend file. A clip whose person
draws it appends a fresh copy of it, and the person's generated SMPL motion is retargeted onto
it (``core.retarget``, the same solve as the Retarget operator), so the avatar is what renders
and the labels come from its evaluated bones and skinned meshes (``docs/batch_rendering.md``)::

    [[avatars]]
    name = "nurse"              # what [randomize] avatars lists
    blend = "avatars/nurse.blend"
    object = "Armature"         # default "": the file's only armature
    mapping = "auto"            # "auto", a preset (mixamo, rigify_deform, ...) or a .json mapping file
    swap_sides = false          # true for a rig whose sides are named from the viewer's side
    roles = ["staff"]           # who it may play (default: anyone)
    scale = [0.9, 1.1]          # each person drawing it is scaled by U(min, max) (default [1, 1])
    [avatars.garments]          # optional: its materials that take the clip's drawn clothing colours
    shirt = ["Top", "Jacket*"]  # material names or fnmatch patterns (case-sensitive)
    trousers = ["Pants"]
    skin = []

With ``[randomize] clothing`` on, every material whose name a garment lists is recoloured per
clip with that person's drawn shirt, trousers or skin colour (``bridge.avatar_look``), as the
built-in bodies are; the avatar's other materials, and all of them with clothing off, render as
authored.

Only what the file itself says is checked here (core reads no .blend); a missing object or a
rig no mapping fits fails its clips, each with a message naming the file and the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from ..motion.motion import ROLES
from ..retarget.mapping import MappingError
from ..retarget.mapping_file import load_mapping
from ..retarget.presets import PRESETS
from .clothing import GARMENTS
from .toml_table import Table

# Bodies every job can draw without an [[avatars]] table: the bundled stand-in, or the user's
# licensed SMPL files (from [dataset] body_model_dir) in one gender.
BUILTIN_AVATARS: tuple[str, ...] = ("standin", "smpl-neutral", "smpl-female", "smpl-male")
MAPPINGS: tuple[str, ...] = ("auto", *PRESETS)
MIN_SCALE, MAX_SCALE = 0.5, 2.0  # an avatar's drawn scale stays within these (a child to a giant)


@dataclass(frozen=True)
class AvatarSpec:
    """One rigged character. blend: the .blend file, absolute; object: its armature object's name
    ("" = the file's only armature); mapping: "auto", a key of ``PRESETS``, or an absolute path of
    a JSON mapping file (``core.retarget.mapping_file``); swap_sides: exchange left and right;
    roles: the roles it may play (empty: any); scale: [min, max] of the uniform factor each
    person drawing it is scaled by (about its top object's origin); garments: (garment, material name patterns) pairs,
    garments of ``clothing.GARMENTS`` in that order, only those given (empty: none recoloured)."""

    name: str
    blend: str
    object: str = ""
    mapping: str = "auto"
    swap_sides: bool = False
    roles: tuple[str, ...] = ()
    scale: tuple[float, float] = (1.0, 1.0)
    garments: tuple[tuple[str, tuple[str, ...]], ...] = ()


def parse_avatar(table: Table, name: str, resolve) -> AvatarSpec:
    """One ``[[avatars]]`` table (``name`` already read and checked); ``resolve(value)`` makes a
    path absolute against the job file's folder."""
    if name in BUILTIN_AVATARS:
        table.fail("name", f"{name!r} is a built-in avatar; give yours another name")
    blend = resolve(table.string("blend", None))
    if blend.suffix.lower() != ".blend":
        table.fail("blend", f"expected a .blend file, got {blend.name!r}")
    if not blend.is_file():
        table.fail("blend", f"file not found: {blend}")
    obj = table.string("object", "")
    mapping = table.string("mapping", "auto")
    if mapping.lower().endswith(".json"):
        path = resolve(mapping)
        try:
            load_mapping(path)
        except MappingError as error:
            table.fail("mapping", str(error))
        mapping = str(path)
    elif mapping.lower() not in MAPPINGS:
        table.fail("mapping", f"expected 'auto', a preset ({', '.join(PRESETS)}) or a .json mapping file, "
                              f"got {mapping!r}")
    else:
        mapping = mapping.lower()
    swap_sides = table.boolean("swap_sides", False)
    roles = table.strings("roles", (), ROLES)
    scale = table.range_pair("scale", (1.0, 1.0), MIN_SCALE, MAX_SCALE)
    garments = _garments(table.table("garments")) if "garments" in table else ()
    table.finish()
    return AvatarSpec(name=name, blend=str(blend), object=obj, mapping=mapping, swap_sides=swap_sides, roles=roles,
                      scale=scale, garments=garments)


def _garments(table: Table) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The ``garments`` table: per garment of GARMENTS a list of non-empty material name patterns."""
    found = []
    for garment in GARMENTS:
        if garment not in table:
            continue
        patterns = table.strings(garment, None)
        if any(not pattern.strip() for pattern in patterns):
            table.fail(garment, "a material name pattern is empty")
        if patterns:
            found.append((garment, patterns))
    table.finish()
    return tuple(found)


def garment_of_material(material: str, garments) -> str | None:
    """The first garment (in GARMENTS order) one of whose patterns matches the material name
    ``material`` (``fnmatch``, case-sensitive), or None. garments: AvatarSpec.garments or the
    manifest's {garment: [patterns]}."""
    pairs = garments.items() if isinstance(garments, dict) else garments
    for garment, patterns in pairs:
        if any(fnmatchcase(material, pattern) for pattern in patterns):
            return garment
    return None


def avatars_for(role: str, names: tuple[str, ...], avatars: tuple[AvatarSpec, ...]) -> tuple[str, ...]:
    """The names among ``names`` (``[randomize] avatars``) that may play ``role``: built-in
    bodies and rigged avatars without ``roles`` play anyone."""
    allowed = {a.name: a.roles for a in avatars}
    return tuple(name for name in names if not allowed.get(name) or role in allowed[name])


def is_builtin(avatar: str) -> bool:
    """Whether a manifest person's avatar is a body of the stand-in/SMPL kind (not a rig)."""
    return avatar in BUILTIN_AVATARS


def retarget_mapping(spec: dict) -> tuple[str, str]:
    """(RetargetConfig.mapping, RetargetConfig.mapping_file) of a manifest avatar entry."""
    mapping = spec["mapping"]
    if mapping == "auto":
        return "AUTO", ""
    if mapping in PRESETS:
        return mapping, ""
    return "FILE", str(Path(mapping))
