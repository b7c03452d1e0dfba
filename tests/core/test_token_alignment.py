"""Token alignment (core.text.token_alignment): prompts scored word by word against captions, for
the prompt anchors' group vote, and the token bank a checkpoint ships."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from addon.core.diffusion.checkpoint import CheckpointError, checkpoint_paths, load_checkpoint_files
from addon.core.generate import Generator
from addon.core.text.anchors import PromptAnchors, anchor_prompts, role_counts
from addon.core.text.encoders import CachedTextEncoder, MiniLMEncoder
from addon.core.text.token_alignment import TokenBank, build_token_bank
from helpers.tiny_checkpoint import write_tiny_checkpoint

E = 8


def table(seed: int = 0, vocabulary: int = 20) -> np.ndarray:
    """(vocabulary, E) unit rows: token id -> its vector (a context-free stand-in for an encoder)."""
    x = np.random.default_rng(seed).normal(size=(vocabulary, E))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def tokens(ids, vectors=table()):
    ids = np.asarray(ids, dtype=np.int64)
    return ids, vectors[ids]


def test_a_caption_scores_itself_highest_and_a_word_every_caption_has_weighs_nothing():
    # idf = log((N + 1) / (n_t + 1)): token 0 is in all 3 captions, token 3 in one, token 19 in none.
    captions = [tokens([0, 1, 2]), tokens([0, 3, 4]), tokens([0, 5, 6, 7])]
    bank = build_token_bank(captions, dims=E)
    scores = bank.alignment(tokens([0, 3, 4]))
    assert scores.shape == (3,) and scores.dtype == np.float32
    assert int(np.argmax(scores)) == 1 and scores[1] == pytest.approx(1.0, abs=1e-5)
    assert scores[0] < 0.9 and scores[2] < 0.9
    np.testing.assert_allclose(bank.idf(np.array([0, 3, 19])), [0.0, np.log(4 / 2), np.log(4)])
    assert np.all(bank.alignment((np.zeros(0, np.int64), np.zeros((0, E)))) == 0)


def test_the_bank_is_centred_projected_and_laid_out_caption_after_caption():
    captions = [tokens([1, 2]), tokens([3]), tokens([4, 5, 6])]
    bank = build_token_bank(captions, dims=3)
    assert bank.count == 3 and bank.offsets.tolist() == [0, 2, 3, 6] and bank.token_ids.tolist() == [1, 2, 3, 4, 5, 6]
    assert bank.vectors.shape == (6, 3) and bank.basis.shape == (E, 3) and bank.basis.flags.c_contiguous
    np.testing.assert_allclose(bank.basis.T @ bank.basis, np.eye(3), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(bank.vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(bank.mean, table()[[1, 2, 3, 4, 5, 6]].mean(0), atol=1e-6)
    np.testing.assert_allclose(bank.project(table()[[4]]), bank.vectors[3:4], atol=1e-5)
    assert build_token_bank(captions, dims=100).basis.shape[1] <= E  # never more axes than numbers


def test_banks_that_do_not_fit_together_are_refused():
    good = build_token_bank([tokens([1, 2]), tokens([3])], dims=2)
    with pytest.raises(ValueError, match="offsets must rise from 0 to 3"):
        TokenBank(good.vectors, np.array([0, 2, 2, 3]), good.token_ids, good.mean, good.basis)
    with pytest.raises(ValueError, match="2 token ids|\\(2,\\) token ids"):
        TokenBank(good.vectors, good.offsets, good.token_ids[:2], good.mean, good.basis)
    with pytest.raises(ValueError, match="do not project"):
        TokenBank(good.vectors, good.offsets, good.token_ids, good.mean[:3], good.basis)
    with pytest.raises(ValueError, match="at least one token"):
        build_token_bank([tokens([1]), tokens([])])


def anchors_where_sentences_and_words_disagree() -> PromptAnchors:
    """Group "near" holds the captions nearest the prompt's sentence embedding; group "match"
    the captions that share its words."""
    sentence = np.eye(4, dtype=np.float32)[[0, 0, 1, 1]] * 0.6 + np.eye(4, dtype=np.float32)[[2, 3, 2, 3]] * 0.8
    bank = build_token_bank([tokens([10, 11]), tokens([12, 13]), tokens([1, 2, 3]), tokens([1, 2, 4])], dims=E)
    return PromptAnchors(("near 1", "near 2", "match 1", "match 2"), sentence,
                         np.stack([role_counts(("patient",))] * 4), ("near", "near", "match", "match"), bank)


def test_the_token_vote_picks_the_group_whose_words_match_and_blends_inside_it():
    anchors = anchors_where_sentences_and_words_disagree()
    prompt = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    by_sentence = anchor_prompts(anchors, prompt, [("patient",)])
    assert by_sentence.groups == ["near"]
    by_words = anchor_prompts(anchors, prompt, [("patient",)], prompt_tokens=[tokens([1, 2, 3])])
    assert by_words.groups == ["match"]
    assert {text for text, _ in by_words.interpretation[0]} == {"match 1", "match 2"}
    with pytest.raises(ValueError, match="1 embeddings but 2 token lists"):
        anchor_prompts(anchors, prompt, [("patient",)], prompt_tokens=[tokens([1]), tokens([2])])
    with pytest.raises(ValueError, match="token bank of 4 captions for 3 texts"):
        PromptAnchors(anchors.texts[:3], anchors.embeddings[:3], anchors.role_counts[:3], anchors.groups[:3],
                      anchors.tokens)


@pytest.fixture(scope="module")
def minilm():
    return MiniLMEncoder()


def test_minilm_gives_unit_token_vectors_without_its_special_tokens(minilm):
    (ids, rows), (short_ids, _) = minilm.encode_tokens(["a nurse kneels down", "hello"])
    expected = minilm._tokenizer("a nurse kneels down")["input_ids"][1:-1]
    assert ids.tolist() == expected and rows.shape == (len(expected), 384)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
    assert len(short_ids) == 1
    assert CachedTextEncoder(minilm).encode_tokens is not None

    class SentencesOnly:
        encoder_id, dim = "test:sentences", 4

        def encode(self, prompts):
            return torch.zeros(len(prompts), 4)

    assert CachedTextEncoder(SentencesOnly()).encode_tokens is None


GROUPED = [("a nurse helps the patient up from the floor", ("staff", "patient"), "help_up"),
           ("a carer helps the resident get up off the floor", ("staff", "patient"), "help_up"),
           ("an old man falls forwards", ("patient",), "fall"),
           ("an elderly woman loses balance and falls", ("patient",), "fall"),
           ("a patient sits down on a chair", ("patient",), "sit"),
           ("a resident takes a seat on the chair", ("patient",), "sit")]


def test_the_token_bank_round_trips_through_a_checkpoint_and_broken_banks_are_refused(tmp_path, minilm):
    path = write_tiny_checkpoint(tmp_path / "ok", anchors=GROUPED, token_bank=True)
    meta, arrays = load_checkpoint_files(path)
    bank = arrays.anchor_tokens
    expected = build_token_bank(minilm.encode_tokens(list(meta.anchor_texts)))
    assert bank.count == len(GROUPED) and bank.offsets.tolist() == expected.offsets.tolist()
    np.testing.assert_allclose(bank.vectors, expected.vectors, atol=2e-3)  # stored as float16
    generator = Generator(path, device="cpu")
    assert generator.anchors.tokens is not None
    encoded = generator.encode_prompts(["a pensioner topples over"], [("patient",)])
    assert encoded.embeddings.shape == (1, 384) and "falls" in encoded.interpretation[0][0][0]
    assert encoded.reaching == [None]  # one person
    assert encoded.in_bed == [False] and encoded.seated == [None] and encoded.bed_sitters == [None]
    assert encoded.actions == ["fall"]  # the action (group) the vote placed it in

    weights, metadata = checkpoint_paths(path)
    tensors = load_file(str(weights))
    for name, change, message in (
        ("missing", lambda t: t.pop("anchors.tokens.ids"), "incomplete anchor token bank"),
        ("offsets", lambda t: t.__setitem__("anchors.tokens.offsets", t["anchors.tokens.offsets"][:-1]),
         "'anchors.tokens.offsets' .* do not fit 6 anchors"),
        ("short", lambda t: t.__setitem__("anchors.tokens.vectors", t["anchors.tokens.vectors"][:-1].clone()),
         "'anchors.tokens.\\*': token bank: offsets must rise"),
    ):
        broken = dict(tensors)
        change(broken)
        folder = tmp_path / name
        folder.mkdir()
        save_file(broken, str(folder / "c.safetensors"))
        (folder / "c.json").write_text(metadata.read_text())
        with pytest.raises(CheckpointError, match=rf"c\.safetensors: {message}"):
            load_checkpoint_files(folder / "c.safetensors")


def test_the_evaluation_counts_the_prompts_each_vote_places_in_their_own_action(tmp_path):
    from addon.core.data.procedural.prompts import RewordedPrompt
    from addon.core.eval.anchoring import group_picks
    from addon.core.eval.report import _anchoring

    prompts = [RewordedPrompt("a pensioner topples over", "fall", ("patient",)),
               RewordedPrompt("a senior lowers himself into an armchair", "sit", ("patient",)),
               RewordedPrompt("an aide lifts a senior off the tiles", "sit", ("staff", "patient"))]  # wrong on purpose
    with_bank = Generator(write_tiny_checkpoint(tmp_path / "bank", anchors=GROUPED, token_bank=True), device="cpu")
    picks = group_picks(with_bank, prompts)
    assert picks["prompts"] == 3 and picks["token_vote"] == 2 and 0 <= picks["sentence_vote"] <= 2
    assert picks["misplaced"] == [{"text": prompts[2].text, "script": "sit", "picked": "help_up"}]
    without = group_picks(Generator(write_tiny_checkpoint(tmp_path / "plain", anchors=GROUPED), device="cpu"), prompts)
    assert without["token_vote"] is None and without["sentence_vote"] == picks["sentence_vote"]
    table = "\n".join(_anchoring({"tuning": without, "reworded": picks}))
    assert "| Reworded prompts (this table) |" in table and "2/3 (67%)" in table and "(sit -> help_up)" in table
    ungrouped = Generator(write_tiny_checkpoint(tmp_path / "ungrouped", anchors=[g[:2] for g in GROUPED]), device="cpu")
    with pytest.raises(ValueError, match="no grouped prompt anchors"):
        group_picks(ungrouped, prompts)
