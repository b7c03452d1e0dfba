"""Checkpoints: ``<name>.safetensors`` (weights and arrays) + ``<name>.json`` (everything else).

Loading never unpickles: tensors come from safetensors, metadata from JSON. The JSON:

    format "isynth-checkpoint", version 1
    network         DenoiserConfig as a dict
    representation  {"name": "positions-velocities-6d", "feature_dim": 264, "fps", "max_frames"}
    diffusion       {"schedule": "cosine", "s": 0.008, "num_steps": 1000, "prediction": "x0"}
    text_encoder    the encoder id that trained it (and must run it), e.g. "minilm:all-MiniLM-L6-v2"
    body            {"kind": "standin" | ..., "note"}; the rest joints the features were made with
    training        provenance: data sets, steps, seed, date, git revision
    evaluation      summary metrics (may be empty)
    anchors         optional: {"texts": [N training captions], "groups": [N action labels]}
                    (``text.anchors``; "groups" only when the training data named actions)

The safetensors file holds the network's state dict under ``model.*``, the EMA weights
under ``ema.*`` when present, ``stats.mean`` / ``stats.std`` (F,) and ``body.rest_joints`` (24, 3);
with anchors also ``anchors.embeddings`` (N, E) float16 and ``anchors.role_counts`` (N, 3) int32,
and optionally their token bank (``text.token_alignment.TokenBank``): ``anchors.tokens.vectors``
(M, D) float16, ``anchors.tokens.offsets`` (N + 1,) int64, ``anchors.tokens.ids`` (M,) int32,
``anchors.tokens.mean`` (E,) and ``anchors.tokens.basis`` (E, D) float32.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..text.token_alignment import TokenBank

FORMAT = "isynth-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or incompatible; the message names the file and the field."""


@dataclass
class CheckpointMeta:
    """The JSON half of a checkpoint (see the module docstring)."""

    network: dict
    text_encoder: str
    fps: float
    max_frames: int
    feature_dim: int = 264
    representation: str = "positions-velocities-6d"
    diffusion: dict = field(default_factory=lambda: {"schedule": "cosine", "s": 0.008, "num_steps": 1000, "prediction": "x0"})
    body: dict = field(default_factory=lambda: {"kind": "standin"})
    training: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    anchor_texts: tuple[str, ...] = ()
    anchor_groups: tuple[str, ...] = ()  # per anchor its clip's action label, or () (text.anchors)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "network": self.network,
            "representation": {
                "name": self.representation, "feature_dim": self.feature_dim, "fps": self.fps, "max_frames": self.max_frames,
            },
            "diffusion": self.diffusion,
            "text_encoder": self.text_encoder,
            "body": self.body,
            "training": self.training,
            "evaluation": self.evaluation,
            **({"anchors": {"texts": list(self.anchor_texts),
                            **({"groups": list(self.anchor_groups)} if self.anchor_groups else {})}}
               if self.anchor_texts else {}),
        }

    @classmethod
    def from_json(cls, data: dict, where: str) -> CheckpointMeta:
        if data.get("format") != FORMAT:
            raise CheckpointError(f"{where}: 'format' is {data.get('format')!r}, expected {FORMAT!r}")
        if data.get("version") != VERSION:
            raise CheckpointError(f"{where}: 'version' {data.get('version')!r} is not supported (this reads {VERSION})")
        try:
            representation = data["representation"]
            return cls(
                network=dict(data["network"]),
                text_encoder=str(data["text_encoder"]),
                fps=float(representation["fps"]),
                max_frames=int(representation["max_frames"]),
                feature_dim=int(representation["feature_dim"]),
                representation=str(representation["name"]),
                diffusion=dict(data["diffusion"]),
                body=dict(data.get("body", {})),
                training=dict(data.get("training", {})),
                evaluation=dict(data.get("evaluation", {})),
                anchor_texts=tuple(str(t) for t in data["anchors"]["texts"]) if "anchors" in data else (),
                anchor_groups=tuple(str(g) for g in data["anchors"].get("groups", ())) if "anchors" in data else (),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{where}: missing or malformed field {error}") from None


@dataclass
class CheckpointArrays:
    """The safetensors half: state dicts and arrays (torch tensors / numpy arrays)."""

    model: dict
    stats_mean: np.ndarray
    stats_std: np.ndarray
    rest_joints: np.ndarray
    ema: dict | None = None
    anchor_embeddings: np.ndarray | None = None  # (N, E) float32
    anchor_role_counts: np.ndarray | None = None  # (N, 3) int
    anchor_tokens: TokenBank | None = None  # the anchors' token bank (text.token_alignment)


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(weights .safetensors, metadata .json) for a checkpoint given by either file or the stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_checkpoint(path: str | os.PathLike, meta: CheckpointMeta, arrays: CheckpointArrays) -> Path:
    """Write both files atomically (weights first, metadata last: a JSON present means complete)."""
    import torch
    from safetensors.torch import save_file

    weights, metadata = checkpoint_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().to("cpu").contiguous() for k, v in arrays.model.items()}
    if arrays.ema is not None:
        tensors.update({f"ema.{k}": v.detach().to("cpu").contiguous() for k, v in arrays.ema.items()})
    tensors["stats.mean"] = torch.as_tensor(np.asarray(arrays.stats_mean, dtype=np.float32))
    tensors["stats.std"] = torch.as_tensor(np.asarray(arrays.stats_std, dtype=np.float32))
    tensors["body.rest_joints"] = torch.as_tensor(np.asarray(arrays.rest_joints, dtype=np.float32))
    if arrays.anchor_embeddings is not None:
        tensors["anchors.embeddings"] = torch.as_tensor(np.asarray(arrays.anchor_embeddings, dtype=np.float16))
        tensors["anchors.role_counts"] = torch.as_tensor(np.asarray(arrays.anchor_role_counts, dtype=np.int32))
    if arrays.anchor_tokens is not None:
        bank = arrays.anchor_tokens
        tensors.update({"anchors.tokens.vectors": torch.as_tensor(bank.vectors.astype(np.float16)),
                        "anchors.tokens.offsets": torch.as_tensor(bank.offsets.astype(np.int64)),
                        "anchors.tokens.ids": torch.as_tensor(bank.token_ids.astype(np.int32)),
                        "anchors.tokens.mean": torch.as_tensor(bank.mean.astype(np.float32)),
                        "anchors.tokens.basis": torch.as_tensor(np.ascontiguousarray(bank.basis, dtype=np.float32))})
    atomic_write(weights, lambda p: save_file(tensors, p))
    atomic_write(metadata, lambda p: Path(p).write_text(json.dumps(meta.to_json(), indent=2) + "\n"))
    return weights


def load_checkpoint_files(path: str | os.PathLike) -> tuple[CheckpointMeta, CheckpointArrays]:
    """Read and check both files; every problem raises CheckpointError naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, metadata = checkpoint_paths(path)
    for file in (weights, metadata):
        if not file.is_file():
            raise CheckpointError(f"{file}: checkpoint file not found")
    try:
        meta = CheckpointMeta.from_json(json.loads(metadata.read_text()), str(metadata))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{metadata}: not valid JSON ({error})") from None
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({error})") from None
    for key in ("stats.mean", "stats.std", "body.rest_joints"):
        if key not in tensors:
            raise CheckpointError(f"{weights}: missing tensor '{key}'")
    mean, std = tensors["stats.mean"].numpy(), tensors["stats.std"].numpy()
    if mean.shape != (meta.feature_dim,) or std.shape != (meta.feature_dim,):
        raise CheckpointError(
            f"{weights}: 'stats.mean'/'stats.std' have shapes {mean.shape}/{std.shape}, expected ({meta.feature_dim},)"
        )
    rest = tensors["body.rest_joints"].numpy()
    if rest.shape != (24, 3):
        raise CheckpointError(f"{weights}: 'body.rest_joints' has shape {rest.shape}, expected (24, 3)")
    model = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    ema = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")} or None
    if not model:
        raise CheckpointError(f"{weights}: no 'model.*' tensors")
    anchors, counts = _anchor_arrays(tensors, meta, weights)
    return meta, CheckpointArrays(model=model, ema=ema, stats_mean=mean, stats_std=std, rest_joints=rest,
                                  anchor_embeddings=anchors, anchor_role_counts=counts,
                                  anchor_tokens=_token_bank(tensors, anchors, weights))


_TOKEN_KEYS = ("anchors.tokens.vectors", "anchors.tokens.offsets", "anchors.tokens.ids", "anchors.tokens.mean",
               "anchors.tokens.basis")


def _token_bank(tensors: dict, anchors: np.ndarray | None, weights: Path) -> TokenBank | None:
    """The anchors' token bank, checked against the anchors; None when the checkpoint has none."""
    have = [k for k in _TOKEN_KEYS if k in tensors]
    if not have:
        return None
    if len(have) < len(_TOKEN_KEYS) or anchors is None:
        raise CheckpointError(f"{weights}: incomplete anchor token bank (tensors {have}"
                              f"{'' if anchors is not None else ', no anchors'})")
    vectors, offsets, ids, mean, basis = (tensors[k].numpy() for k in _TOKEN_KEYS)
    n, dim = anchors.shape
    if len(offsets) != n + 1 or mean.shape != (dim,):
        raise CheckpointError(f"{weights}: 'anchors.tokens.offsets' {tuple(offsets.shape)} / 'anchors.tokens.mean' "
                              f"{tuple(mean.shape)} do not fit {n} anchors of {dim} numbers")
    try:
        return TokenBank(vectors.astype(np.float32), offsets.astype(np.int64), ids.astype(np.int64),
                         mean.astype(np.float32), basis.astype(np.float32))
    except ValueError as error:
        raise CheckpointError(f"{weights}: 'anchors.tokens.*': {error}") from None


def _anchor_arrays(tensors: dict, meta: CheckpointMeta, weights: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The prompt anchors' (N, E) float32 embeddings and (N, 3) role counts, checked against the
    JSON's N texts; (None, None) for a checkpoint without anchors."""
    have = [k for k in ("anchors.embeddings", "anchors.role_counts") if k in tensors]
    if not have and not meta.anchor_texts:
        return None, None
    n = len(meta.anchor_texts)
    if len(have) < 2 or not n:
        raise CheckpointError(f"{weights}: incomplete prompt anchors (tensors {have}, {n} texts in 'anchors')")
    embeddings = tensors["anchors.embeddings"].float().numpy()
    counts = tensors["anchors.role_counts"].numpy().astype(np.int64)
    if embeddings.ndim != 2 or len(embeddings) != n or counts.shape != (n, 3):
        raise CheckpointError(f"{weights}: 'anchors.embeddings' {tuple(embeddings.shape)} / 'anchors.role_counts' "
                              f"{tuple(counts.shape)} do not fit the {n} anchor texts")
    if meta.anchor_groups and len(meta.anchor_groups) != n:
        raise CheckpointError(f"{weights}: 'anchors.groups' has {len(meta.anchor_groups)} labels for {n} anchor texts")
    return embeddings, counts


def build_denoiser(meta: CheckpointMeta, arrays: CheckpointArrays, use_ema: bool = True, where: str = "checkpoint"):
    """The InteractionDenoiser of a checkpoint, weights loaded (EMA weights when present), eval mode."""
    from .denoiser import DenoiserConfig, InteractionDenoiser

    try:
        config = DenoiserConfig.from_dict(meta.network)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where}: 'network' does not describe this version's denoiser ({error})") from None
    if config.feature_dim != meta.feature_dim:
        raise CheckpointError(f"{where}: network feature_dim {config.feature_dim} != representation {meta.feature_dim}")
    model = InteractionDenoiser(config)
    state = arrays.ema if (use_ema and arrays.ema) else arrays.model
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # size mismatches
        first = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise CheckpointError(f"{where}: weights do not fit the network ({first})") from None
    if missing or unexpected:
        raise CheckpointError(f"{where}: weights do not fit the network (missing {missing[:5]}, unexpected {unexpected[:5]})")
    return model.eval()


def config_dict(config) -> dict:
    """A DenoiserConfig as the JSON 'network' field."""
    return asdict(config)
