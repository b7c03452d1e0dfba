"""A data-set folder: which clips of its manifest are finished, and assembling the data-set files.

``DIR/manifest.json`` lists the jobs, ``DIR/clips/<clip_id>/`` holds finished clips (renamed into
place when complete), ``DIR/.partial/`` clips being rendered. Assembly reads every finished clip's
``annotations.json`` and writes the files of :mod:`.writers` plus ``DIR/dataset.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write
from .annotations import read_annotation_document
from .writers import write_dataset_files


def finished_clips(root: str | Path, manifest: dict) -> list[dict]:
    """The manifest's jobs whose clip folder is complete."""
    root = Path(root)
    return [job for job in manifest["jobs"] if (root / "clips" / job["clip_id"] / "annotations.json").is_file()]


def assemble_dataset(root: str | Path, manifest: dict) -> dict:
    """Write the data-set files for the finished clips; returns (and writes) ``dataset.json``."""
    root = Path(root)
    jobs = finished_clips(root, manifest)
    documents = [read_annotation_document(root / "clips" / job["clip_id"] / "annotations.json") for job in jobs]
    outputs = manifest["spec"]["outputs"]
    videos = tuple(kind for kind in ("rgb", "skeleton", "depth", "silhouette") if outputs.get(kind))
    written = write_dataset_files(root, documents, videos)
    summary = {
        "dataset": manifest["dataset"],
        "clips": len(documents),
        "jobs": len(manifest["jobs"]),
        "missing": sorted(job["clip_id"] for job in manifest["jobs"] if job not in jobs),
        "splits": {split: sum(d["split"] == split for d in documents) for split in ("train", "val", "test")},
        "frames": sum(d["num_frames"] for d in documents),
        "files": [str(path.relative_to(root)) for path in written],
    }

    def write(temporary: str) -> None:
        Path(temporary).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")

    atomic_write(root / "dataset.json", write)
    return summary
