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
# Bump when the way wheels are chosen changes, so cached downloads are redone.
CACHE_LAYOUT = 2
CACHE = Path(os.environ.get("ISYNTH_CACHE", Path.home() / ".cache" / "interaction-synth"))

# Blender platform -> wheel platform tags pip may pick for Blender's CPython 3.11.
PLATFORM_TAGS: dict[str, list[str]] = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": [f"macosx_{major}_0_{arch}" for major in (14, 13, 12, 11) for arch in ("arm64", "universal2")],
}
# PyPI's Linux torch is the CUDA build (gigabytes); the CPU build has a local version.
PLATFORM_OVERRIDES: dict[str, dict[str, str]] = {"linux-x64": {"torch": "torch==2.13.0+cpu"}}
# Values of PEP 508 environment markers on each target. pip evaluates markers for the
# machine it runs on, not for --platform, so a cross-platform download of torch would
# pull in its Linux-only CUDA wheels; for "target-markers" requirements we evaluate
# the dependencies' markers ourselves.
TARGET_MARKERS: dict[str, dict[str, str]] = {
    "linux-x64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
    "windows-x64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
}
PYTHON_MARKERS = {
    "python_version": "3.11",
    "python_full_version": "3.11.9",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
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


def parse_worker_requirements(path: Path = WORKER_REQUIREMENTS) -> tuple[list[str], list[str], list[str]]:
    """Requirements from the file, by how their dependencies are found:
    (pip resolves them, none are taken, we evaluate their markers for the target)."""
    with_deps, without_deps, target_markers = [], [], []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        requirement, _, comment = raw.partition("#")
        requirement = requirement.strip()
        if not requirement:
            continue
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", requirement):
            raise SystemExit(f"{path}:{number}: expected 'name==version', got {requirement!r}")
        if "no-deps" in comment:
            without_deps.append(requirement)
        elif "target-markers" in comment:
            target_markers.append(requirement)
        else:
            with_deps.append(requirement)
    return with_deps, without_deps, target_markers


def target_dependencies(wheel: Path, platform: str) -> list[str]:
    """The wheel's Requires-Dist whose markers hold on ``platform`` (markers dropped)."""
    import zipfile

    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode("utf-8")
    environment = {**PYTHON_MARKERS, **TARGET_MARKERS[platform]}
    found = []
    for line in metadata.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        requirement = Requirement(line.partition(":")[2].strip())
        if requirement.marker is None or requirement.marker.evaluate(environment):
            found.append(f"{requirement.name}{requirement.specifier}")
    return found


def _project(requirement: str) -> str:
    """Normalised project name of a requirement string ("Typing-Extensions>=4" -> "typing_extensions")."""
    from packaging.requirements import Requirement

    return Requirement(requirement).name.lower().replace("-", "_").replace(".", "_")


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


def _complete_for_target(dest: Path, platform: str, constraints: Path, skip: set[str], rounds: int = 5) -> None:
    """Download dependencies that only the target's markers ask for (e.g. colorama on Windows).

    pip resolved the markers for this machine; here every downloaded wheel's
    Requires-Dist is evaluated for ``platform`` until nothing is missing.
    """
    for _ in range(rounds):
        present = {_distribution(w) for w in dest.glob("*.whl")}
        missing = sorted(
            {
                dep
                for wheel in dest.glob("*.whl")
                if _distribution(wheel) not in skip
                for dep in target_dependencies(wheel, platform)
                if _project(dep) not in present | BLENDER_SHIPPED
            }
        )
        if not missing:
            return
        _pip_download(dest, platform, missing, deps=True, constraints=constraints)
    raise SystemExit(f"build: dependencies for {platform} did not settle after {rounds} rounds")


def worker_wheels(platform: str) -> list[Path]:
    """The worker's wheels for ``platform``, downloaded once into the cache."""
    with_deps, without_deps, target_markers = parse_worker_requirements()
    overrides = PLATFORM_OVERRIDES.get(platform, {})
    target_markers = [overrides.get(req.split("==")[0], req) for req in target_markers]
    with_deps = [overrides.get(req.split("==")[0], req) for req in with_deps]
    key = hashlib.sha256(
        json.dumps([CACHE_LAYOUT, platform, with_deps, without_deps, target_markers, PLATFORM_TAGS[platform]]).encode()
    ).hexdigest()[:16]
    dest = CACHE / "wheels" / f"{platform}-{key}"
    stamp = dest / ".complete"
    if not stamp.exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        constraints = dest / "constraints.txt"
        constraints.write_text("\n".join(BLENDER_SHIPPED_PINS) + "\n")
        _pip_download(dest, platform, target_markers, deps=False, constraints=constraints)
        # Their dependencies (minus what Blender ships), resolved together with the rest.
        own = {req.split("==")[0].lower().replace("-", "_") for req in target_markers}
        extra = [
            dep
            for wheel in dest.glob("*.whl")
            if _distribution(wheel) in own
            for dep in target_dependencies(wheel, platform)
            if _project(dep) not in BLENDER_SHIPPED
        ]
        _pip_download(dest, platform, [*with_deps, *extra], deps=True, constraints=constraints)
        _pip_download(dest, platform, without_deps, deps=False, constraints=constraints)
        _complete_for_target(dest, platform, constraints, skip={_project(r) for r in without_deps})
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
