"""The interaction denoiser: one transformer over all persons' poses plus condition tokens (thesis 5.5).

Token sequence of a batch row, L = 2 + S + P·T:

    [step] [text] [scene_1 .. scene_S] [person_1 frame_1 .. person_1 frame_T .. person_P frame_T]

1. pose token  = Linear(x_t[p, f]) + sinusoidal(frame f) (eq. 3.24) + ID_emb(person_ids[p])
                 + role_emb(roles[p]) + step embedding;
2. text token  = Linear(text embedding), or a learned "no text" token for unconditional rows;
3. step token  = MLP(sinusoidal(t)). The step embedding is ALSO added to every pose token, so each
                 pose token knows the noise level from the first layer on (MDM uses the token only);
4. scene token = SceneEncoder(group) + a learned "scene" type vector (conditioning.py).

Pre-norm encoder blocks with ``scaled_dot_product_attention`` and a boolean key mask (padded
persons, padded frames, padded or dropped scene groups never act as keys), then LayerNorm and a
Linear back to F features for the pose tokens only: x0_hat (B, P, T, F), zero at padded poses.
There is no positional information across persons except the ID embedding, so permuting persons
together with their ids, roles and masks permutes the output (no fixed person order).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conditioning import ROLES, Conditioning, SceneEncoder

# 22 joints x 3 global positions + 22 x 3 global velocities + 21 x 6 local 6D rotations
# + 6 root global 6D orientation (DESIGN.md "The model"; InterGen's 262 without the 4 foot contacts, + 6).
FEATURE_DIM = 22 * 3 + 22 * 3 + 21 * 6 + 6


@dataclass(frozen=True)
class DenoiserConfig:
    """Network shape; stored in checkpoint metadata as ``dataclasses.asdict(config)``.

    feature_dim: F, features per person per frame. d_model/layers/heads/ff: transformer width,
    depth, attention heads, feed-forward width. dropout: in attention and after each sub-layer.
    max_persons: size of the ID embedding table (the most persons a clip can have).
    max_frames: longest clip, frames. text_dim: E of the text encoder. num_roles: len(ROLES).
    use_scene: whether scene tokens are built (a condition's scene is ignored otherwise).
    scene_hidden: per-point MLP width. scene_groups/scene_group_size: how many groups of how many
    points ``conditioning.scene_tokens`` makes for this model (the network accepts any).
    """

    feature_dim: int = FEATURE_DIM
    d_model: int = 256
    layers: int = 4
    heads: int = 4
    ff: int = 512
    dropout: float = 0.1
    max_persons: int = 4
    max_frames: int = 300
    text_dim: int = 384
    num_roles: int = len(ROLES)
    use_scene: bool = True
    scene_hidden: int = 64
    scene_groups: int = 32
    scene_group_size: int = 64

    def __post_init__(self) -> None:
        if self.d_model % self.heads or self.d_model % 2:
            raise ValueError(f"d_model ({self.d_model}) must be even and divisible by heads ({self.heads})")
        if min(self.feature_dim, self.layers, self.ff, self.max_persons, self.max_frames, self.text_dim) < 1:
            raise ValueError(f"DenoiserConfig sizes must be >= 1: {self}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DenoiserConfig:
        """Inverse of ``dataclasses.asdict``; unknown keys raise (a checkpoint from another version)."""
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"DenoiserConfig: unknown keys {sorted(unknown)}")
        return cls(**values)


def default_config() -> DenoiserConfig:
    """The shipped size, 2.57 M parameters, for <= 1 s of guided 10-step sampling on 2 CPU cores.

    Measured (torch 2.14, 2-core Xeon VM, 2 threads, inference_mode): one forward of B = 2
    (conditional + unconditional), P = 2, T = 200 takes 55-64 ms with 32 scene tokens and
    45-55 ms without (min-median of 80), so 10 steps cost ~0.6 s.
    """
    return DenoiserConfig()


def tiny_config(**overrides: Any) -> DenoiserConfig:
    """A ~40k-parameter network for tests (dropout off, so outputs are deterministic)."""
    base = dict(
        d_model=32, layers=2, heads=4, ff=64, dropout=0.0, max_frames=64, text_dim=16, scene_hidden=16
    )
    return DenoiserConfig(**{**base, **overrides})


def sinusoidal_encoding(positions: Tensor, dim: int) -> Tensor:
    """Eq. 3.24: positions (...,) (frames or diffusion steps) -> (..., dim) float32.

    Even channels 2i: sin(pos / 10000^(2i/dim)); odd channels 2i+1: cos of the same angle.
    """
    exponent = torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) / dim
    angle = positions.to(torch.float32)[..., None] / torch.pow(10000.0, exponent)  # (..., dim/2)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)


class SelfAttention(nn.Module):
    """Multi-head self-attention (eq. 3.23) through ``scaled_dot_product_attention``."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        """x: (B, L, D); key_mask: (B, L) bool, True = may be attended to -> (B, L, D)."""
        b, length, d = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=key_mask[:, None, None, :], dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, L, D/H)
        return self.out(y.transpose(1, 2).reshape(b, length, d))


class Block(nn.Module):
    """Pre-norm transformer encoder block: x + Attn(LN(x)), then x + FF(LN(x))."""

    def __init__(self, d_model: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, heads, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff), nn.GELU(), nn.Linear(ff, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), key_mask))
        return x + self.drop(self.ff(self.norm2(x)))


class InteractionDenoiser(nn.Module):
    """x0-prediction network: forward(x_t (B, P, T, F), t (B,), cond) -> x0_hat (B, P, T, F).

    t: diffusion timesteps (int64, or whole float64) of the training schedule. P <= max_persons,
    T <= max_frames. Padded poses (cond.pose_mask False) are neither read nor attended to, and
    come out as zeros.
    """

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.pose_in = nn.Linear(config.feature_dim, d)
        self.person_id = nn.Embedding(config.max_persons, d)
        self.role = nn.Embedding(config.num_roles, d)
        self.step_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.text_in = nn.Linear(config.text_dim, d)
        self.no_text = nn.Parameter(torch.zeros(d))
        self.scene = SceneEncoder(d, config.scene_hidden) if config.use_scene else None
        self.scene_type = nn.Parameter(torch.zeros(d)) if config.use_scene else None
        self.blocks = nn.ModuleList(
            Block(d, config.heads, config.ff, config.dropout) for _ in range(config.layers)
        )
        self.norm_out = nn.LayerNorm(d)
        self.pose_out = nn.Linear(d, config.feature_dim)
        frames = sinusoidal_encoding(torch.arange(config.max_frames), d)  # (max_frames, D)
        self.register_buffer("frame_encoding", frames, persistent=False)
        # Small learned vectors next to the +-1 sinusoids, as BERT/GPT initialise their embeddings.
        for param in (self.person_id.weight, self.role.weight, self.no_text, self.scene_type):
            if param is not None:
                nn.init.normal_(param, std=0.02)

    def forward(self, x_t: Tensor, t: Tensor, cond: Conditioning) -> Tensor:
        """x_t: (B, P, T, F) noisy features; t: (B,) timesteps -> x0_hat (B, P, T, F)."""
        self._check(x_t, t, cond)
        b, p, frames, features = x_t.shape
        pose_mask = cond.pose_mask  # (B, P, T)
        step = self.step_mlp(sinusoidal_encoding(t, self.config.d_model)).to(x_t.dtype)  # (B, D)

        prefix = [step[:, None, :], self._text_token(cond, x_t.dtype)[:, None, :]]
        keep = [torch.ones(b, 2, dtype=torch.bool, device=x_t.device)]
        if self.scene is not None and cond.scene_points is not None:
            prefix.append(self._scene_tokens(cond, x_t.dtype))
            keep.append(cond.scene_mask)
        n_prefix = sum(tokens.shape[1] for tokens in prefix)
        h = torch.cat([*prefix, self._pose_tokens(x_t, step, cond)], dim=1)  # (B, L, D)
        key_mask = torch.cat([*keep, pose_mask.reshape(b, p * frames)], dim=1)  # (B, L)

        for block in self.blocks:
            h = block(h, key_mask)
        out = self.pose_out(self.norm_out(h[:, n_prefix:])).reshape(b, p, frames, features)
        return torch.where(pose_mask[..., None], out, torch.zeros((), dtype=out.dtype, device=out.device))

    def _pose_tokens(self, x_t: Tensor, step: Tensor, cond: Conditioning) -> Tensor:
        """Token 1 of the module doc: (B, P, T, F) -> (B, P*T, D), person-major."""
        b, p, frames, _ = x_t.shape
        # Padded poses are zeroed first, so that not even NaN padding can reach a valid output.
        x = torch.where(cond.pose_mask[..., None], x_t, torch.zeros((), dtype=x_t.dtype, device=x_t.device))
        who = self.person_id(cond.person_ids) + self.role(cond.roles)  # (B, P, D)
        h = self.pose_in(x) + self.frame_encoding[:frames] + who[:, :, None, :] + step[:, None, None, :]
        return h.reshape(b, p * frames, self.config.d_model)

    def _text_token(self, cond: Conditioning, dtype: torch.dtype) -> Tensor:
        """(B, D): the projected text, or the learned "no text" token where text_mask is False."""
        no_text = self.no_text.to(dtype).expand(cond.batch_size, -1)
        if cond.text is None:
            return no_text
        return torch.where(cond.text_mask[:, None], self.text_in(cond.text.to(dtype)), no_text)

    def _scene_tokens(self, cond: Conditioning, dtype: torch.dtype) -> Tensor:
        """(B, S, D) scene group tokens."""
        tokens = self.scene(cond.scene_points.to(dtype), cond.scene_centres.to(dtype))
        return tokens + self.scene_type.to(dtype)

    def _check(self, x_t: Tensor, t: Tensor, cond: Conditioning) -> None:
        b, p, frames, features = x_t.shape
        c = self.config
        if features != c.feature_dim or p > c.max_persons or frames > c.max_frames:
            raise ValueError(
                f"x_t {tuple(x_t.shape)} does not fit the config (F={c.feature_dim}, "
                f"P <= {c.max_persons}, T <= {c.max_frames})"
            )
        if t.shape != (b,) or (cond.batch_size, cond.num_persons, cond.num_frames) != (b, p, frames):
            raise ValueError(
                f"t {tuple(t.shape)} and cond (B, P, T)="
                f"{(cond.batch_size, cond.num_persons, cond.num_frames)} must match x_t {tuple(x_t.shape)}"
            )
        if cond.text is not None and cond.text.shape[1] != c.text_dim:
            raise ValueError(f"cond.text has E={cond.text.shape[1]}, the network expects {c.text_dim}")
