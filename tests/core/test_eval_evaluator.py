"""The evaluator learns a synthetic text-motion pairing, round trips through its file and fails clearly."""

import math

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from addon.core.eval.evaluator import EvaluatorConfig, EvaluatorLabels, MotionTextEvaluator, evaluator_loss
from addon.core.eval.evaluator_batches import EvalItem, collate_items
from addon.core.eval.evaluator_file import EvaluatorFileError, load_evaluator, save_evaluator
from addon.core.eval.evaluator_inference import embed_clips, embed_texts, predict
from addon.core.eval.evaluator_training import train_evaluator, validation_summary

CLASSES, SCRIPTS, ACTIONS, TEXT_DIM, FRAMES = 10, 4, 3, 16, 24
TEXTS = np.random.default_rng(100).normal(size=(CLASSES, TEXT_DIM)).astype(np.float32)  # one caption per class
CODES = np.random.default_rng(101).normal(size=(CLASSES, 8))  # what the motion of each class shows


def synthetic_item(rng, c):
    """Class c: its caption's embedding, the class code as offsets in channels 0-7 of both persons, a
    sinusoid of random phase in channels 8-9, the role as an offset in channel 10, the action (changing
    every 8 frames) in channel 12, noise in channels 0-15. The other channels are constant
    (normalisation would blow noise up to unit size there)."""
    t = np.arange(FRAMES)
    features = np.zeros((2, FRAMES, 264))
    features[:, :, :16] = 0.3 * rng.normal(size=(2, FRAMES, 16))
    features[:, :, :8] += CODES[c]
    features[:, :, 8] += np.sin(2 * np.pi * t / FRAMES + rng.uniform(0, 2 * np.pi))
    roles = tuple(rng.choice(["staff", "patient"], size=2))
    features[:, :, 10] += np.array([1.0 if r == "staff" else -1.0 for r in roles])[:, None]
    actions = np.tile((rng.integers(0, ACTIONS) + t // 8) % ACTIONS, (2, 1))
    features[:, :, 12] += actions
    return EvalItem(features=features, text_embedding=TEXTS[c], roles=roles, action_labels=actions,
                    script=c % SCRIPTS, caption=f"caption of class {c}")


def synthetic_items(n, seed):
    rng = np.random.default_rng(seed)
    return [synthetic_item(rng, i % CLASSES) for i in range(n)]


def tiny_config():
    return EvaluatorConfig(d_model=32, layers=1, heads=2, ff=64, embed_dim=16, text_dim=TEXT_DIM, max_frames=16,
                           num_actions=ACTIONS, num_scripts=SCRIPTS, dropout=0.0)


@pytest.fixture(scope="module")
def trained():
    train, val = synthetic_items(60, seed=1), synthetic_items(40, seed=2)
    labels = EvaluatorLabels(actions=("walk", "reach", "sit"), scripts=("a", "b", "c", "d"))
    model, summary = train_evaluator(train, val, tiny_config(), steps=150, batch_size=16, lr=3e-3, seed=0,
                                     log=lambda line: None, labels=labels, threads=1)
    return model, summary, val


def test_training_learns_the_pairing_well_above_chance(trained):
    _, summary, _ = trained
    val = summary["val"]
    assert val["retrieval_batch"] == 32
    assert val["top3"] > 0.6  # random embeddings: ~0.15 with 10 classes of ~3 clips per batch
    assert val["script_acc"] > 0.7  # chance 0.25
    assert val["role_acc"] > 0.8  # chance 0.5
    assert val["action_acc"] > 0.6  # chance 0.33
    assert summary["final"]["loss"] < 2.0 and summary["steps"] == 150


def test_an_untrained_evaluator_is_near_chance(trained):
    model, _, val = trained
    torch.manual_seed(0)
    fresh = MotionTextEvaluator(model.config, model.labels)
    fresh.load_state_dict({"feature_mean": model.feature_mean, "feature_std": model.feature_std}, strict=False)
    summary = validation_summary(fresh, val)
    assert summary["top3"] < 0.5 and summary["script_acc"] < 0.6


def test_save_and_load_give_identical_embeddings(trained, tmp_path):
    model, summary, val = trained
    path = save_evaluator(tmp_path / "evaluator.safetensors", model, summary)
    loaded, info = load_evaluator(path)
    np.testing.assert_array_equal(embed_clips(loaded, val), embed_clips(model, val))
    texts = np.stack([item.text_embedding for item in val])
    np.testing.assert_array_equal(embed_texts(loaded, texts), embed_texts(model, texts))
    assert loaded.labels == model.labels and loaded.config == model.config
    assert info.training["val"]["top3"] == summary["val"]["top3"]
    np.testing.assert_array_equal(loaded.feature_std.numpy(), model.feature_std.numpy())
    predicted = predict(loaded, val[:5])
    assert predicted["script"].shape == (5,) and predicted["actions"][0].shape == (2, FRAMES)
    assert (predicted["actions"][0][:, :4] == -1).all()  # outside the centre 16 of 24 frames


def rewrite(path, drop_metadata=None, drop_tensor=None, metadata_update=None):
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    tensors = load_file(str(path))
    metadata.pop(drop_metadata, None)
    tensors.pop(drop_tensor, None)
    metadata.update(metadata_update or {})
    save_file(tensors, str(path), metadata=metadata)


def test_broken_files_name_the_file_and_the_field(trained, tmp_path):
    model, _, _ = trained
    path = save_evaluator(tmp_path / "broken.safetensors", model)
    rewrite(path, drop_metadata="labels")
    with pytest.raises(EvaluatorFileError, match=r"broken\.safetensors: metadata 'labels' is missing"):
        load_evaluator(path)
    path = save_evaluator(tmp_path / "broken.safetensors", model)
    rewrite(path, metadata_update={"config": '{"d_model": 32, "colour": 1}'})
    with pytest.raises(EvaluatorFileError, match=r"broken\.safetensors: metadata 'config'.*colour"):
        load_evaluator(path)
    path = save_evaluator(tmp_path / "broken.safetensors", model)
    rewrite(path, drop_tensor="model.feature_std")
    with pytest.raises(EvaluatorFileError, match=r"broken\.safetensors: tensor 'model.feature_std' is missing"):
        load_evaluator(path)
    path = save_evaluator(tmp_path / "broken.safetensors", model)
    rewrite(path, drop_tensor="model.script_head.bias")
    with pytest.raises(EvaluatorFileError, match=r"broken\.safetensors: weights do not fit.*script_head\.bias"):
        load_evaluator(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(EvaluatorFileError, match=r"broken\.safetensors: not a readable safetensors"):
        load_evaluator(path)
    with pytest.raises(EvaluatorFileError, match="not found"):
        load_evaluator(tmp_path / "missing.safetensors")


def test_same_captions_are_not_negatives():
    model = MotionTextEvaluator(tiny_config())
    e1, e2 = torch.eye(16)[0], torch.eye(16)[1]
    embeddings = torch.stack([e1, e1, e2])  # rows 0 and 1: one caption, perfectly matched
    out = {"motion": embeddings, "text": embeddings, "actions": torch.zeros(3, 1, 1, ACTIONS),
           "roles": torch.zeros(3, 1, 3), "script": torch.zeros(3, SCRIPTS)}
    unknown = {"actions": torch.full((3, 1, 1), -1), "roles": torch.full((3, 1), -1), "script": torch.full((3,), -1)}
    masked = evaluator_loss(model, out, {**unknown, "text_group": torch.tensor([0, 0, 1])})
    unmasked = evaluator_loss(model, out, {**unknown, "text_group": torch.tensor([0, 1, 2])})
    assert masked["contrastive"] < 1e-3  # temperature 0.07: e1 vs e2 is 1/0.07 apart
    assert unmasked["contrastive"] > (2 / 3) * math.log(2) - 1e-3  # rows 0, 1 cannot tell their texts apart
    assert masked["action"] == 0.0 and masked["script"] == 0.0  # all labels unknown: no NaN


def test_collate_crops_pads_and_groups_captions():
    items = synthetic_items(3, seed=5)
    short = EvalItem(features=np.ones((1, 5, 264)), text_embedding=TEXTS[0], roles=("person",),
                     action_labels=np.zeros((1, 5)), caption="caption of class 0")
    batch = collate_items(items + [short], max_frames=16)
    assert batch.features.shape == (4, 2, 16, 264) and batch.mask.dtype == torch.bool
    assert batch.mask[3].sum() == 5 and not batch.mask[3, 1].any()
    assert batch.roles[3].tolist() == [2, -1] and (batch.actions[3, 0, 5:] == -1).all()
    assert batch.text_group.tolist() == [0, 1, 2, 0]  # item 0 and the short one share a caption
    np.testing.assert_array_equal(batch.features[0].numpy(), items[0].features[:, 4:20])  # centre window
    first = collate_items(items, 16, "random", torch.Generator().manual_seed(3)).features
    again = collate_items(items, 16, "random", torch.Generator().manual_seed(3)).features
    torch.testing.assert_close(first, again)
    with pytest.raises(ValueError, match="role 'nurse'"):
        collate_items([EvalItem(np.ones((1, 5, 264)), TEXTS[0], ("nurse",), np.zeros((1, 5)))], 16)


def test_training_is_deterministic_for_a_seed():
    items = synthetic_items(20, seed=7)
    runs = [train_evaluator(items, [], tiny_config(), steps=10, batch_size=8, seed=4, log=lambda line: None)
            for _ in range(2)]
    assert runs[0][1]["final"] == runs[1][1]["final"] and runs[0][1]["val"] == {}
    np.testing.assert_array_equal(embed_clips(runs[0][0], items), embed_clips(runs[1][0], items))
