"""Prompt anchors (core.text.anchors): wordings mapped onto training captions, role-aware, shipped in checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from addon.core.diffusion.checkpoint import CheckpointError, checkpoint_paths, load_checkpoint_files
from addon.core.generate import GenerationRequest, Generator
from addon.core.text.anchors import PromptAnchors, anchor_prompts, role_counts, sample_anchors
from addon.core.text.encoders import MiniLMEncoder
from helpers.tiny_checkpoint import write_tiny_checkpoint

CAPTIONS = [
    ("a nurse helps the patient up from the floor", ("staff", "patient")),
    ("a carer supports the resident while walking", ("staff", "patient")),
    ("an old man falls forwards", ("patient",)),
    ("a patient sits down on a chair", ("patient",)),
    ("a nurse kneels down", ("staff",)),
    ("a nurse walks across the room", ("staff",)),
]


def unit_rows(rng, n, e=6) -> np.ndarray:
    x = rng.normal(size=(n, e))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def toy_anchors(rng) -> PromptAnchors:
    roles = [("staff", "patient"), ("staff", "patient"), ("patient",), ("patient",), ("staff",), ("staff",)]
    return PromptAnchors(tuple(f"caption {i}" for i in range(6)), unit_rows(rng, 6).astype(np.float32),
                         np.stack([role_counts(r) for r in roles]))


def test_a_training_caption_maps_onto_itself_and_weights_sum_to_one():
    anchors = toy_anchors(np.random.default_rng(0))
    prompts = torch.as_tensor(anchors.embeddings[[2, 4]])
    out = anchor_prompts(anchors, prompts, [("patient",), ("staff",)], top_k=3, temperature=0.05)
    assert out.embeddings.shape == (2, 6)
    np.testing.assert_allclose(out.embeddings.norm(dim=1).numpy(), 1.0, atol=1e-6)
    for row, index in enumerate((2, 4)):
        texts, weights = zip(*out.interpretation[row])
        assert texts[0] == f"caption {index}" and weights[0] > 0.9
        assert abs(sum(weights) - 1.0) < 1e-6 and list(weights) == sorted(weights, reverse=True)
        assert float(out.embeddings[row] @ prompts[row]) > 0.95


def test_only_anchors_with_the_requests_roles_are_used_then_as_many_persons_then_all():
    anchors = toy_anchors(np.random.default_rng(1))
    prompt = torch.as_tensor(anchors.embeddings[[0]])  # a two-person caption ...
    out = anchor_prompts(anchors, prompt, [("patient",)], top_k=8)  # ... asked for one patient
    assert {t for t, _ in out.interpretation[0]} == {"caption 2", "caption 3"}
    out = anchor_prompts(anchors, prompt, [("person",)], top_k=8)  # no "person" anchor: any one-person one
    assert {t for t, _ in out.interpretation[0]} == {"caption 2", "caption 3", "caption 4", "caption 5"}
    out = anchor_prompts(anchors, prompt, [("staff", "staff", "patient")], top_k=8)  # nothing fits: all
    assert len(out.interpretation[0]) == 6 and out.interpretation[0][0][0] == "caption 0"
    with pytest.raises(ValueError, match="unknown role 'doctor'"):
        anchor_prompts(anchors, prompt, [("doctor",)])


def test_sample_anchors_drops_duplicates_caps_and_is_deterministic():
    texts = [f"t{i % 50}" for i in range(200)] + ["t0"]
    roles = [("staff",)] * 200 + [("patient",)]  # "t0" for a patient is another anchor
    calls = []

    def encode(batch):
        calls.append(len(batch))
        return torch.nn.functional.normalize(torch.randn(len(batch), 4, generator=torch.Generator().manual_seed(0)))

    whole = sample_anchors(texts, roles, encode, max_count=100)
    assert len(whole.texts) == 51 and calls == [51]
    assert whole.role_counts.sum(axis=0).tolist() == [50, 1, 0]
    a, b = (sample_anchors(texts, roles, encode, max_count=20, seed=3) for _ in range(2))
    assert a.texts == b.texts and len(a.texts) == 20 and len(set(a.texts)) >= 19
    with pytest.raises(ValueError, match="no captions"):
        sample_anchors(["", ""], [("staff",), ("staff",)], encode, 10)


@pytest.fixture(scope="module")
def anchored_checkpoint(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("anchored"), anchors=CAPTIONS)


def test_anchors_round_trip_through_a_checkpoint(anchored_checkpoint):
    meta, arrays = load_checkpoint_files(anchored_checkpoint)
    assert meta.anchor_texts == tuple(t for t, _ in CAPTIONS)
    expected = MiniLMEncoder().encode([t for t, _ in CAPTIONS]).numpy()
    np.testing.assert_allclose(arrays.anchor_embeddings, expected, atol=2e-3)  # stored as float16
    assert arrays.anchor_role_counts.tolist()[0] == [1, 1, 0] and arrays.anchor_role_counts.tolist()[4] == [1, 0, 0]


def test_a_checkpoint_with_half_its_anchors_is_refused(anchored_checkpoint, tmp_path):
    weights, metadata = checkpoint_paths(anchored_checkpoint)
    document = json.loads(metadata.read_text())
    document["anchors"]["texts"] = document["anchors"]["texts"][:3]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    (tmp_path / "broken.safetensors").write_bytes(weights.read_bytes())
    with pytest.raises(CheckpointError, match=r"broken\.safetensors: .*do not fit the 3 anchor texts"):
        load_checkpoint_files(tmp_path / "broken.safetensors")


def test_generation_says_what_it_understood_and_can_use_the_prompt_as_it_is(anchored_checkpoint):
    generator = Generator(anchored_checkpoint, device="cpu")
    ask = dict(roles=("patient",), seconds=1.0, fps=None, seed=0, steps=2, device="cpu")
    result = generator.generate(GenerationRequest(prompt="an elderly man tumbles over", **ask))
    assert result.understood_as[0][0] == "an old man falls forwards"
    assert {t for t, _ in result.understood_as} <= {"an old man falls forwards", "a patient sits down on a chair"}
    plain = GenerationRequest(prompt="an elderly man tumbles over", anchor_prompt=False, **ask)
    assert generator.generate(plain).understood_as == ()
    raw = generator.text_encoder.encode(["an elderly man tumbles over"])
    np.testing.assert_array_equal(generator.prepare(plain).cond.text.cpu(), raw)
    anchored = generator.prepare(GenerationRequest(prompt="an elderly man tumbles over", **ask)).cond.text.cpu()
    assert float(torch.nn.functional.cosine_similarity(anchored, raw)) < 0.999
    bank = torch.as_tensor(generator.anchors.embeddings)
    assert float((anchored @ bank.T).max()) > float((raw @ bank.T).max())  # closer to the training captions


# ---- grouped anchors: one action's captions first ---------------------------------------------

def grouped_toy() -> PromptAnchors:
    """Six one-patient anchors on a circle in 2D (plus 4 zero dims): group "near" holds the single
    closest to the x axis (at 10 degrees), group "many" four anchors at 20..35 degrees, one unlabelled."""
    angles = np.radians([10, 20, 25, 30, 35, 90])
    rows = np.zeros((6, 6), dtype=np.float32)
    rows[:, 0], rows[:, 1] = np.cos(angles), np.sin(angles)
    groups = ("near", "many", "many", "many", "many", "")
    return PromptAnchors(tuple(f"caption {i}" for i in range(6)), rows,
                         np.stack([role_counts(("patient",))] * 6), groups)


def test_grouped_anchors_vote_for_a_group_and_blend_only_inside_it():
    anchors = grouped_toy()
    assert anchors.grouped
    # On the x axis: "near" (cos 10 deg = 0.985) beats the mean of "many"'s four (0.883).
    out = anchor_prompts(anchors, torch.tensor([[1.0, 0, 0, 0, 0, 0]]), [("patient",)])
    assert out.groups == ["near"] and [t for t, _ in out.interpretation[0]] == ["caption 0"]
    # At 27 degrees the nearest single caption is still of "many", and "many"'s mean (0.995)
    # beats "near" (cos 17 deg = 0.956): the blend holds "many"'s captions only.
    prompt = torch.tensor([[np.cos(np.radians(27)), np.sin(np.radians(27)), 0, 0, 0, 0]], dtype=torch.float32)
    out = anchor_prompts(anchors, prompt, [("patient",)])
    assert out.groups == ["many"]
    assert {t for t, _ in out.interpretation[0]} == {"caption 1", "caption 2", "caption 3", "caption 4"}
    np.testing.assert_allclose(out.embeddings.norm(dim=1).numpy(), 1.0, atol=1e-6)


def test_an_unlabelled_anchor_is_a_group_of_one_and_ungrouped_anchors_blend_as_before():
    anchors = grouped_toy()
    prompt = torch.tensor([[0.0, 1.0, 0, 0, 0, 0]])  # on the unlabelled anchor (90 degrees)
    out = anchor_prompts(anchors, prompt, [("patient",)])
    assert out.groups == [""] and [t for t, _ in out.interpretation[0]] == ["caption 5"]
    plain = PromptAnchors(anchors.texts, anchors.embeddings, anchors.role_counts)
    assert not plain.grouped
    out = anchor_prompts(plain, prompt, [("patient",)])
    assert out.groups == [""] and len(out.interpretation[0]) == 6  # TOP_K = 8 over all six
    with pytest.raises(ValueError, match="2 group labels for 6 texts"):
        PromptAnchors(anchors.texts, anchors.embeddings, anchors.role_counts, ("a", "b"))


def test_sample_anchors_keeps_labels_and_drops_them_when_none_is_given():
    def encode(batch):
        return torch.nn.functional.normalize(torch.ones(len(batch), 3))

    labelled = sample_anchors(["x", "y", "x"], [("staff",)] * 3, encode, 10, groups=["walk", "fall", "fall"])
    assert labelled.texts == ("x", "y", "x") and labelled.groups == ("walk", "fall", "fall")  # "x" in two actions
    assert sample_anchors(["x", "y"], [("staff",)] * 2, encode, 10).groups == ()
    with pytest.raises(ValueError, match="1 group labels for 2 captions"):
        sample_anchors(["x", "y"], [("staff",)] * 2, encode, 10, groups=["walk"])


def test_grouped_anchors_round_trip_and_a_wrong_label_count_is_refused(tmp_path):
    captions = [(t, r, "fall" if "falls" in t else "other") for t, r in CAPTIONS]
    path = write_tiny_checkpoint(tmp_path, anchors=captions)
    meta, _ = load_checkpoint_files(path)
    assert meta.anchor_groups == tuple(g for _, _, g in captions)
    generator = Generator(path, device="cpu")
    assert generator.anchors.grouped and generator.anchors.groups == meta.anchor_groups
    weights, metadata = checkpoint_paths(path)
    document = json.loads(metadata.read_text())
    document["anchors"]["groups"] = document["anchors"]["groups"][:2]
    metadata.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=r"'anchors.groups' has 2 labels for 6 anchor texts"):
        load_checkpoint_files(weights)
