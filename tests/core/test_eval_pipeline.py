"""The evaluation pipeline around the metrics: clips and their cache, batched sampling, baselines,
the acceptance checks, the report and the contact sheet, by value.

Sampling runs the tiny RANDOM-weight checkpoint (tests/helpers/tiny_checkpoint.py) with the real
offline MiniLM: the motions mean nothing, but seeds, batching, padding and de-normalisation are
the shipped path.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from addon.core.body.model import load_body_model
from addon.core.data.procedural.dataset import make_clip
from addon.core.labels import SCRIPT_INDEX
from addon.core.eval.baselines import independent_features, nearest_neighbour_features
from addon.core.eval.clips import (CACHE_VERSION, EvalClip, decoded_clip, generated_clip, load_clips, real_clip,
                                   save_clips)
from addon.core.eval.contact_sheet import SheetClip, contact_sheet, render_panel, save_contact_sheet
from addon.core.eval.physical_report import METRICS
from addon.core.eval.report import render_markdown, write_report
from addon.core.eval.run import acceptance
from addon.core.eval.sampling import SampleRequest, sample_features
from addon.core.motion.decode import generated_joints, grounding_lift
from addon.core.generate import Generator
from addon.core.motion.representation import FEATURE_DIM, VELOCITIES, features_to_joints
from helpers.tiny_checkpoint import write_tiny_checkpoint

STAFF, PATIENT = (40, 110, 220), (235, 120, 30)  # the contact sheet's role colours
SAMPLING = dict(sampler="ddim", steps=3, guidance=2.5)


@pytest.fixture(scope="module")
def rest_joints() -> np.ndarray:
    return load_body_model(None).rest_joints()


@pytest.fixture(scope="module")
def procedural():
    """A two-person touching clip (hand_over) and a one-person clip (walk_through) of the test split."""
    model = load_body_model(None)
    return make_clip(0, "test", 0, model, script="hand_over"), make_clip(0, "test", 0, model, script="walk_through")


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> Generator:
    return Generator(write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_checkpoint")), device="cpu")


@pytest.fixture(scope="module")
def requests(procedural) -> list[SampleRequest]:
    """1 and 2 persons, four lengths, with and without the room's scene points."""
    points = procedural[0].clip.scene_points
    return [
        SampleRequest("a nurse hands a cup to the patient", ("staff", "patient"), 12, points),
        SampleRequest("an old man walks into the room", ("patient",), 7),
        SampleRequest("someone stands by the bed", ("person",), 16, points),
        SampleRequest("a carer talks to the patient", ("patient", "staff"), 5),
    ]


# ---- clips and their cache ------------------------------------------------------------------

def test_a_real_clip_is_self_consistent_and_keeps_the_procedural_labels(procedural, rest_joints):
    pair, single = procedural
    clip = real_clip(pair, rest_joints, caption=6)  # wraps around the five captions
    P, T = len(pair.clip.motions), pair.clip.motions[0].num_frames
    assert clip.features.shape == (P, T, FEATURE_DIM) and clip.features.dtype == np.float32
    assert clip.joints.shape == (P, T, 22, 3)
    # FK of the stored rotations lands on the stored positions: real features agree with themselves.
    np.testing.assert_allclose(clip.joints, features_to_joints(clip.features), atol=1e-4)
    assert clip.roles == tuple(m.role for m in pair.clip.motions) and sorted(clip.roles) == ["patient", "staff"]
    assert clip.text == pair.clip.texts[1]
    assert clip.script == SCRIPT_INDEX["hand_over"] and clip.touch
    np.testing.assert_array_equal(clip.action_labels, np.stack([m.labels for m in pair.clip.motions]))
    assert clip.action_labels.dtype == np.int64
    np.testing.assert_array_equal(clip.boxes, pair.boxes)
    np.testing.assert_array_equal(clip.scene_points, pair.clip.scene_points)
    assert clip.fps == pair.clip.fps
    alone = real_clip(single, rest_joints)
    assert alone.roles == (single.clip.motions[0].role,) and alone.features.shape[0] == 1
    assert alone.script == SCRIPT_INDEX["walk_through"] and not alone.touch
    assert alone.text == single.clip.texts[0]


def test_a_generated_clip_is_scored_in_the_room_and_script_of_its_model(procedural, rest_joints):
    like = real_clip(procedural[0], rest_joints)
    same = generated_clip(like.features.astype(np.float64), like, rest_joints)
    # Generated clips are scored on what a rig shows (motion.decode): for consistent features that
    # is the real pose up to float32 round-off, lifted wherever a joint dips below the floor, and
    # then planted feet held still, which turns legs only (a foot that shuffles low over the floor
    # is held too: centimetres).
    lift = np.stack([grounding_lift(p[..., 2].min(axis=-1)) for p in like.joints])  # (P, T)
    lifted = like.joints + lift[..., None, None] * [0, 0, 1]
    np.testing.assert_allclose(generated_joints(like.features, rest_joints), lifted, atol=2e-6)
    np.testing.assert_array_equal(same.joints, generated_joints(like.features, rest_joints, like.fps))
    legs = [1, 2, 4, 5, 7, 8, 10, 11]
    others = [j for j in range(22) if j not in legs]
    np.testing.assert_allclose(same.joints[:, :, others], lifted[:, :, others], atol=2e-6)
    assert np.abs(same.joints - lifted).max() < 0.15
    assert same.features.dtype == np.float32
    np.testing.assert_array_equal(same.action_labels, np.full(like.features.shape[:2], -1))
    assert (same.roles, same.text, same.script, same.touch, same.fps) == (
        like.roles, like.text, like.script, like.touch, like.fps)
    assert same.boxes is like.boxes and same.scene_points is like.scene_points
    moved = like.features[:1, :10].copy()
    moved[..., :66:3] += 0.5  # every stored position 0.5 m along x, so the pelvis FK starts there
    other = generated_clip(moved, like, rest_joints, text="someone waits", roles=("staff",), script=3)
    assert other.joints.shape == (1, 10, 22, 3)
    shown = generated_joints(like.features[:1, :10], rest_joints, like.fps)  # the decode is shift-invariant
    np.testing.assert_allclose(other.joints, shown + [0.5, 0, 0], atol=2e-6)
    assert (other.roles, other.text, other.script) == (("staff",), "someone waits", 3)
    assert other.touch == like.touch and other.boxes is like.boxes  # the room stays
    np.testing.assert_array_equal(other.action_labels, -np.ones((1, 10)))


def test_a_decoded_clip_is_the_rig_motion_encoded_again(procedural, rest_joints):
    like = real_clip(procedural[0], rest_joints)
    generated = generated_clip(like.features.astype(np.float64), like, rest_joints)
    decoded = decoded_clip(generated)
    # Its joints are those the generated clip is scored on (what a rig shows) ...
    np.testing.assert_allclose(decoded.joints, generated.joints, atol=1e-5)
    # ... and consistent features: for real ones, the same features but for the grounding lift and
    # the legs that hold planted feet.
    lifted = like.features.copy()
    lift = np.stack([grounding_lift(p[..., 2].min(axis=-1)) for p in like.joints])
    lifted[..., 2:66:3] += lift[..., None]
    others = [j for j in range(22) if j not in (1, 2, 4, 5, 7, 8, 10, 11)]
    positions = (decoded.features[..., :66].reshape(*decoded.features.shape[:2], 22, 3),
                 lifted[..., :66].reshape(*lifted.shape[:2], 22, 3))
    np.testing.assert_allclose(positions[0][..., others, :], positions[1][..., others, :], atol=1e-5)
    rotated = [j - 1 for j in others if j > 0]  # LOCAL_ROTATIONS rows are joints 1..21
    rows = (decoded.features[..., 132:258].reshape(*decoded.features.shape[:2], 21, 6),
            like.features[..., 132:258].reshape(*like.features.shape[:2], 21, 6))
    np.testing.assert_allclose(rows[0][..., rotated, :], rows[1][..., rotated, :], atol=1e-5)
    # Stored positions that disagree with the rotations give way to the rotations' pose.
    bent = like.features.copy()
    bent[..., 3 * 4:3 * 4 + 3] += [0.0, 0.0, 0.4]  # the left knee's stored position 40 cm up
    swung = decoded_clip(generated_clip(bent, like, rest_joints))
    np.testing.assert_array_equal(swung.features, decoded.features)
    assert (swung.roles, swung.text, swung.script, swung.fps) == (like.roles, like.text, like.script, like.fps)


def test_the_cache_round_trip_is_exact(procedural, rest_joints, tmp_path):
    pair, single = (real_clip(pc, rest_joints, caption=2) for pc in procedural)
    # Caches hold real clips (their joints are recomputed from the features); a shorter one here,
    # without labels, scene or an English caption.
    no_scene = dataclasses.replace(pair, features=pair.features[:, :20], joints=pair.joints[:, :20],
                                   action_labels=np.full((2, 20), -1), text="un café, s'il vous plaît",
                                   scene_points=None)
    clips = [pair, single, no_scene]
    path = save_clips(tmp_path / "cache" / "test.npz", clips)
    assert path == tmp_path / "cache" / "test.npz" and path.is_file()
    loaded = load_clips(path, rest_joints)
    assert len(loaded) == 3
    for before, after in zip(clips, loaded):
        np.testing.assert_array_equal(after.features, before.features)
        assert after.features.dtype == np.float32
        np.testing.assert_array_equal(after.action_labels, before.action_labels)
        np.testing.assert_array_equal(after.boxes, before.boxes)
        np.testing.assert_array_equal(after.joints, before.joints)
        assert (after.roles, after.text, after.script, after.touch, after.fps) == (
            before.roles, before.text, before.script, before.touch, before.fps)
    np.testing.assert_array_equal(loaded[0].scene_points, pair.scene_points)
    assert loaded[0].scene_points.dtype == np.float32
    assert loaded[2].scene_points is None and loaded[2].text == "un café, s'il vous plaît"
    assert loaded[2].action_labels.min() == -1
    assert load_clips(save_clips(tmp_path / "empty.npz", []), rest_joints) == []


def test_a_cache_of_another_version_names_the_file(procedural, rest_joints, tmp_path):
    path = save_clips(tmp_path / "clips.npz", [real_clip(procedural[1], rest_joints)])
    with np.load(path) as data:
        arrays = dict(data)
    arrays["version"] = np.array(CACHE_VERSION + 1)
    old = tmp_path / "old_clips.npz"
    with open(old, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(ValueError, match=rf"old_clips\.npz: cache version {CACHE_VERSION + 1}, expected"):
        load_clips(old, rest_joints)


# ---- batched sampling ------------------------------------------------------------------------

def test_sampling_gives_one_denormalised_array_per_request(generator, requests):
    calls = []
    out = sample_features(generator, requests, seed=0, batch_size=4, progress=lambda d, n: calls.append((d, n)),
                          **SAMPLING)
    assert [x.shape for x in out] == [(2, 12, FEATURE_DIM), (1, 7, FEATURE_DIM), (1, 16, FEATURE_DIM),
                                      (2, 5, FEATURE_DIM)]
    assert all(x.dtype == np.float32 and np.isfinite(x).all() for x in out)
    assert calls == [(4, 4)]
    # De-normalised: within a few std (0.05) of the stand-in's standing pose, not around zero.
    for x in out:
        z = (x - generator.stats.mean) / generator.stats.std
        assert np.abs(z).mean() < 2.0
    pelvis_height = np.concatenate([x[..., 2].ravel() for x in out])
    assert abs(pelvis_height.mean() - generator.stats.mean[2]) < 0.1 and generator.stats.mean[2] > 0.5


def test_sampling_is_fixed_by_the_seed_and_the_batching(generator, requests):
    first = sample_features(generator, requests, seed=0, batch_size=4, **SAMPLING)
    again = sample_features(generator, requests, seed=0, batch_size=4, **SAMPLING)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    other = sample_features(generator, requests, seed=1, batch_size=4, **SAMPLING)
    assert all(np.abs(a - b).max() > 1e-3 for a, b in zip(first, other))
    calls = []
    singles = sample_features(generator, requests, seed=0, batch_size=1, progress=lambda d, n: calls.append((d, n)),
                              **SAMPLING)
    assert [x.shape for x in singles] == [x.shape for x in first]
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    # A batch's noise is seeded by its start: the first batch of a longer list is the list's first batch.
    pairs = sample_features(generator, requests, seed=0, batch_size=2, **SAMPLING)
    head = sample_features(generator, requests[:2], seed=0, batch_size=2, **SAMPLING)
    for a, b in zip(pairs[:2], head):
        np.testing.assert_array_equal(a, b)


# ---- baselines ----------------------------------------------------------------------------------

def test_independent_sampling_samples_every_person_alone_without_the_scene(generator, requests):
    out = independent_features(generator, requests, seed=5, batch_size=2, **SAMPLING)
    assert [x.shape for x in out] == [(len(r.roles), r.frames, FEATURE_DIM) for r in requests]
    singles = [SampleRequest(r.prompt, (role,), r.frames) for r in requests for role in r.roles]
    alone = sample_features(generator, singles, seed=5, batch_size=2, **SAMPLING)
    np.testing.assert_array_equal(out[0], np.concatenate(alone[0:2]))
    np.testing.assert_array_equal(out[1], alone[2])
    np.testing.assert_array_equal(out[2], alone[3])
    np.testing.assert_array_equal(out[3], np.concatenate(alone[4:6]))
    # The scene is dropped: taking it away from the requests changes nothing.
    bare = [dataclasses.replace(r, scene_points=None) for r in requests]
    for a, b in zip(out, independent_features(generator, bare, seed=5, batch_size=2, **SAMPLING)):
        np.testing.assert_array_equal(a, b)


def eval_clip(features: np.ndarray, roles: tuple[str, ...], text: str = "") -> EvalClip:
    P, T = features.shape[:2]
    return EvalClip(features=features.astype(np.float32), joints=np.zeros((P, T, 22, 3)), roles=roles, text=text,
                    script=0, action_labels=np.full((P, T), -1), boxes=np.zeros((0, 7)), touch=False, fps=10.0)


def test_nearest_neighbour_takes_the_nearest_caption_among_clips_with_the_same_roles():
    rng = np.random.default_rng(0)
    train = [
        eval_clip(rng.normal(size=(2, 10, FEATURE_DIM)), ("staff", "patient")),  # 0
        eval_clip(rng.normal(size=(2, 6, FEATURE_DIM)), ("patient", "staff")),  # 1
        eval_clip(rng.normal(size=(1, 8, FEATURE_DIM)), ("patient",)),  # 2
        eval_clip(rng.normal(size=(2, 9, FEATURE_DIM)), ("staff", "patient")),  # 3
    ]
    train_text = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 0.1, 0], [10.0, 10.0, 0]])
    prompts_text = np.array([[1.0, 0.2, 0], [0.1, 1.0, 0], [1.0, 0, 0]])
    requests = [SampleRequest("a", ("patient", "staff"), 8), SampleRequest("b", ("staff", "patient"), 9),
                SampleRequest("c", ("person",), 5)]
    out, chosen = nearest_neighbour_features(train, train_text, prompts_text, requests)
    # Cosine, not the dot product: clip 3's long embedding would win a dot product for prompt 0.
    # Clip 2 is nearest to prompt 0 but has one person. No "person" clip: any one-person clip.
    assert chosen == [0, 1, 2]
    # Persons in the requested order, cropped to the requested length.
    np.testing.assert_array_equal(out[0], train[0].features[[1, 0], :8])
    # Shorter: held at the last frame, standing still.
    expected = train[1].features[[1, 0]]
    held = np.repeat(expected[:, -1:], 3, axis=1)
    held[..., VELOCITIES] = 0.0
    np.testing.assert_array_equal(out[1], np.concatenate([expected, held], axis=1))
    assert out[1].shape == (2, 9, FEATURE_DIM) and np.all(out[1][:, 6:, 66:132] == 0)
    np.testing.assert_array_equal(out[1][:, 6:, :66], np.repeat(expected[:, -1:, :66], 3, axis=1))
    np.testing.assert_array_equal(out[2], train[2].features[:, :5])
    assert all(x.dtype == np.float32 for x in out)


# ---- acceptance checks ---------------------------------------------------------------------------

def fake_row(name: str, kind: str, *, top3: float = 0.5, fid: float = 1.0, classifier: float = 0.5,
             **physical: float | None) -> dict:
    """A row as run._score writes it; physical metrics default to 0.1 ± 0.01 over 10 clips."""
    values = {metric: {"mean": 0.1, "half_width": 0.01, "n": 10} for metric in METRICS}
    for metric, mean in physical.items():
        values[metric] = {"mean": mean, "half_width": None if mean is None else 0.01, "n": 0 if mean is None else 10}
    return {
        "name": name, "kind": kind, "clips": 10,
        "r_precision": {"top1": top3 / 3, "top2": top3 / 2, "top3": top3, "half_width": [0.01, 0.02, 0.03]},
        "fid": fid, "mm_dist": 3.0, "diversity": {"mean": 5.0, "half_width": 0.2},
        "classifier_agreement": classifier, "role_accuracy": 0.9, "physical": values,
    }


BASELINES = ("Baseline: model without scene", "Baseline: each role sampled alone, no scene",
             "Baseline: nearest-neighbour retrieval")


def fake_tables(model: dict | None = None, real: dict | None = None, baseline: dict | None = None,
                reworded: float = 0.8) -> dict:
    """A model that passes every check unless ``model``/``real``/``baseline`` say otherwise."""
    model_values = dict(top3=0.81, fid=1.0, foot_skating_ratio=0.1, floor_penetration_m=0.01,
                        person_penetration_frames=0.05, scene_penetration_frames=0.05) | (model or {})
    real_values = dict(top3=1.0, fid=0.2, foot_skating_ratio=0.1, floor_penetration_m=0.01) | (real or {})
    baseline_values = dict(fid=2.0, person_penetration_frames=0.2, scene_penetration_frames=0.2) | (baseline or {})
    test = [fake_row("Real test data", "real", **real_values),
            fake_row("Model, DDIM 25 steps (default)", "model", **model_values),
            fake_row("Model, DPM-Solver++ 2M 10 steps (fast)", "model")]
    test += [fake_row(name, "baseline", **baseline_values) for name in BASELINES]
    test[-1]["fid"] = 0.5  # retrieval copies real clips: a low FID does not matter to the check
    rw = [fake_row("Real test data (reworded captions)", "real", classifier=1.0),
          fake_row("Model, DDIM 25 steps (default)", "model", classifier=reworded),
          fake_row("Model, DPM-Solver++ 2M 10 steps (fast)", "model", classifier=0.1)]
    rw += [fake_row(name, "baseline") for name in BASELINES]
    return {"test_scenes": test, "reworded_prompts": rw}


def passed(tables: dict) -> dict[str, bool]:
    return {c["check"].split(":")[0].split(" ")[0]: c["passed"] for c in acceptance(tables)}


def test_a_model_inside_every_threshold_passes_every_check():
    checks = acceptance(fake_tables())
    assert [c["check"] for c in checks] == [
        "foot_skating_ratio: model <= real mean + its 95% half-width",
        "floor_penetration_m: model <= real mean + its 95% half-width",
        "person_penetration_frames: model below every baseline (or, like it, at zero)",
        "scene_penetration_frames: model below every baseline (or, like it, at zero)",
        "R-precision top-3 >= 80% of real",
        "FID below the independent-sampling baseline",
        "reworded prompts: classifier agreement >= 70% of real",
    ]
    assert all(c["passed"] for c in checks)
    assert checks[4]["measured"] == "81.0% (0.810 vs 1.000)"
    assert checks[5]["measured"] == "model 1.000, independent 2.000"


@pytest.mark.parametrize("metric", ["foot_skating_ratio", "floor_penetration_m"])
def test_physical_checks_allow_the_real_half_width_and_no_more(metric):
    # Real 0.1 ± 0.01: 0.109 passes, 0.111 fails.
    assert passed(fake_tables(model={metric: 0.109}, real={metric: 0.1}))[metric]
    assert not passed(fake_tables(model={metric: 0.111}, real={metric: 0.1}))[metric]
    assert not passed(fake_tables(real={metric: None}))[metric]  # nothing to compare with


@pytest.mark.parametrize("metric", ["person_penetration_frames", "scene_penetration_frames"])
def test_penetration_must_be_strictly_below_every_baseline(metric):
    assert passed(fake_tables(model={metric: 0.19}, baseline={metric: 0.2}))[metric]
    assert not passed(fake_tables(model={metric: 0.2}, baseline={metric: 0.2}))[metric]  # equal is not below
    tables = fake_tables(model={metric: 0.1})
    tables["test_scenes"][5]["physical"][metric]["mean"] = 0.05  # one baseline below the model
    assert not passed(tables)[metric]
    checks = acceptance(tables)
    assert "Baseline: nearest-neighbour retrieval: 0.0500" in next(c for c in checks if metric in c["check"])["measured"]


@pytest.mark.parametrize("metric", ["person_penetration_frames", "scene_penetration_frames"])
def test_a_model_at_zero_penetration_ties_with_a_baseline_at_zero_and_says_so(metric):
    tables = fake_tables(model={metric: 0.0})
    tables["test_scenes"][3]["physical"][metric]["mean"] = 0.0  # the model without scene: also none
    assert passed(tables)[metric]
    measured = next(c for c in acceptance(tables) if metric in c["check"])["measured"]
    assert measured.endswith("(at zero with: Baseline: model without scene)")
    tables["test_scenes"][1]["physical"][metric]["mean"] = 1e-4  # the model above zero: not below 0
    assert not passed(tables)[metric]


def test_r_precision_fid_and_reworded_checks_sit_on_their_thresholds():
    assert passed(fake_tables(model={"top3": 0.81}))["R-precision"]
    assert not passed(fake_tables(model={"top3": 0.79}))["R-precision"]
    assert passed(fake_tables(model={"top3": 0.405}, real={"top3": 0.5}))["R-precision"]  # a ratio, 81 %
    assert not passed(fake_tables(model={"top3": 0.395}, real={"top3": 0.5}))["R-precision"]
    assert not passed(fake_tables(model={"fid": 2.0}))["FID"]  # only below the independent baseline passes
    assert passed(fake_tables(model={"fid": 1.99}))["FID"]
    assert passed(fake_tables(reworded=0.71))["reworded"]
    assert not passed(fake_tables(reworded=0.69))["reworded"]


# ---- report --------------------------------------------------------------------------------------

def fake_result(tables: dict) -> dict:
    meta = {
        "checkpoint": "/somewhere/care_model.safetensors", "evaluator": "/w/evaluator.safetensors",
        "sizes": {"train": 400, "val": 50, "test": 60, "evaluator_steps": 300, "mm_prompts": 5,
                  "mm_generations": 10, "reworded_seeds": 2, "batch": 32, "replications": 20},
        "default_sampler": ("ddim", 25), "fast_sampler": ("dpmpp_2m", 10), "guidance": 2.5,
        "r_precision_batch": 32, "replications": 20,
        "reworded_prompts": [{"text": "x", "training_vocabulary_overlap": 0.2},
                             {"text": "y", "training_vocabulary_overlap": 0.4}],
        "seconds": 123.4,
    }
    return {"meta": meta, "tables": tables, "checks": acceptance(tables), "summary": {"checks": 7}}


def test_the_report_shows_both_tables_and_every_check(tmp_path):
    tables = fake_tables(model={"top3": 0.79, "floor_penetration_m": 0.0123, "scene_penetration_frames": None})
    tables["test_scenes"][1]["fid"] = np.float32(1.5)  # numpy numbers must still serialise
    tables["test_scenes"][2]["multimodality"] = {"mean": 2.5, "half_width": 0.25, "prompts": 5, "generations": 10}
    result = fake_result(tables)
    sheet = tmp_path / "eval_contact_sheet.png"
    write_report(tmp_path, result, sheet)
    text = (tmp_path / "eval.md").read_text(encoding="utf-8")
    assert "## Held-out procedural test scenes (60 clips" in text and "## Reworded prompts (2 prompts × 2 seeds" in text
    assert "Checkpoint: `care_model.safetensors`" in text and "in 123 s" in text
    table_rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Row")
                  and not line.startswith("| Check")]
    assert len(table_rows) == 12 + 7
    model_row = next(line for line in table_rows if line.startswith("| Model, DDIM 25 steps (default) | 0.263"))
    cells = [c.strip() for c in model_row.strip("|").split("|")]
    assert cells[3] == "0.790 ±0.030"  # R@3
    assert cells[4] == "1.500"  # FID
    assert cells[11] == "1.23 ±1.00"  # floor penetration in cm
    assert cells[14] == "-"  # scene penetration: no clip applies
    fast_row = next(line for line in table_rows if line.startswith("| Model, DPM-Solver++ 2M 10 steps (fast) | 0.167"))
    assert "| 2.500 ±0.250 |" in fast_row
    for check in result["checks"]:
        mark = "yes" if check["passed"] else "**no**"
        assert f"| {check['check']} | {check['measured']} | {mark} |" in text
    assert "| R-precision top-3 >= 80% of real | 79.0% (0.790 vs 1.000) | **no** |" in text
    assert text.count("| yes |") == 5 and text.count("| **no** |") == 2
    assert "![contact sheet](eval_contact_sheet.png)" in text
    written = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    assert written["checks"] == result["checks"]
    assert written["tables"]["test_scenes"][1]["fid"] == 1.5
    assert written["meta"]["default_sampler"] == ["ddim", 25]
    assert "## Generated clips" not in render_markdown(result, None)
    assert "procedural generator" not in text  # a result without data versions names none


def test_the_report_names_the_data_versions_and_says_when_the_checkpoint_learnt_older_ones():
    result = fake_result(fake_tables())
    result["meta"] |= {"data_version": "data3", "checkpoint_data_version": "data3"}
    text = render_markdown(result, None)
    assert "Real clips and the evaluator's training clips: procedural generator `data3`" in text
    assert "The checkpoint was trained on" not in text
    result["meta"]["checkpoint_data_version"] = "data2"
    assert "procedural generator `data3` (`dataset.DATA_VERSION`). The checkpoint was trained on `data2` clips." in \
        render_markdown(result, None)


# ---- contact sheet ---------------------------------------------------------------------------------

def pixels_of(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """(N, 2) [row, column] of the pixels exactly in ``colour``."""
    return np.argwhere(np.all(image == colour, axis=-1))


def test_the_contact_sheet_draws_staff_blue_and_patients_orange_where_they_are(procedural, tmp_path):
    pair, single = procedural
    both = SheetClip(pair.joints, tuple(m.role for m in pair.clip.motions), pair.clip.texts[0], pair.boxes)
    patient = SheetClip(single.joints, ("patient",), "an old man walks", np.zeros((0, 7)))
    staff = dataclasses.replace(patient, roles=("staff",), caption="a nurse walks", room=(6.0, 5.0))
    clips = [both, patient, staff]
    sheet = np.asarray(contact_sheet(clips, columns=2, title="three clips"))
    assert sheet.shape == (2 * 300 + 22, 2 * 320, 3)
    panels = {k: sheet[22 + (k // 2) * 300: 22 + (k // 2 + 1) * 300, (k % 2) * 320: (k % 2 + 1) * 320]
              for k in range(4)}
    assert len(pixels_of(panels[0], STAFF)) > 20 and len(pixels_of(panels[0], PATIENT)) > 20
    assert len(pixels_of(panels[1], PATIENT)) > 20 and len(pixels_of(panels[1], STAFF)) == 0
    assert len(pixels_of(panels[2], STAFF)) > 20 and len(pixels_of(panels[2], PATIENT)) == 0
    assert np.all(panels[3] == 255)  # no fourth clip: blank
    assert len(pixels_of(panels[0], (150, 150, 150))) > 0  # furniture wire frames
    # The persons of the pair stand apart: their colours' centres are apart on screen.
    staff_at, patient_at = pixels_of(panels[0], STAFF).mean(0), pixels_of(panels[0], PATIENT).mean(0)
    assert np.linalg.norm(staff_at - patient_at) > 10
    # The same motion in a fitted view and inside a drawn room: the room shrinks the figure.
    assert len(pixels_of(panels[2], STAFF)) < len(pixels_of(panels[1], PATIENT))
    panel = render_panel(both, size=(200, 150))
    assert panel.size == (200, 150) and panel.mode == "RGB"
    path = save_contact_sheet(tmp_path / "sheets" / "sheet.png", clips, columns=2, title="three clips")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (640, 622)
        np.testing.assert_array_equal(np.asarray(image.convert("RGB")), sheet)
