"""Bone mappings as JSON files, so a mapping made once can be shared and edited.

Format (version 1)::

    {"format": "isynth-bone-mapping", "version": 1, "name": "My avatar",
     "bones": {"pelvis": "Hips", "left_hip": "LeftUpLeg", ...}}

Keys of ``bones`` are SMPL joint names (:data:`..skeleton.JOINT_NAMES`); values are bone names.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write
from .mapping import BoneMapping, MappingError, mapping_from_dict

FORMAT = "isynth-bone-mapping"
VERSION = 1


def mapping_to_json(mapping: BoneMapping) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "name": mapping.name, "bones": mapping.as_dict()}, indent=2)


def save_mapping(path: str | Path, mapping: BoneMapping) -> Path:
    """Write ``mapping`` to ``path`` (UTF-8 JSON); returns the path."""
    path = Path(path)
    text = mapping_to_json(mapping) + "\n"
    atomic_write(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))
    return path


def load_mapping(path: str | Path) -> BoneMapping:
    """Read a mapping file; MappingError naming the file and the field when it is malformed,
    names unknown SMPL joints or gives one bone to two joints."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(f"{path}: cannot read the mapping file ({error.strerror or error})") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MappingError(f"{path}: not JSON (line {error.lineno}: {error.msg})") from error
    return mapping_from_json(data, str(path))


def mapping_from_json(data, where: str) -> BoneMapping:
    if not isinstance(data, dict):
        raise MappingError(f"{where}: expected a JSON object with 'format' and 'bones'")
    if data.get("format") != FORMAT:
        raise MappingError(f"{where}: field 'format' must be {FORMAT!r}, got {data.get('format')!r}")
    version = data.get("version")
    if version != VERSION:
        raise MappingError(f"{where}: field 'version' must be {VERSION}, got {version!r}")
    bones = data.get("bones")
    if not isinstance(bones, dict) or not bones:
        raise MappingError(f"{where}: field 'bones' must be a non-empty object of SMPL joint -> bone name")
    return mapping_from_dict(bones, f"{where}: field 'bones'")
