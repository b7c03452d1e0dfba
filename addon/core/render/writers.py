"""Data-set files from finished clips: MMAction2 video lists, the PoseC3D skeleton pickle, COCO
keypoints JSON, split lists and the class list (reference §3.1-3.3).

Layout under the data-set folder (``clips/<clip_id>/`` holds each clip)::

    annotations/classes.txt                        one action name per line, line i = label i
    annotations/<split>_list_videos.txt            "clips/<id>/video.mp4 <label>" (VideoDataset)
    annotations/<split>_list_videos_<kind>.txt     the same for skeleton / depth / silhouette videos
    annotations/skeleton_2d.pkl                    PoseDataset: {'split': {...}, 'annotations': [...]}
    annotations/coco_keypoints_<split>.json        one image per frame (file_name: its PNG; video and
                                                   frame_index: where it is in video.mp4), one annotation
                                                   per person
    splits/<split>.txt                             clip ids

Every file is written atomically. The pickle holds only dicts, lists, str, int, tuples and numpy
arrays, so ``pickle.load`` + numpy reads it (MMAction2 loads it with ``mmengine.load``).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from ..labels import ACTIONS
from ..files import atomic_write
from .coco import COCO_NAMES, COCO_SKELETON

SPLITS = ("train", "val", "test")
VIDEO_FILES = {"rgb": "video.mp4", "skeleton": "skeleton.mp4", "depth": "depth.mp4", "silhouette": "silhouette.mp4"}
# keypoint_score from COCO visibility: visible 1, occluded 0.5, not labelled 0 (reference §3.5).
SCORE_OF_VISIBILITY = np.array([0.0, 0.5, 1.0], dtype=np.float32)


def posec3d_entry(document: dict) -> dict:
    """One PoseDataset annotation from a clip's annotations.json document.

    keypoint: (M, T, 17, 2) float32 pixels (zeros where v = 0); keypoint_score: (M, T, 17) float32.
    """
    width, height = document["image_size"]
    frames = document["frames"]
    T, M = len(frames), len(document["persons"])
    triplets = np.array([[person["keypoints"] for person in frame["persons"]] for frame in frames],
                        dtype=np.float64).reshape(T, M, 17, 3)
    triplets = triplets.transpose(1, 0, 2, 3)  # (M, T, 17, 3)
    visibility = triplets[..., 2].astype(np.int64)
    return {
        "frame_dir": document["clip_id"],
        "label": int(document["label_id"]),
        "img_shape": (int(height), int(width)),
        "original_shape": (int(height), int(width)),
        "total_frames": T,
        "keypoint": np.ascontiguousarray(triplets[..., :2], dtype=np.float32),
        "keypoint_score": SCORE_OF_VISIBILITY[visibility],
    }


def coco_document(documents: list[dict], video_file: str | None = VIDEO_FILES["rgb"],
                  frame_file: str = "frames/img_{:05d}.png") -> dict:
    """COCO keypoints JSON for clips: one image per frame and one annotation per person and frame
    (``track_id``, ``role``, ``action_id`` extras). Ids are 1-based and stable for a given list
    of clips.

    An image's ``file_name`` is its PNG under the clip's folder (written only with
    ``png_frames``); the extras ``video`` (the clip's ``video_file`` relative to the data set,
    None without an RGB video) and ``frame_index`` (0-based frame of that video) say where the
    frame is whether or not the PNGs exist. ``video_id``, ``clip_id`` and ``frame_id`` (= the
    frame index) group images into clips.
    """
    images, annotations = [], []
    for video_id, document in enumerate(documents, start=1):
        width, height = document["image_size"]
        folder = f"clips/{document['clip_id']}/"
        for frame in document["frames"]:
            image_id = len(images) + 1
            images.append({
                "id": image_id, "width": width, "height": height, "video_id": video_id,
                "clip_id": document["clip_id"], "frame_id": frame["frame"],
                "video": folder + video_file if video_file else None, "frame_index": frame["frame"],
                "file_name": folder + frame_file.format(frame["frame"] + 1),
            })
            for person in frame["persons"]:
                keypoints = np.asarray(person["keypoints"], dtype=np.float64)
                x, y, w, h = person["bbox"]
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                    "bbox": [x, y, w, h], "area": float(w * h), "iscrowd": 0,
                    "keypoints": [float(v) if i % 3 != 2 else int(v) for i, v in enumerate(keypoints.ravel())],
                    "num_keypoints": int((keypoints[:, 2] > 0).sum()),
                    "track_id": person["person"], "role": person["role"], "action_id": person["action_id"],
                })
    return {
        "info": {"description": "Interaction Synth synthetic video (COCO-17 keypoints)", "version": "1"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO_NAMES),
                        "skeleton": [list(edge) for edge in COCO_SKELETON]}],
    }


def write_dataset_files(root: str | Path, documents: list[dict], videos: tuple[str, ...]) -> list[Path]:
    """Write every data-set file for the finished clips ``documents`` (sorted by clip id here).

    videos: which clip videos exist ("rgb", "skeleton", "depth", "silhouette"). Returns the paths.
    """
    root = Path(root)
    documents = sorted(documents, key=lambda d: d["clip_id"])
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "splits").mkdir(parents=True, exist_ok=True)
    written = [_text(root / "annotations" / "classes.txt", "".join(f"{name}\n" for name in ACTIONS))]
    by_split = {split: [d for d in documents if d["split"] == split] for split in SPLITS}
    for split, members in by_split.items():
        written.append(_text(root / "splits" / f"{split}.txt", "".join(f"{d['clip_id']}\n" for d in members)))
        for kind in videos:
            suffix = "" if kind == "rgb" else f"_{kind}"
            lines = "".join(f"clips/{d['clip_id']}/{VIDEO_FILES[kind]} {d['label_id']}\n" for d in members)
            written.append(_text(root / "annotations" / f"{split}_list_videos{suffix}.txt", lines))
        video = VIDEO_FILES["rgb"] if "rgb" in videos else None
        coco = json.dumps(coco_document(members, video), separators=(",", ":")) + "\n"
        written.append(_text(root / "annotations" / f"coco_keypoints_{split}.json", coco))
    skeleton = {
        "split": {split: [d["clip_id"] for d in members] for split, members in by_split.items()},
        "annotations": [posec3d_entry(d) for d in documents],
    }
    path = root / "annotations" / "skeleton_2d.pkl"

    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            pickle.dump(skeleton, stream, protocol=4)

    atomic_write(path, write)
    written.append(path)
    return written


def _text(path: Path, text: str) -> Path:
    def write(temporary: str) -> None:
        Path(temporary).write_text(text, encoding="utf-8")

    atomic_write(path, write)
    return path
