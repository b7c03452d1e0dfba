"""A tiny generation checkpoint with RANDOM weights, for tests and CLI smoke runs (never trained).

The text encoder is the real offline MiniLM ("minilm:all-MiniLM-L6-v2", E = 384):
``load_text_encoder`` cannot rebuild a randomly initialised ``clip-config:`` encoder from an id
(those exist only inside tests), and a checkpoint must name an encoder that runs it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from addon.core.body.model import load_body_model
from addon.core.diffusion.checkpoint import CheckpointArrays, CheckpointMeta, config_dict, save_checkpoint
from addon.core.diffusion.denoiser import InteractionDenoiser, tiny_config
from addon.core.motion.motion import Motion
from addon.core.motion.representation import FEATURE_DIM, encode_motion
from addon.core.text.encoders import MINILM_ID

TINY_FPS = 20.0
TINY_MAX_FRAMES = 64  # 3.2 s at 20 fps
# Spread of the de-normalised features around the standing pose: random weights give O(1)
# outputs, so this keeps positions within decimetres of a plausible body.
TINY_STD = 0.05


def write_tiny_checkpoint(
    folder: str | Path,
    *,
    name: str = "tiny",
    seed: int = 0,
    fps: float = TINY_FPS,
    max_frames: int = TINY_MAX_FRAMES,
    use_scene: bool = True,
    anchors: list[tuple[str, tuple[str, ...]]] | None = None,
    token_bank: bool = False,
    evaluation: dict | None = None,
) -> Path:
    """Write ``folder/name.safetensors`` + ``.json`` and return the weights path.

    Network: ``tiny_config`` with text_dim 384 (MiniLM). ``model.*`` and ``ema.*`` hold
    different random weights (ema = model + noise), so a test can tell which were loaded.
    Statistics: mean = the features of the stand-in body standing upright at the origin,
    std = ``TINY_STD``; rest joints: the stand-in body's (metres, template frame).
    anchors: (caption, roles) pairs to ship as prompt anchors, embedded with MiniLM.
    token_bank: ship the anchors' token bank too (needs action labels: (caption, roles, label)).
    evaluation: the metadata's evaluation summary (``./run bundle-checkpoint`` writes the real one).
    """
    config = tiny_config(text_dim=384, max_frames=max_frames, use_scene=use_scene)
    # nn.Module initialises from torch's global RNG: fork it so the caller's stream is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = InteractionDenoiser(config).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ema = {k: v + 0.01 * torch.randn(v.shape, generator=generator, dtype=v.dtype) for k, v in state.items()}
    rest_joints = load_body_model(None).rest_joints()
    meta = CheckpointMeta(
        network=config_dict(config),
        text_encoder=MINILM_ID,
        fps=fps,
        max_frames=max_frames,
        training={"note": "random weights for tests (tests/helpers/tiny_checkpoint.py); not trained"},
        evaluation=dict(evaluation or {}),
    )
    arrays = CheckpointArrays(
        model=state,
        ema=ema,
        stats_mean=standing_features(rest_joints),
        stats_std=np.full(FEATURE_DIM, TINY_STD),
        rest_joints=rest_joints,
    )
    if anchors:
        from addon.core.text.anchors import sample_anchors
        from addon.core.text.encoders import MiniLMEncoder

        # (text, roles) or (text, roles, action label) per anchor
        encoder = MiniLMEncoder()
        bank = sample_anchors([a[0] for a in anchors], [a[1] for a in anchors], encoder.encode, len(anchors),
                              groups=[a[2] if len(a) > 2 else "" for a in anchors],
                              encode_tokens=encoder.encode_tokens if token_bank else None)
        meta.anchor_texts, meta.anchor_groups = bank.texts, bank.groups
        arrays.anchor_embeddings, arrays.anchor_role_counts = bank.embeddings, bank.role_counts
        arrays.anchor_tokens = bank.tokens
    return save_checkpoint(Path(folder) / name, meta, arrays)


def standing_features(rest_joints: np.ndarray) -> np.ndarray:
    """(264,) float32 features of one frame: the body upright in the Z-up world, feet near z = 0."""
    lowest = float(rest_joints[:, 1].min())  # template Y is up; the feet are the lowest joints
    standing = Motion(
        global_orient=np.array([[np.pi / 2, 0.0, 0.0]]),  # Y-up template -> Z-up world
        body_pose=np.zeros((1, 23, 3)),
        transl=np.array([[0.0, 0.0, -lowest]]),
        betas=np.zeros(10),
        fps=TINY_FPS,
    )
    return encode_motion(standing, rest_joints)[0]

