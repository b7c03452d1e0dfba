"""The evaluation of a generation checkpoint: rows of clips, their metrics, the acceptance checks.

Two tables, as issue 6 asks: held-out procedural test scenes (each test clip's caption, roles,
length and room are the request), and reworded prompts (words no training caption uses, each
generated ``reworded_seeds`` times in test rooms). Rows: the real data; the model at its
default (DDIM, 25 steps) and its fast-solver setting (DPM-Solver++ 2M, 10 steps); baselines
run with the default sampler: no scene, independent single-person sampling, nearest-neighbour
retrieval. Every row is scored with one frozen evaluator (:mod:`.evaluator`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..labels import ACTIONS, SCRIPT_INDEX, SCRIPTS
from ..data.procedural.prompts import DEV, REWORDED, vocabulary_overlap
from .anchoring import group_picks
from ..generate import BUNDLED_CHECKPOINT, load_generator
from ..generation_settings import DEFAULT_GUIDANCE
from ..text.encoders import MiniLMEncoder
from . import distribution as dist
from .baselines import independent_features, nearest_neighbour_features
from .clips import EvalClip, decoded_clip, generated_clip, touch_of
from .contact_sheet import SheetClip, save_contact_sheet
from .evaluator import EvaluatorConfig, EvaluatorLabels
from .evaluator_batches import EvalItem
from .evaluator_file import load_evaluator, save_evaluator
from .evaluator_inference import embed_clips, embed_texts, predict
from .evaluator_training import train_evaluator
from .physical_report import physical_metrics

log = logging.getLogger("isynth.eval")

DEFAULT_SAMPLER = ("ddim", 25)
FAST_SAMPLER = ("dpmpp_2m", 10)
REWORDED_FRAMES = 80


@dataclasses.dataclass
class Row:
    name: str
    clips: list[EvalClip]
    kind: str  # "real", "model", "baseline", "ablation", "decoded" (a model row as rigs show it)
    mm_groups: np.ndarray | None = None  # (prompts, generations, E) evaluator embeddings


def evaluate(checkpoint: str | None, splits: dict[str, list[EvalClip]], sizes: Any, work: Path, out_dir: Path,
             rest_joints: np.ndarray, refresh: bool = False) -> dict:
    """Run everything; write eval.md, eval.json and eval_contact_sheet.png into ``out_dir``."""
    started = time.perf_counter()
    path = Path(checkpoint) if checkpoint else BUNDLED_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint (train one: ./run train configs/care.toml)")
    generator = load_generator(path, device="cpu")
    if not np.allclose(generator.rest_joints, rest_joints, atol=1e-6):
        raise ValueError(f"{path}: its rest skeleton differs from the stand-in body's; the evaluation encodes "
                         "real clips with the stand-in's")
    minilm = minilm_numpy()
    evaluator = _evaluator(splits["train"], splits["val"], sizes, work, refresh, minilm)
    test = splits["test"]
    train = splits["train"]
    train_text = minilm([c.text for c in train])
    requests = [_request(c.text, c.roles, c.features.shape[1], c.scene_points) for c in test]

    def reaching_of(reqs, anchor: bool = True) -> list:
        # Whose hands the decode places, as Generate Interaction decides it (the prompt's action).
        return generator.encode_prompts([r.prompt for r in reqs], [r.roles for r in reqs], anchor).reaching

    def clips_of(features, reqs, likes, reaching) -> list[EvalClip]:
        # Decoded as Generate Interaction decodes (hands placed where the prompt implies touch),
        # every row alike: the baselines' hands are placed by the same rule.
        return [generated_clip(f, c, rest_joints, r.prompt, r.roles, c.script, reach)
                for f, c, r, reach in zip(features, likes, reqs, reaching)]

    def model_rows(reqs, likes, tag: str, with_mm: bool) -> list[Row]:
        rows = []
        reaching = reaching_of(reqs)  # once for the table's rows: they share the prompts
        for sampler, steps, label in ((*DEFAULT_SAMPLER, "default"), (*FAST_SAMPLER, "fast")):
            log.info("%s: model, %s %d steps (%d clips)", tag, sampler, steps, len(reqs))
            features = _sample(generator, reqs, sampler, steps)
            rows.append(Row(f"Model, {_sampler_name(sampler, steps)} ({label})",
                            clips_of(features, reqs, likes, reaching), "model"))
        sampler, steps = DEFAULT_SAMPLER
        log.info("%s: baseline without the scene", tag)
        features = _sample(generator, [dataclasses.replace(r, scene_points=None) for r in reqs], sampler, steps)
        rows.append(Row("Baseline: model without scene", clips_of(features, reqs, likes, reaching), "baseline"))
        log.info("%s: baseline, independent single-person sampling", tag)
        features = independent_features(generator, reqs, sampler=sampler, steps=steps, guidance=DEFAULT_GUIDANCE,
                                        seed=3)
        rows.append(Row("Baseline: each role sampled alone, no scene", clips_of(features, reqs, likes, reaching),
                        "baseline"))
        features, _ = nearest_neighbour_features(train, train_text, minilm([r.prompt for r in reqs]), reqs)
        rows.append(Row("Baseline: nearest-neighbour retrieval", clips_of(features, reqs, likes, reaching),
                        "baseline"))
        return rows

    def decoded_row(row: Row) -> Row:
        return Row(f"Model, {_sampler_name(*DEFAULT_SAMPLER)}, as the rigs show it (decoded, re-encoded)",
                   [decoded_clip(c) for c in row.clips], "decoded")

    # Table 1: held-out test scenes.
    test_rows = [Row("Real test data", test, "real")] + model_rows(requests, test, "test scenes", True)
    mm = _multimodality_groups(generator, evaluator, test, sizes, minilm)
    test_rows[2].mm_groups = mm  # the fast-solver row
    test_rows.append(decoded_row(test_rows[1]))
    # Table 2: reworded prompts, in test rooms.
    rw_requests, rw_likes = prompt_requests(REWORDED, test, sizes.reworded_seeds)
    reworded_real = [dataclasses.replace(c, text=_reworded_for(c.script, i)) for i, c in enumerate(test)]
    reworded_rows = [Row("Real test data (reworded captions)", reworded_real, "real")] + \
        model_rows(rw_requests, rw_likes, "reworded prompts", False)
    # Ablation: what the prompt anchors (text/anchors.py) contribute to following new wordings.
    log.info("reworded prompts: model without prompt anchors")
    features = _sample(generator, rw_requests, *DEFAULT_SAMPLER, anchor=False)
    reworded_rows.append(Row("Ablation: model, default, prompts as written (no anchors)",
                             clips_of(features, rw_requests, rw_likes, reaching_of(rw_requests, anchor=False)),
                             "ablation"))
    reworded_rows.append(decoded_row(reworded_rows[1]))

    reference = embed_clips(evaluator, _items(test, minilm))
    val_reference = embed_clips(evaluator, _items(splits["val"], minilm))
    tables = {
        "test_scenes": [_score(row, evaluator, minilm, reference, val_reference, sizes) for row in test_rows],
        "reworded_prompts": [_score(row, evaluator, minilm, reference, val_reference, sizes) for row in reworded_rows],
    }
    checks = acceptance(tables)
    summary = _summary(tables, checks)
    out_dir.mkdir(parents=True, exist_ok=True)
    sheet = _contact_sheet(out_dir / "eval_contact_sheet.png", reworded_rows[1])
    from ..data.procedural.dataset import DATA_VERSION

    meta = {
        "checkpoint": str(path), "evaluator": str(work / "evaluator.safetensors"),
        # The generator version of every real clip here (and the evaluator's training clips), and
        # the one the checkpoint's procedural training clips came from.
        "data_version": f"data{DATA_VERSION}",
        "checkpoint_data_version": generator.meta.training.get("procedural_data_version"),
        "sizes": dataclasses.asdict(sizes), "default_sampler": DEFAULT_SAMPLER, "fast_sampler": FAST_SAMPLER,
        "guidance": DEFAULT_GUIDANCE, "r_precision_batch": sizes.batch, "replications": sizes.replications,
        "reworded_prompts": [dataclasses.asdict(p) | {"training_vocabulary_overlap": round(vocabulary_overlap(p.text), 3)}
                             for p in REWORDED],
        "anchoring": {"tuning": group_picks(generator, DEV), "reworded": group_picks(generator, REWORDED)}
        if generator.anchors is not None and generator.anchors.grouped else {},
        "seconds": round(time.perf_counter() - started, 1),
    }
    result = {"meta": meta, "tables": tables, "checks": checks, "summary": summary}
    from .report import write_report

    write_report(out_dir, result, sheet)
    return result


def prompt_requests(prompts: Sequence, rooms: list[EvalClip], seeds: int) -> tuple[list, list[EvalClip]]:
    """Each of ``prompts`` (RewordedPrompt-like: text, script, roles) ``seeds`` times, REWORDED_FRAMES
    long, in the rooms of ``rooms`` taken in turn -> (SampleRequests, EvalClips to score them as:
    the room's boxes and points, the prompt's script, roles and text)."""
    requests, likes = [], []
    for seed in range(seeds):
        for k, prompt in enumerate(prompts):
            room = rooms[(k + seed * len(prompts)) % len(rooms)]
            likes.append(dataclasses.replace(room, script=SCRIPT_INDEX[prompt.script], touch=touch_of(prompt.script),
                                             roles=prompt.roles, text=prompt.text))
            requests.append(_request(prompt.text, prompt.roles, REWORDED_FRAMES, room.scene_points))
    return requests, likes


def minilm_numpy() -> Callable[[Sequence[str]], np.ndarray]:
    """texts -> (B, 384) float32 unit MiniLM embeddings: what the evaluator's text inputs are."""
    encoder = MiniLMEncoder()
    return lambda texts: encoder.encode(list(texts)).cpu().numpy().astype(np.float32)


def classifier_agreement(evaluator, clips: Sequence[EvalClip], minilm) -> float:
    """Share of ``clips`` whose predicted script is their own (the evaluator's script head)."""
    return _agreement(predict(evaluator, _items(clips, minilm)), clips)


def _agreement(predicted: dict, clips: Sequence[EvalClip]) -> float:
    return float(np.mean([p == c.script for p, c in zip(predicted["script"], clips)]))


def agreement_by_script(predicted: dict, clips: Sequence[EvalClip]) -> dict[str, list[int]]:
    """{script name: [clips recognised as it, clips of it]}, in SCRIPTS order, scripts with clips only."""
    counts = {name: [0, 0] for name in SCRIPTS}
    for p, c in zip(predicted["script"], clips):
        counts[SCRIPTS[c.script]][0] += int(p == c.script)
        counts[SCRIPTS[c.script]][1] += 1
    return {name: pair for name, pair in counts.items() if pair[1]}


def prepare_evaluator(train: list[EvalClip], val: list[EvalClip], sizes: Any, work: Path, refresh: bool = False):
    """Train (or load the cached) evaluator without a generation checkpoint; returns it."""
    return _evaluator(train, val, sizes, work, refresh, minilm_numpy())


def _request(prompt, roles, frames, scene_points):
    from .sampling import SampleRequest

    return SampleRequest(prompt, tuple(roles), int(frames), scene_points)


def _sample(generator, requests, sampler: str, steps: int, anchor: bool = True) -> list[np.ndarray]:
    from .sampling import sample_features

    return sample_features(generator, requests, sampler=sampler, steps=steps, guidance=DEFAULT_GUIDANCE, seed=1,
                           anchor=anchor)


def _sampler_name(sampler: str, steps: int) -> str:
    return {"ddim": "DDIM", "dpmpp_2m": "DPM-Solver++ 2M", "ddpm": "DDPM"}.get(sampler, sampler) + f" {steps} steps"


def _reworded_for(script: int, index: int) -> str:
    options = [p.text for p in REWORDED if p.script == SCRIPTS[script]]
    return options[index % len(options)]


EVAL_STRIDE = 2  # the evaluator sees every 2nd frame (5 fps): a quarter of the attention cost on a CPU


def _items(clips: Sequence[EvalClip], minilm) -> list[EvalItem]:
    texts = minilm([c.text for c in clips])
    return [EvalItem(c.features[:, ::EVAL_STRIDE], t, c.roles, c.action_labels[:, ::EVAL_STRIDE], c.script, c.text)
            for c, t in zip(clips, texts)]


def _evaluator(train: list[EvalClip], val: list[EvalClip], sizes, work: Path, refresh: bool, minilm):
    path = work / "evaluator.safetensors"
    if path.is_file() and not refresh:
        model, _ = load_evaluator(path)
        return model
    log.info("training the evaluator on %d clips (%d steps)", len(train), sizes.evaluator_steps)
    config = EvaluatorConfig(num_actions=len(ACTIONS), num_scripts=len(SCRIPTS), max_frames=100 // EVAL_STRIDE,
                             max_persons=4)
    labels = EvaluatorLabels(actions=ACTIONS, scripts=SCRIPTS)
    model, summary = train_evaluator(_items(train, minilm), _items(val, minilm), config, sizes.evaluator_steps,
                                     batch_size=32, lr=5e-4, seed=0, log=log.info, labels=labels,
                                     threads=torch.get_num_threads(),
                                     log_every=100)
    save_evaluator(path, model, summary)
    return model


def _multimodality_groups(generator, evaluator, test, sizes, minilm) -> np.ndarray:
    """(prompts, generations, E): the first ``mm_prompts`` test prompts, ``mm_generations`` each,
    at the fast-solver setting."""
    chosen = test[: sizes.mm_prompts]
    requests = [_request(c.text, c.roles, c.features.shape[1], c.scene_points) for c in chosen
                for _ in range(sizes.mm_generations)]
    from .sampling import sample_features

    features = sample_features(generator, requests, sampler=FAST_SAMPLER[0], steps=FAST_SAMPLER[1],
                               guidance=DEFAULT_GUIDANCE, seed=7)
    clips = [generated_clip(f, c, generator.rest_joints) for f, c in
             zip(features, [c for c in chosen for _ in range(sizes.mm_generations)])]
    emb = embed_clips(evaluator, _items(clips, minilm))
    return emb.reshape(len(chosen), sizes.mm_generations, -1)


def _score(row: Row, evaluator, minilm, reference: np.ndarray, val_reference: np.ndarray, sizes) -> dict:
    items = _items(row.clips, minilm)
    motion = embed_clips(evaluator, items)
    text = embed_texts(evaluator, np.stack([i.text_embedding for i in items]))
    batch = min(sizes.batch, len(items))
    r_mean, r_half = dist.replicate(lambda rng: dist.r_precision(text, motion, batch, 3, rng=rng),
                                    sizes.replications, seed=0)
    pairs = min(300, len(motion))
    div_mean, div_half = dist.replicate(lambda rng: dist.diversity(motion, pairs, rng=rng), sizes.replications, seed=1)
    fid = dist.fid(val_reference, motion) if row.kind == "real" else dist.fid(reference, motion)
    predicted = predict(evaluator, items)
    script_acc = _agreement(predicted, row.clips)
    roles = np.concatenate([[evaluator.labels.roles[r] == want for r, want in zip(pr, c.roles)]
                            for pr, c in zip(predicted["roles"], row.clips)])
    physical = physical_metrics(row.clips).to_json()
    scores = {
        "name": row.name, "kind": row.kind, "clips": len(row.clips),
        "r_precision": {"top1": r_mean[0], "top2": r_mean[1], "top3": r_mean[2],
                        "half_width": [float(h) for h in r_half]},
        "fid": float(fid), "mm_dist": dist.matching_score(text, motion),
        "diversity": {"mean": div_mean, "half_width": div_half},
        "classifier_agreement": script_acc, "classifier_by_script": agreement_by_script(predicted, row.clips),
        "role_accuracy": float(roles.mean()),
        "physical": physical,
    }
    if row.mm_groups is not None:
        mm_pairs = min(10, row.mm_groups.shape[1])
        mm_mean, mm_half = dist.replicate(lambda rng: dist.multimodality(row.mm_groups, mm_pairs, rng=rng),
                                          sizes.replications, seed=2)
        scores["multimodality"] = {"mean": mm_mean, "half_width": mm_half, "prompts": int(row.mm_groups.shape[0]),
                                   "generations": int(row.mm_groups.shape[1])}
    return scores


def _metric(row: dict, name: str) -> tuple[float, float]:
    value = row["physical"][name]
    mean = np.nan if value["mean"] is None else value["mean"]
    half = np.nan if value["half_width"] is None else value["half_width"]
    return float(mean), float(half)


def acceptance(tables: dict) -> list[dict]:
    """The issue's acceptance checks, each {"check", "measured", "passed"}."""
    test = tables["test_scenes"]
    real, default = test[0], test[1]
    baselines = [r for r in test if r["kind"] == "baseline"]
    checks = []
    for metric in ("foot_skating_ratio", "floor_penetration_m"):
        m, _ = _metric(default, metric)
        r, h = _metric(real, metric)
        checks.append({"check": f"{metric}: model <= real mean + its 95% half-width",
                       "measured": f"model {m:.4f}, real {r:.4f} +- {h:.4f}", "passed": bool(m <= r + h)})
    for metric in ("person_penetration_frames", "scene_penetration_frames"):
        m, _ = _metric(default, metric)
        others = {b["name"]: _metric(b, metric)[0] for b in baselines}
        # Nothing is below zero: a baseline with no penetrating frame either is tied, said so.
        ties = [k for k, v in others.items() if m == v == 0.0]
        checks.append({"check": f"{metric}: model below every baseline (or, like it, at zero)",
                       "measured": f"model {m:.4f}; " + ", ".join(f"{k}: {v:.4f}" for k, v in others.items())
                       + (f" (at zero with: {', '.join(ties)})" if ties else ""),
                       "passed": bool(all(m < v or k in ties for k, v in others.items()))})
    ratio = default["r_precision"]["top3"] / max(real["r_precision"]["top3"], 1e-9)
    checks.append({"check": "R-precision top-3 >= 80% of real", "measured": f"{ratio:.1%} "
                   f"({default['r_precision']['top3']:.3f} vs {real['r_precision']['top3']:.3f})",
                   "passed": bool(ratio >= 0.8)})
    independent = next(r for r in baselines if "alone" in r["name"])
    checks.append({"check": "FID below the independent-sampling baseline",
                   "measured": f"model {default['fid']:.3f}, independent {independent['fid']:.3f}",
                   "passed": bool(default["fid"] < independent["fid"])})
    rw = tables["reworded_prompts"]
    ratio = rw[1]["classifier_agreement"] / max(rw[0]["classifier_agreement"], 1e-9)
    checks.append({"check": "reworded prompts: classifier agreement >= 70% of real",
                   "measured": f"{ratio:.1%} ({rw[1]['classifier_agreement']:.3f} vs {rw[0]['classifier_agreement']:.3f})",
                   "passed": bool(ratio >= 0.7)})
    return checks


def _summary(tables: dict, checks: list[dict]) -> dict:
    test, rw = tables["test_scenes"], tables["reworded_prompts"]
    return {
        "checks_passed": sum(c["passed"] for c in checks), "checks": len(checks),
        "test_r_precision_top3": {r["name"]: round(r["r_precision"]["top3"], 3) for r in test},
        "test_fid": {r["name"]: round(r["fid"], 3) for r in test},
        "reworded_classifier_agreement": {r["name"]: round(r["classifier_agreement"], 3) for r in rw},
        "script_agreement": script_agreement(test[1], rw[1]),
    }


def script_agreement(*rows: dict) -> dict[str, list[int]]:
    """Per script, [recognised, clips] summed over ``rows`` (scored rows with "classifier_by_script"):
    the default row of both tables, which the checkpoint ships so that generation can say where
    an action is weak (``generate.Generator.caveat``)."""
    total: dict[str, list[int]] = {}
    for row in rows:
        for name, (agreed, clips) in row["classifier_by_script"].items():
            pair = total.setdefault(name, [0, 0])
            pair[0] += int(agreed)
            pair[1] += int(clips)
    return total


def _contact_sheet(path: Path, row: Row) -> Path:
    """One generated clip per script (the first seed of each reworded prompt), captioned."""
    seen, panels = set(), []
    for clip in row.clips:
        if clip.script in seen:
            continue
        seen.add(clip.script)
        panels.append(SheetClip(clip.joints, clip.roles, clip.text, clip.boxes, None))
    return save_contact_sheet(path, panels, columns=5,
                              title=f"{row.name}: one clip per reworded prompt (staff blue, patients orange)")
