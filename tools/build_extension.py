"""Build the installable extension zips, one per platform, with Blender's own tool.

    ./run build                      every supported platform, into dist/
    ./run build --host-platform      only this machine's platform
    ./run build --platform windows-x64 --out /tmp/zips

Steps: stage the manifest's ``[build] paths`` into build/stage/, download the
worker wheels (requirements-worker.txt) per platform into a cache, copy them
into the stage's wheels/, list them (and the platforms) in the staged manifest,
then ``blender_ext.py build --split-platforms`` and ``blender_ext.py validate``
each zip. Prints one JSON line per zip (path, platform, bytes).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform as platform_module
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import tomli_w

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = REPO_ROOT / "blender_manifest.toml"
WORKER_REQUIREMENTS = REPO_ROOT / "requirements-worker.txt"
CACHE = Path(os.environ.get("ISYNTH_CACHE", Path.home() / ".cache" / "interaction-synth"))

# Blender platform -> wheel platform tags pip may pick for Blender's CPython 3.11.
PLATFORM_TAGS: dict[str, list[str]] = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": [f"macosx_{major}_0_{arch}" for major in (14, 13, 12, 11) for arch in ("arm64", "universal2")],
}
# PyPI's Linux torch is the CUDA build (gigabytes); the CPU build has a local version.
PLATFORM_OVERRIDES: dict[str, dict[str, str]] = {"linux-x64": {"torch": "torch==2.13.0+cpu"}}
# Shipped with Blender 4.2-5.0 itself: never bundled (a second numpy would break Blender).
BLENDER_SHIPPED = {"numpy", "requests", "urllib3", "certifi", "charset_normalizer", "idna", "zstandard", "cython"}
BLENDER_SHIPPED_PINS = ["numpy==1.26.4"]


def host_platform() -> str:
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}[
        platform_module.machine().lower()
    ]
    system = {"linux": "linux", "windows": "windows", "darwin": "macos"}[platform_module.system().lower()]
    return f"{system}-{machine}"


def blender_ext_tool() -> Path:
    """``blender_ext.py`` from the installed bpy wheel (found without importing bpy)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("build: the bpy module is not installed; run ./run setup")
    bpy_dir = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(bpy_dir.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise SystemExit(f"build: no blender_ext.py under {bpy_dir}")
    return found[-1]


def parse_worker_requirements(path: Path = WORKER_REQUIREMENTS) -> tuple[list[str], list[str]]:
    """(requirements resolved with dependencies, requirements taken without) from the file."""
    with_deps, without_deps = [], []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        requirement, _, comment = raw.partition("#")
        requirement = requirement.strip()
        if not requirement:
            continue
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", requirement):
            raise SystemExit(f"{path}:{number}: expected 'name==version', got {requirement!r}")
        (without_deps if "no-deps" in comment else with_deps).append(requirement)
    return with_deps, without_deps


def _distribution(wheel: Path) -> str:
    return wheel.name.split("-")[0].lower().replace("-", "_")


def _pip_download(dest: Path, platform: str, requirements: list[str], *, deps: bool, constraints: Path) -> None:
    if not requirements:
        return
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(dest),
        "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
        "--abi", "cp311", "--abi", "abi3", "--abi", "none",
        *[arg for tag in PLATFORM_TAGS[platform] for arg in ("--platform", tag)],
        "-c", str(constraints),
    ]
    if not deps:
        command.append("--no-deps")
    result = subprocess.run([*command, *requirements], capture_output=True, text=True)
    if result.returncode != 0:
        noise = "WARNING: Location"
        message = "\n".join(line for line in result.stderr.splitlines() if noise not in line)
        raise SystemExit(
            f"build: downloading wheels for {platform} failed:\n{message}\n"
            "For linux-x64 the CPU torch wheel must be reachable: a pip find-links folder or "
            "index holding torch-2.13.0+cpu (e.g. PIP_FIND_LINKS=https://download.pytorch.org/whl/cpu)."
        )


def worker_wheels(platform: str) -> list[Path]:
    """The worker's wheels for ``platform``, downloaded once into the cache."""
    with_deps, without_deps = parse_worker_requirements()
    overrides = PLATFORM_OVERRIDES.get(platform, {})
    with_deps = [overrides.get(req.split("==")[0], req) for req in with_deps]
    key = hashlib.sha256(json.dumps([platform, with_deps, without_deps, PLATFORM_TAGS[platform]]).encode()).hexdigest()[:16]
    dest = CACHE / "wheels" / f"{platform}-{key}"
    stamp = dest / ".complete"
    if not stamp.exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        constraints = dest / "constraints.txt"
        constraints.write_text("\n".join(BLENDER_SHIPPED_PINS) + "\n")
        _pip_download(dest, platform, with_deps, deps=True, constraints=constraints)
        _pip_download(dest, platform, without_deps, deps=False, constraints=constraints)
        stamp.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    return sorted(w for w in dest.glob("*.whl") if _distribution(w) not in BLENDER_SHIPPED)


def stage(stage_dir: Path, platforms: list[str], with_wheels: bool) -> Path:
    """Copy what ships into ``stage_dir`` and write the staged manifest; returns the stage root."""
    with open(MANIFEST, "rb") as handle:
        manifest = tomllib.load(handle)
    shutil.rmtree(stage_dir, ignore_errors=True)
    stage_dir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.whl", ".gitkeep")
    shutil.copy2(MANIFEST, stage_dir / MANIFEST.name)  # Blender's tool adds the manifest itself
    for entry in manifest["build"]["paths"]:
        source = REPO_ROOT / entry
        if source.is_dir():
            shutil.copytree(source, stage_dir / entry, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, stage_dir / entry)
        else:
            raise SystemExit(f"{MANIFEST}: [build] paths lists {entry!r}, which does not exist")
    wheels: list[str] = []
    if with_wheels:
        (stage_dir / "wheels").mkdir(exist_ok=True)
        for platform in platforms:
            for wheel in worker_wheels(platform):
                target = stage_dir / "wheels" / wheel.name
                if not target.exists():
                    shutil.copy2(wheel, target)
                    wheels.append(f"./wheels/{wheel.name}")
    # The stage holds exactly [build] paths already. Blender's builder mis-indexes the
    # wheels when "paths" is set together with "wheels" (bl_pkg 5.0.1 assumes the wheels
    # follow the manifest in its path list), so the staged manifest uses exclusions.
    manifest["build"] = {"paths_exclude_pattern": ["__pycache__/", ".*", "*.pyc"]}
    manifest["platforms"] = platforms
    if wheels:
        manifest["wheels"] = sorted(wheels)
    with open(stage_dir / "blender_manifest.toml", "wb") as handle:
        tomli_w.dump(manifest, handle)
    return stage_dir


def _run_tool(*args: str) -> None:
    result = subprocess.run([sys.executable, str(blender_ext_tool()), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"build: blender_ext.py {args[0]} failed:\n{result.stdout}{result.stderr}")


def build(platforms: list[str], out_dir: Path, with_wheels: bool = True) -> list[dict]:
    """Build and validate one zip per platform into ``out_dir``; returns one record per zip."""
    unknown = sorted(set(platforms) - set(PLATFORM_TAGS))
    if unknown:
        raise SystemExit(f"build: unknown platform(s) {unknown}; supported: {sorted(PLATFORM_TAGS)}")
    started = time.perf_counter()
    stage_dir = stage(REPO_ROOT / "build" / "stage" / "interaction_synth", platforms, with_wheels)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("interaction_synth-*.zip"):
        old.unlink()
    _run_tool("build", "--source-dir", str(stage_dir), "--output-dir", str(out_dir), "--split-platforms")
    records = []
    for zip_path in sorted(out_dir.glob("interaction_synth-*.zip")):
        _run_tool("validate", str(zip_path))
        platform = next((p for p in platforms if zip_path.stem.endswith(p.replace("-", "_"))), "any")
        records.append({"zip": str(zip_path), "platform": platform, "bytes": zip_path.stat().st_size})
    if len(records) != len(platforms):
        raise SystemExit(f"build: expected {len(platforms)} zips, found {[r['zip'] for r in records]}")
    for record in records:
        record["build_seconds"] = round(time.perf_counter() - started, 1)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORM_TAGS), help="repeatable")
    parser.add_argument("--host-platform", action="store_true", help="build only for this machine")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist")
    parser.add_argument("--no-wheels", action="store_true", help="skip the worker wheels (UI-only zip)")
    args = parser.parse_args(argv)
    platforms = args.platform or ([host_platform()] if args.host_platform else list(PLATFORM_TAGS))
    for record in build(platforms, args.out, with_wheels=not args.no_wheels):
        print(json.dumps(record))
        print(f"build: {record['zip']}: {record['bytes'] / 2**20:.1f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
