"""The built zip installs offline through Blender's extension installer, works, and uninstalls cleanly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.compat, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory) -> Path:
    """The zip ./run compat built (ISYNTH_EXTENSION_ZIP), else a fresh host-platform build."""
    given = os.environ.get("ISYNTH_EXTENSION_ZIP")
    if given:
        return Path(given)
    import build_extension

    records = build_extension.build([build_extension.host_platform()], tmp_path_factory.mktemp("dist"))
    return Path(records[0]["zip"])


def test_zip_installs_enables_runs_and_uninstalls(extension_zip, tmp_path):
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run(
        [sys.executable, str(HERE / "install_zip_check.py"), str(extension_zip)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["install"] == ["FINISHED"] and seen["enabled"]
    assert seen["package_installed"]
    assert {"ISYNTH_AP_preferences", "ISYNTH_OT_add_demo_room", "ISYNTH_PT_interaction"} <= set(seen["classes"])
    assert seen["preferences"] == "AUTO"
    assert seen["add_demo_room"] == ["FINISHED"]
    assert {"Floor", "Walls", "Bed", "Chair", "BedsideTable"} <= set(seen["meshes"])
    # Offline CPU generation's dependencies came from the zip, not from pip at run time.
    assert seen["torch_unpacked"]
    version, total = seen["bundled_torch"].split()
    assert version.startswith("2.13.0") and float(total) == 12.0
    # Disabling unregisters everything; removal leaves nothing behind.
    assert seen["disable"] == ["FINISHED"] and seen["classes_disabled"] == []
    assert seen["uninstall"] == ["FINISHED"] and not seen["enabled_after"]
    assert seen["classes_after"] == [] and not seen["package_after"] and not seen["torch_after"]
