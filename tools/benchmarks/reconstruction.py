"""Reconstructing a 100-frame synthetic sequence; importing a 500k-point bundle with two people."""

import tempfile
from pathlib import Path

import bpy
import numpy as np

from addon.core.body.model import load_body_model
from addon.core.recon.bundle import Bundle, write_bundle
from addon.core.recon.pipeline import ReconstructionConfig, reconstruct
from addon.core.recon.sequence import read_sequence
from addon.core.recon.synthetic import SyntheticConfig, write_synthetic_sequence

from . import repeat


def reconstruct_sequence(body, folder: Path) -> dict:
    config = SyntheticConfig(num_frames=100, key_frame_every=10, num_people=(2, 2))
    write_synthetic_sequence(folder / "seq", config, seed=11, body=body)
    sequence = read_sequence(folder / "seq")

    def once():
        reconstruct(read_sequence(folder / "seq"), body, ReconstructionConfig())

    return {
        "name": "reconstruct 100 frames, 10 key frames, 640x480, 2 people",
        "samples_s": repeat(once, 3),
        "detections": len(sequence.detections),
    }


def big_bundle(points: int = 500_000, frames: int = 100) -> Bundle:
    rng = np.random.default_rng(0)
    P = 2
    return Bundle(
        fps=10.0, image_size=(640, 480), K=np.array([[400.0, 0, 320], [0, 400.0, 240], [0, 0, 1]]),
        camera_to_world=np.eye(4), points=rng.uniform([0, 0, 0], [5, 4, 2.6], (points, 3)).astype(np.float32),
        colors=rng.integers(0, 255, (points, 3)).astype(np.uint8), point_labels=rng.integers(0, 3, points).astype(np.int16),
        mask_labels=["floor", "wall", "bed"], person_roles=["staff", "patient"],
        person_betas=np.zeros((P, 10)), person_global_orient=np.tile([np.pi / 2, 0, 0], (P, frames, 1)),
        person_body_pose=rng.normal(scale=0.2, size=(P, frames, 23, 3)),
        person_transl=np.tile([2.0, 2.0, 0.9], (P, frames, 1)), person_valid=np.ones((P, frames), bool),
        person_actions=np.full((P, frames), -1, np.int32),
    )


def import_bundle(folder: Path) -> dict:
    path = folder / "big.npz"
    write_bundle(path, big_bundle())

    def once():
        bpy.ops.isynth.import_reconstruction(filepath=str(path))

    return {"name": "isynth.import_reconstruction 500k points + 2 people x 100 frames", "samples_s": repeat(once, 3)}


def run(context: dict) -> list[dict]:
    body = load_body_model(None)
    with tempfile.TemporaryDirectory(prefix="isynth_bench_recon_") as work:
        return [reconstruct_sequence(body, Path(work)), import_bundle(Path(work))]
