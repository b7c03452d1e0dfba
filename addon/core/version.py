"""The extension's identity, read from ``blender_manifest.toml`` (one source of truth)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

EXTENSION_ID = "interaction_synth"
MANIFEST_PATH = Path(__file__).resolve().parents[2] / "blender_manifest.toml"


@lru_cache(maxsize=1)
def extension_version(manifest_path: Path = MANIFEST_PATH) -> str:
    """The ``version`` field of the manifest, e.g. ``"0.1.0"``."""
    with open(manifest_path, "rb") as handle:
        manifest = tomllib.load(handle)
    try:
        return str(manifest["version"])
    except KeyError:
        raise ValueError(f"{manifest_path}: missing field 'version'") from None
