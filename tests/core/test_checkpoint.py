"""Checkpoints round trip without pickles and fail clearly when broken."""

import json

import numpy as np
import pytest
import torch

from addon.core.diffusion.checkpoint import (
    CheckpointArrays, CheckpointError, CheckpointMeta, build_denoiser, checkpoint_paths, config_dict,
    load_checkpoint_files, save_checkpoint,
)
from addon.core.diffusion.conditioning import Conditioning
from addon.core.diffusion.denoiser import InteractionDenoiser, tiny_config


def tiny_checkpoint(tmp_path):
    config = tiny_config()
    torch.manual_seed(0)
    model = InteractionDenoiser(config).eval()
    meta = CheckpointMeta(network=config_dict(config), text_encoder="minilm:all-MiniLM-L6-v2", fps=20.0, max_frames=64)
    arrays = CheckpointArrays(
        model=model.state_dict(), stats_mean=np.zeros(264), stats_std=np.ones(264), rest_joints=np.zeros((24, 3))
    )
    return model, save_checkpoint(tmp_path / "tiny", meta, arrays)


def conditioning(batch=1, persons=2, frames=8, text_dim=16):
    return Conditioning(
        text=torch.randn(batch, text_dim), text_mask=torch.ones(batch, dtype=torch.bool),
        roles=torch.zeros(batch, persons, dtype=torch.long), person_ids=torch.arange(persons).repeat(batch, 1),
        person_mask=torch.ones(batch, persons, dtype=torch.bool), frame_mask=torch.ones(batch, frames, dtype=torch.bool),
    )


def test_round_trip_gives_the_same_network(tmp_path):
    model, weights = tiny_checkpoint(tmp_path)
    meta, arrays = load_checkpoint_files(weights)
    loaded = build_denoiser(meta, arrays)
    x, t, cond = torch.randn(1, 2, 8, 264), torch.tensor([10]), conditioning()
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(x, t, cond).numpy(), model(x, t, cond).numpy())
    assert meta.text_encoder == "minilm:all-MiniLM-L6-v2" and meta.fps == 20.0
    assert checkpoint_paths(weights)[1].is_file()


def test_broken_checkpoints_name_the_file_and_field(tmp_path):
    _, weights = tiny_checkpoint(tmp_path)
    _, metadata = checkpoint_paths(weights)
    data = json.loads(metadata.read_text())
    data["format"] = "something-else"
    metadata.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"tiny\.json: 'format'"):
        load_checkpoint_files(weights)
    _, weights = tiny_checkpoint(tmp_path)
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"tiny\.safetensors: not a readable safetensors"):
        load_checkpoint_files(weights)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint_files(tmp_path / "missing.safetensors")


def test_a_network_from_another_version_is_refused(tmp_path):
    _, weights = tiny_checkpoint(tmp_path)
    _, metadata = checkpoint_paths(weights)
    data = json.loads(metadata.read_text())
    data["network"]["d_model"] = 64
    metadata.write_text(json.dumps(data))
    meta, arrays = load_checkpoint_files(weights)
    with pytest.raises(CheckpointError, match="weights do not fit|size mismatch"):
        build_denoiser(meta, arrays)
