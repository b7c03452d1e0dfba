"""blender_manifest.toml says what the extension platform and the Foundation issue require."""

import tomllib
from pathlib import Path

from addon.core.version import EXTENSION_ID, extension_version

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_manifest() -> dict:
    with open(REPO_ROOT / "blender_manifest.toml", "rb") as handle:
        return tomllib.load(handle)


def test_identity_fields():
    manifest = load_manifest()
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["id"] == EXTENSION_ID == "interaction_synth"
    assert manifest["name"] == "Interaction Synth"
    assert manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert extension_version() == manifest["version"]


def test_permissions_have_reasons_within_blenders_limit():
    permissions = load_manifest()["permissions"]
    assert permissions, "declare what the extension touches"
    for name, reason in permissions.items():
        assert isinstance(reason, str) and 0 < len(reason) <= 64, name
        assert not reason.endswith("."), f"{name}: Blender rejects a trailing full stop"


def test_build_paths_exist_and_ship_nothing_of_development():
    paths = load_manifest()["build"]["paths"]
    for entry in paths:
        assert (REPO_ROOT / entry).exists(), entry
    shipped = {entry.split("/")[0] for entry in paths}
    assert {"__init__.py", "addon", "wheels", "LICENSE"} <= shipped
    assert not shipped & {"tests", "tools", ".venv", "run", "requirements.lock", "docs"}
