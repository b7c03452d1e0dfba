"""The project's own text-motion evaluator: a contrastive motion encoder with classification heads.

Neither the HumanML3D evaluator nor InterCLIP can be downloaded, and neither knows staff and
patients, so FID, R-precision, MM-Dist, Diversity and MModality (:mod:`.distribution`) are
measured in the embedding space of this network, trained on the training split only
(motion-generation-anchors.md §5 A.1; InterGen's ``MotionEncoder`` is the template, made small
enough to train on a 2-core CPU in minutes). Every model must be scored with the same
evaluator file.

Motion branch, one batch row, L = 1 + P·T tokens:

    [CLS] [person_1 frame_1 .. person_1 frame_T .. person_P frame_T]

1. pose token = Linear(normalised features[p, f]) + sinusoidal(frame f) + person_emb(p);
   the person embedding is indexed by position (an evaluator may rely on person order);
2. pre-norm TransformerEncoder with a key padding mask (padded persons and frames never act as
   keys), then LayerNorm;
3. motion embedding = L2-normalise(Linear(CLS output)).

Text branch: the frozen MiniLM sentence embedding (computed outside, never loaded here)
-> 2-layer MLP -> L2-normalise. Heads: per-token action logits, per-person role logits from
the masked mean of that person's tokens, per-clip script logits from the CLS output.

Loss (:func:`evaluator_loss`): symmetric InfoNCE (CLIP, Radford et al. 2021) with a learned,
clamped temperature, where rows with identical captions are not negatives of each other
(procedural data repeats captions), plus cross-entropies for actions (label -1 ignored),
roles and script.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..diffusion.denoiser import sinusoidal_encoding
from ..motion.motion import ROLES
from ..motion.representation import FEATURE_DIM, NormalizationStats

IGNORE = -1  # label of unknown actions, roles and scripts


@dataclass(frozen=True)
class EvaluatorConfig:
    """Network shape and loss weights; saved with the weights as ``dataclasses.asdict(config)``.

    feature_dim: F per person per frame. d_model/layers/heads/ff: transformer width, depth,
    attention heads, feed-forward width. embed_dim: size of both embeddings. text_dim: E of the
    frozen sentence encoder (MiniLM: 384). max_frames: longest window (longer clips are cropped),
    frames. max_persons: size of the person-index table. num_roles: len(ROLES).
    num_actions/num_scripts: classes of the action and script heads (>= 1).
    temperature_init/min/max: InfoNCE temperature, its start and clamp.
    *_weight: weights of the loss terms.
    """

    feature_dim: int = FEATURE_DIM
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    ff: int = 256
    embed_dim: int = 128
    text_dim: int = 384
    max_frames: int = 128
    max_persons: int = 4
    num_roles: int = len(ROLES)
    num_actions: int = 1
    num_scripts: int = 1
    dropout: float = 0.1
    temperature_init: float = 0.07
    temperature_min: float = 0.01
    temperature_max: float = 1.0
    contrastive_weight: float = 1.0
    action_weight: float = 0.5
    role_weight: float = 0.5
    script_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.d_model % self.heads or self.d_model % 2:
            raise ValueError(f"d_model ({self.d_model}) must be even and divisible by heads ({self.heads})")
        sizes = dict(
            feature_dim=self.feature_dim, layers=self.layers, ff=self.ff, embed_dim=self.embed_dim,
            text_dim=self.text_dim, max_frames=self.max_frames, max_persons=self.max_persons,
            num_roles=self.num_roles, num_actions=self.num_actions, num_scripts=self.num_scripts,
        )
        small = {name: value for name, value in sizes.items() if value < 1}
        if small:
            raise ValueError(f"EvaluatorConfig: sizes must be >= 1, got {small}")
        if not 0 < self.temperature_min <= self.temperature_init <= self.temperature_max:
            raise ValueError("EvaluatorConfig: need 0 < temperature_min <= temperature_init <= temperature_max")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EvaluatorConfig:
        """Inverse of ``dataclasses.asdict``; unknown keys raise (a file from another version)."""
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"EvaluatorConfig: unknown keys {sorted(unknown)}")
        return cls(**values)


@dataclass(frozen=True)
class EvaluatorLabels:
    """Names of the classes of the heads, in logit order (saved with the weights)."""

    actions: tuple[str, ...]
    scripts: tuple[str, ...]
    roles: tuple[str, ...] = ROLES

    @classmethod
    def placeholder(cls, config: EvaluatorConfig) -> EvaluatorLabels:
        """"action_0", "script_0" ... for a config whose classes have no names yet."""
        roles = ROLES if config.num_roles == len(ROLES) else tuple(f"role_{i}" for i in range(config.num_roles))
        return cls(
            actions=tuple(f"action_{i}" for i in range(config.num_actions)),
            scripts=tuple(f"script_{i}" for i in range(config.num_scripts)),
            roles=roles,
        )

    def check(self, config: EvaluatorConfig) -> None:
        """ValueError unless there is one name per class of every head."""
        for field, count in (("actions", config.num_actions), ("scripts", config.num_scripts), ("roles", config.num_roles)):
            if len(getattr(self, field)) != count:
                raise ValueError(f"EvaluatorLabels.{field}: {len(getattr(self, field))} names for {count} classes")


class MotionTextEvaluator(nn.Module):
    """See the module docstring. Inputs are UN-normalised features; the module normalises them
    with its ``feature_mean`` / ``feature_std`` buffers (set by :meth:`set_normalization`, saved
    with the weights).
    """

    def __init__(self, config: EvaluatorConfig, labels: EvaluatorLabels | None = None) -> None:
        super().__init__()
        self.config = config
        self.labels = EvaluatorLabels.placeholder(config) if labels is None else labels
        self.labels.check(config)
        c = config
        self.register_buffer("feature_mean", torch.zeros(c.feature_dim))
        self.register_buffer("feature_std", torch.ones(c.feature_dim))
        self.pose_in = nn.Linear(c.feature_dim, c.d_model)
        self.person_embedding = nn.Embedding(c.max_persons, c.d_model)
        self.cls = nn.Parameter(torch.randn(c.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.heads, c.ff, c.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        # enable_nested_tensor only applies to post-norm layers; off, so torch does not warn.
        self.encoder = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(c.d_model)
        self.motion_out = nn.Linear(c.d_model, c.embed_dim)
        self.text_mlp = nn.Sequential(nn.Linear(c.text_dim, c.d_model), nn.GELU(), nn.Linear(c.d_model, c.embed_dim))
        self.action_head = nn.Linear(c.d_model, c.num_actions)
        self.role_head = nn.Linear(c.d_model, c.num_roles)
        self.script_head = nn.Linear(c.d_model, c.num_scripts)
        # log(1 / temperature), CLIP's parameterisation.
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / c.temperature_init)))

    def set_normalization(self, stats: NormalizationStats) -> None:
        """Copy the training set's per-feature mean and std into the buffers."""
        self.feature_mean.copy_(torch.as_tensor(stats.mean))
        self.feature_std.copy_(torch.as_tensor(stats.std))

    def temperature(self) -> Tensor:
        """The InfoNCE temperature, clamped to [temperature_min, temperature_max]."""
        c = self.config
        return (-self.logit_scale).exp().clamp(c.temperature_min, c.temperature_max)

    def encode(self, features: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """features (B, P, T, F) un-normalised, mask (B, P, T) bool True = valid ->
        (CLS output (B, d_model), token outputs (B, P, T, d_model)).
        """
        self._check(features, mask)
        B, P, T, _ = features.shape
        x = (features - self.feature_mean) / self.feature_std
        x = torch.where(mask[..., None], x, torch.zeros_like(x))  # padding holds no values
        frames = torch.arange(T, device=features.device)
        persons = torch.arange(P, device=features.device)
        tokens = (
            self.pose_in(x)
            + sinusoidal_encoding(frames, self.config.d_model)[None, None]
            + self.person_embedding(persons)[None, :, None]
        ).reshape(B, P * T, -1)
        tokens = torch.cat([self.cls.expand(B, 1, -1), tokens], dim=1)
        valid = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=mask.device), mask.reshape(B, P * T)], dim=1)
        hidden = self.out_norm(self.encoder(tokens, src_key_padding_mask=~valid))
        return hidden[:, 0], hidden[:, 1:].reshape(B, P, T, -1)

    def embed_motion(self, features: Tensor, mask: Tensor) -> Tensor:
        """(B, P, T, F) un-normalised, (B, P, T) bool -> (B, E) unit-norm motion embeddings."""
        cls, _ = self.encode(features, mask)
        return F.normalize(self.motion_out(cls), dim=-1)

    def embed_text(self, text: Tensor) -> Tensor:
        """(B, text_dim) frozen sentence embeddings -> (B, E) unit-norm text embeddings."""
        if text.ndim != 2 or text.shape[1] != self.config.text_dim:
            raise ValueError(f"text: expected (B, {self.config.text_dim}), got {tuple(text.shape)}")
        return F.normalize(self.text_mlp(text), dim=-1)

    def classify(self, features: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Logits {"actions": (B, P, T, A), "roles": (B, P, R), "script": (B, S)}."""
        return self._heads(*self.encode(features, mask), mask)

    def forward(self, features: Tensor, mask: Tensor, text: Tensor) -> dict[str, Tensor]:
        """Everything the loss needs: {"motion", "text"} embeddings (B, E) and the logits of :meth:`classify`."""
        cls, tokens = self.encode(features, mask)
        out = self._heads(cls, tokens, mask)
        out["motion"] = F.normalize(self.motion_out(cls), dim=-1)
        out["text"] = self.embed_text(text)
        return out

    def _heads(self, cls: Tensor, tokens: Tensor, mask: Tensor) -> dict[str, Tensor]:
        weights = mask[..., None].to(tokens.dtype)  # (B, P, T, 1)
        person_mean = (tokens * weights).sum(2) / weights.sum(2).clamp(min=1.0)  # (B, P, d)
        return {
            "actions": self.action_head(tokens),
            "roles": self.role_head(person_mean),
            "script": self.script_head(cls),
        }

    def _check(self, features: Tensor, mask: Tensor) -> None:
        c = self.config
        if features.ndim != 4 or features.shape[-1] != c.feature_dim:
            raise ValueError(f"features: expected (B, P, T, {c.feature_dim}), got {tuple(features.shape)}")
        if tuple(mask.shape) != tuple(features.shape[:3]) or mask.dtype != torch.bool:
            raise ValueError(f"mask: expected bool {tuple(features.shape[:3])}, got {mask.dtype} {tuple(mask.shape)}")
        if features.shape[1] > c.max_persons or features.shape[2] > c.max_frames:
            raise ValueError(
                f"features: {features.shape[1]} persons x {features.shape[2]} frames exceed "
                f"max_persons {c.max_persons} / max_frames {c.max_frames}"
            )


def evaluator_loss(
    model: MotionTextEvaluator, out: dict[str, Tensor], targets: dict[str, Tensor]
) -> dict[str, Tensor]:
    """Weighted total and its terms, scalars.

    out: :meth:`MotionTextEvaluator.forward`'s dict. targets: "actions" (B, P, T), "roles" (B, P),
    "script" (B,) long with -1 = unknown (also at padding), "text_group" (B,) long: rows with
    the same group have the same caption and are not negatives of each other.

    InfoNCE, both directions: logits = motion · textᵀ / temperature, cross-entropy towards the
    diagonal, with off-diagonal same-caption entries set to -inf.
    """
    c = model.config
    logits = out["motion"] @ out["text"].T / model.temperature()  # (B, B) motion x text
    group = targets["text_group"]
    duplicate = (group[:, None] == group[None, :]) & ~torch.eye(len(group), dtype=torch.bool, device=group.device)
    logits = logits.masked_fill(duplicate, float("-inf"))
    diagonal = torch.arange(len(group), device=logits.device)
    contrastive = 0.5 * (F.cross_entropy(logits, diagonal) + F.cross_entropy(logits.T, diagonal))
    terms = {
        "contrastive": contrastive,
        "action": _masked_cross_entropy(out["actions"], targets["actions"]),
        "role": _masked_cross_entropy(out["roles"], targets["roles"]),
        "script": _masked_cross_entropy(out["script"], targets["script"]),
    }
    terms["loss"] = (
        c.contrastive_weight * terms["contrastive"] + c.action_weight * terms["action"]
        + c.role_weight * terms["role"] + c.script_weight * terms["script"]
    )
    return terms


def _masked_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy over labels != -1; 0 (not NaN) when every label is unknown."""
    flat_logits, flat_labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    if not (flat_labels != IGNORE).any():
        return flat_logits.sum() * 0.0  # keeps the graph, contributes nothing
    return F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE)
