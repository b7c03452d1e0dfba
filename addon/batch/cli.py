"""``render``: a job file -> a labelled synthetic video data set (docs/batch_rendering.md).

    render --config jobs.toml --out DIR [--workers K] [--shard i/N] [--resume]
    render --out DIR --one-clip KEY          render one job of DIR/manifest.json in this process
    render --out DIR --assemble              (re)write the data-set files from the finished clips

Every random choice is resolved into ``DIR/manifest.json`` first; then one Blender process per clip
renders into ``DIR/.partial/<clip>`` and renames it to ``DIR/clips/<clip>`` when complete. Events go
to ``DIR/log.jsonl``, each child's output to ``DIR/logs/<clip>.log``, a progress bar with ETA to
stderr. The data-set files are written when the run's clips are done (by the last shard to finish
when sharded, or with ``--assemble``).

Exit codes: 0 done; 1 some clips failed (each retried once; the rest went on), or the run itself
failed (one line on stderr, a ``run_failed`` event with the traceback in the log; ``--debug``
prints the traceback too); 2 bad input (the message names the file and key); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.render.jobspec import JobSpec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
SCRIPT = Path(__file__).resolve().with_name("blender_render.py")


class UsageError(ValueError):
    """Bad command-line input; the message says what to change."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="the job file (TOML)")
    parser.add_argument("--out", type=Path, required=True, help="the data-set folder (created)")
    parser.add_argument("--workers", type=int, default=1, help="clips rendered at once, one process each")
    parser.add_argument("--shard", default="0/1", help="i/N: render every N-th job starting at i (job arrays)")
    parser.add_argument("--resume", action="store_true", help="keep finished clips, redo partial ones")
    parser.add_argument("--assemble", action="store_true", help="only write the data-set files")
    parser.add_argument("--dry-run", action="store_true", help="only write the manifest and list the jobs")
    parser.add_argument("--one-clip", metavar="KEY", help="render one job of DIR/manifest.json here")
    parser.add_argument("--threads", type=int, default=0, help="render/torch threads per clip (0: automatic)")
    parser.add_argument("--retries", type=int, default=1, help="retries of a failed clip")
    parser.add_argument("--clip-timeout", type=float, default=None, help="seconds before a clip is killed")
    parser.add_argument("--blender", default="", help="Blender binary for the clip processes "
                                                       "(default: this Blender, or this Python's bpy module)")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code and never raises: under ``blender -b --python``
    an escaping exception would end Blender with exit code 0."""
    from ..core.render.toml_table import JobSpecError

    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.one_clip:
            return one_clip(args)
        if args.assemble and args.config is None:
            return assemble_only(args.out)
        return run(args)
    except (JobSpecError, UsageError) as error:
        print(f"render: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\nrender: interrupted; run again with --resume to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001  (anything else: one line, the log, exit code 1)
        return _run_failed(args, error)


def _run_failed(args: argparse.Namespace, error: Exception) -> int:
    """Report an unexpected error: one line on stderr, ``run_failed`` with the traceback in the log."""
    from .progress import JsonLog

    message = f"render: failed: {type(error).__name__}: {error}"
    try:
        JsonLog(args.out / "log.jsonl", pid=os.getpid())(
            "run_failed", error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
        message += f" (traceback in {args.out / 'log.jsonl'})"
    except OSError:
        pass  # no writable --out: the message alone
    if args.debug:
        traceback.print_exc()
    print(message, file=sys.stderr)
    return EXIT_FAILED


def run(args: argparse.Namespace) -> int:
    from ..core.render.dataset import assemble_dataset, finished_clips
    from ..core.render.jobspec import load_job_spec
    from ..core.render.manifest import build_manifest, parse_shard, read_manifest, shard, write_manifest
    from .avatar_files import check_avatar_files
    from .progress import JsonLog, ProgressBar
    from .scheduler import run_clips

    if args.config is None:
        raise UsageError("--config jobs.toml is required (or --one-clip KEY / --assemble with an existing --out)")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    try:
        index, count = parse_shard(args.shard)
    except ValueError as error:
        raise UsageError(str(error)) from None
    blender = _blender_binary(args.blender)
    spec = load_job_spec(args.config)
    check_avatar_files(spec)
    manifest = build_manifest(spec)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "manifest.json"
    if path.is_file():
        try:
            existing = read_manifest(path)
        except ValueError as error:
            raise UsageError(str(error)) from None
        if existing["jobs"] != json.loads(json.dumps(manifest["jobs"])):
            raise UsageError(f"{out} holds a data set of different jobs (its manifest.json differs from what "
                             f"{args.config} gives); choose another --out")
    mine = shard(manifest["jobs"], index, count)
    finished = {job["clip_id"] for job in finished_clips(out, manifest)}
    if finished & {job["clip_id"] for job in mine} and not (args.resume or args.assemble or args.dry_run):
        raise UsageError(f"{out} already holds {len(finished)} finished clips of this job; pass --resume to keep "
                         "them and render the rest, or choose another --out")
    write_manifest(path, manifest)
    log = JsonLog(out / "log.jsonl", shard=f"{index}/{count}", pid=os.getpid())
    todo = [job for job in mine if job["clip_id"] not in finished]
    print(f"render: {len(manifest['jobs'])} jobs in {path}; shard {index}/{count} has {len(mine)}, "
          f"{len(mine) - len(todo)} already finished, {len(todo)} to render with {args.workers} worker(s)",
          file=sys.stderr)
    warnings = output_warnings(spec)
    for warning in warnings:
        print(f"render: warning: {warning}", file=sys.stderr)
    if args.dry_run:
        for job in todo:
            print(job["key"])
        return EXIT_OK
    log("run_start", jobs=len(mine), todo=len(todo), workers=args.workers, resume=args.resume,
        config=str(Path(args.config).resolve()))
    for warning in warnings:
        log("warning", message=warning)
    threads = clip_threads(args.threads, args.workers)
    bar = ProgressBar("render")
    try:
        result = run_clips(todo, out, lambda job: clip_command(job, out, threads, blender), args.workers, log, bar,
                           retries=args.retries, timeout_s=args.clip_timeout) if not args.assemble else None
    except KeyboardInterrupt:
        bar.close()
        log("run_interrupted")
        raise
    bar.close()
    failed = list(result.failed) if result else []
    complete = len(finished_clips(out, manifest)) == len(manifest["jobs"])
    if count == 1 or complete or args.assemble:
        summary = assemble_dataset(out, manifest)
        log("dataset_written", clips=summary["clips"], missing=len(summary["missing"]))
        print(f"render: data set with {summary['clips']} clips ({summary['splits']}) in {out}", file=sys.stderr)
    else:
        print(f"render: shard {index}/{count} done; the data-set files are written when all shards are "
              f"(or run --assemble)", file=sys.stderr)
    log("run_done", done=len(result.done) if result else 0, failed=failed)
    if failed:
        print(f"render: {len(failed)} clip(s) failed twice: {failed}; see {out / 'log.jsonl'} and {out / 'logs'}",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def output_warnings(spec: JobSpec) -> list[str]:
    """What the data set will lack that its reader might expect (said at run start, and logged)."""
    if spec.outputs.png_frames:
        return []
    if spec.outputs.rgb:
        return ["[outputs] png_frames is false: the COCO files' file_name images (clips/<id>/frames/img_NNNNN.png) "
                "are not written; each COCO image names its frame by video (clips/<id>/video.mp4) and frame_index "
                "(0-based). Set png_frames = true for the PNGs."]
    return ["[outputs] rgb and png_frames are false: no RGB image is written, and the COCO files hold keypoints "
            "whose file_name images do not exist"]


def assemble_only(out: Path) -> int:
    from ..core.render.dataset import assemble_dataset
    from ..core.render.manifest import read_manifest

    try:
        manifest = read_manifest(out / "manifest.json")
    except ValueError as error:
        raise UsageError(str(error)) from None
    summary = assemble_dataset(out, manifest)
    print(f"render: data set with {summary['clips']} of {summary['jobs']} clips in {out}", file=sys.stderr)
    return EXIT_OK


def one_clip(args: argparse.Namespace) -> int:
    """Render one job of ``--out``'s manifest in this (Blender) process."""
    from ..core.render.manifest import read_manifest

    try:
        manifest = read_manifest(args.out / "manifest.json")
    except ValueError as error:
        raise UsageError(str(error)) from None
    job = next((job for job in manifest["jobs"] if job["key"] == args.one_clip), None)
    if job is None:
        raise UsageError(f"{args.out / 'manifest.json'}: no job with key {args.one_clip!r}")
    try:
        from .clip import render_clip

        folder = render_clip(job, args.out, threads=args.threads, say=lambda text: print(text, flush=True))
    except Exception:  # noqa: BLE001  (a child reports every failure and exits non-zero)
        traceback.print_exc()
        return EXIT_FAILED
    print(f"render: wrote {folder}", flush=True)
    return EXIT_OK


def clip_command(job: dict, out: Path, threads: int, blender: str) -> list[str]:
    """The command of one clip's process: Blender running the shipped script, or this Python's bpy."""
    args = ["--out", str(out), "--one-clip", job["key"], "--threads", str(threads)]
    if blender:
        return [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(SCRIPT), "--", *args]
    return [sys.executable, str(SCRIPT), "--", *args]


def clip_threads(requested: int, workers: int) -> int:
    """Render threads per clip process: ``requested``, or the cores this process may run on (its
    CPU affinity: a Slurm or cgroup cpuset, not the whole node) shared among the workers."""
    if requested > 0:
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on macOS and Windows
        cores = os.cpu_count() or 1
    return max(1, cores // workers)


def _blender_binary(given: str) -> str:
    """--blender checked before any clip starts (a wrong path would fail every clip), or this Blender."""
    if not given:
        return _this_blender()
    found = shutil.which(given)
    if found is None:
        raise UsageError(f"--blender: {given!r} is not an executable file")
    return found


def _this_blender() -> str:
    """The Blender binary this process runs in ('' for the bpy module or plain Python)."""
    bpy = sys.modules.get("bpy")
    return str(getattr(getattr(bpy, "app", None), "binary_path", "") or "") if bpy is not None else ""
