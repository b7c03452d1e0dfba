"""reports/eval.md and reports/eval.json from :func:`.run.evaluate`'s result."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..files import atomic_write

_PHYSICAL = (
    ("foot_skating_ratio", "Skate", "{:.3f}"),
    ("floor_penetration_m", "Floor pen. (cm)", "cm"),
    ("floor_float", "Float", "{:.3f}"),
    ("person_penetration_frames", "Person pen.", "{:.3f}"),
    ("scene_penetration_frames", "Scene pen.", "{:.3f}"),
    ("contact_recall", "Contact recall", "{:.2f}"),
    ("seated", "Seated", "{:.2f}"),
    ("seated_on_bed", "On bed", "{:.2f}"),
    ("bone_length_std_m", "Bone std (mm)", "mm"),
    ("fk_mpjpe_m", "Pos-FK (cm)", "cm"),
)


def _fmt(value, spec: str, half=None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    scale, fmt = (100.0, "{:.2f}") if spec == "cm" else (1000.0, "{:.2f}") if spec == "mm" else (1.0, spec)
    text = fmt.format(value * scale)
    if half is not None and not (isinstance(half, float) and math.isnan(half)):
        text += " ±" + fmt.format(half * scale)
    return text


def _table(rows: list[dict]) -> list[str]:
    head = ["Row", "R@1", "R@2", "R@3", "FID", "MM-Dist", "Diversity", "MModality", "Classifier", "Role acc."]
    head += [title for _, title, _ in _PHYSICAL]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        rp = r["r_precision"]
        mm = r.get("multimodality")
        cells = [r["name"],
                 _fmt(rp["top1"], "{:.3f}", rp["half_width"][0]), _fmt(rp["top2"], "{:.3f}", rp["half_width"][1]),
                 _fmt(rp["top3"], "{:.3f}", rp["half_width"][2]), _fmt(r["fid"], "{:.3f}"),
                 _fmt(r["mm_dist"], "{:.3f}"), _fmt(r["diversity"]["mean"], "{:.3f}", r["diversity"]["half_width"]),
                 _fmt(mm["mean"], "{:.3f}", mm["half_width"]) if mm else "-",
                 _fmt(r["classifier_agreement"], "{:.3f}"), _fmt(r["role_accuracy"], "{:.3f}")]
        for key, _, spec in _PHYSICAL:
            value = r["physical"][key]
            cells.append(_fmt(value["mean"], spec, value["half_width"]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _data_versions(meta: dict) -> list[str]:
    """A line naming the procedural data version of the real clips, and the checkpoint's when it differs."""
    data, trained = meta.get("data_version"), meta.get("checkpoint_data_version")
    if not data:
        return []
    line = f"Real clips and the evaluator's training clips: procedural generator `{data}` (`dataset.DATA_VERSION`)."
    if trained and trained != data:
        line += f" The checkpoint was trained on `{trained}` clips."
    return [line, ""]


def render_markdown(result: dict, sheet: Path | None) -> str:
    meta = result["meta"]
    sizes = meta["sizes"]
    lines = [
        "# Evaluation of the generation checkpoint",
        "",
        f"Checkpoint: `{Path(meta['checkpoint']).name}`. Written by `./run eval` in {meta['seconds']:.0f} s; "
        "every number below is from that run.",
        "",
        *_data_versions(meta),
        "Evaluator: the project's own contrastive motion-text encoder with action, role and script heads, "
        f"trained on {sizes['train']} clips of the procedural training split ({sizes['evaluator_steps']} steps) "
        "and frozen; every row is scored with it. R-precision: batches of "
        f"{meta['r_precision_batch']}, {meta['replications']} replications, mean ± 1.96·σ/√n. FID: against the "
        "real test embeddings (the real row: validation split vs test split). Diversity: mean distance of "
        "300 random pairs (or N). MModality: "
        f"{sizes['mm_prompts']} prompts × {sizes['mm_generations']} generations at the fast setting. "
        "Classifier: share of clips whose predicted script is the prompt's. Physical metrics on the joints a "
        "rig shows (forward kinematics on the checkpoint skeleton; for generated clips of the predicted "
        "rotations, lying bodies levelled (`core/motion/level.py`), on the predicted pelvis path, kept above the "
        "floor, planted feet held still and, where the "
        "prompt is placed in an action whose people touch, the helpers' hands put on the other person "
        "(`core/motion/hand_contact.py`; every generated and retrieved row alike), as Generate "
        "Interaction decodes them, `core/motion/decode.py`): mean ± 95 % half-width over clips; Pos-FK is "
        "the disagreement between the predicted positions, which the decode does not use beyond the pelvis, "
        "and forward kinematics of the predicted rotations; person penetration leaves the forearms out (they do the "
        "touching, scored by contact recall); Seated is the share of sitting person-frames whose pelvis is "
        "on a chair's seat, over the clips of scripts that seat someone on a chair and have sitting frames; On "
        "bed the same for a bed, over the clips of scripts that sit someone on a bed's edge (sitting up in bed "
        "counts too).",
        "",
        f"Samplers: default {meta['default_sampler'][0]} {meta['default_sampler'][1]} steps, fast "
        f"{meta['fast_sampler'][0]} {meta['fast_sampler'][1]} steps, guidance {meta['guidance']} "
        "(chosen with the anchoring on the tuning prompts, not these: reports/tuning.md). Baselines use the "
        "default sampler. Every sampled row runs the add-on's sampling: prompts anchored to the checkpoint's "
        "training captions of one action (`core/text/anchors.py`; the reworded table's ablation row leaves them "
        "as written), "
        "persons kept apart (pelvis spacing and bone capsules, `core/diffusion/spacing.py`, "
        "`core/diffusion/body_separation.py`, parting them where that puts nobody into furniture), legs and "
        "trunks out of the furniture (`core/diffusion/keep_out.py`) and people on what carries them: lying "
        "bodies laid on the bed or floor under them, turned and moved onto the bed beside them where the "
        "prompt is placed in an action in which someone lies in bed, and people standing or walking over free "
        "floor brought down to it (`core/diffusion/onto_support.py`); on the result, where the prompt is placed in "
        "sitting on a chair, a sitter beside a chair moved with the whole clip and sat down on it "
        "(`core/diffusion/seating.py`), where it is placed in sitting on a bed's edge (getting into or out of "
        "bed ...), a sitter beside the bed moved (all but the frames that lie) and sat on its edge "
        "(`core/diffusion/bed_edge.py`), legs and trunks pushed out of the furniture once more, and it is "
        "filtered along time (a Gaussian "
        "of 0.1 s, `core/diffusion/temporal_smoothing.py`: the model's frame-to-frame shake); where it is placed "
        "in a walk (walking in or out, falling while walking), a walker the model leaves shuffling on the spot "
        "stepped along a straight route free of furniture with the procedural walk cycle, what follows the "
        "walk carried to its end (`core/diffusion/walking.py`), before the bodies are parted once more.",
        "",
        "The model rows score the network's output features, as motion-generation evaluations do (HumanML3D, "
        "InterGen). What a rig is keyed with is their decode (the rotations on the pelvis path, lying bodies "
        "levelled, grounded, feet held, hands placed). Each table's last row is the default row's clips decoded that way and encoded again "
        "like real data (positions and velocities recomputed from the rotations), then scored with the same "
        "evaluator: where it falls below the default row, the rigs show a motion the evaluator recognises "
        "less than the network's features suggest.",
        "",
        f"## Held-out procedural test scenes ({sizes['test']} clips, rooms never seen in training)",
        "",
        *_table(result["tables"]["test_scenes"]),
        "",
        f"## Reworded prompts ({len(meta['reworded_prompts'])} prompts × {sizes['reworded_seeds']} seeds, "
        "in test rooms)",
        "",
        "No role noun and few verbs of the training captions: mean share of content words that some training "
        f"caption uses: {sum(p['training_vocabulary_overlap'] for p in meta['reworded_prompts']) / len(meta['reworded_prompts']):.2f}. "
        "The real row pairs each test clip with a reworded prompt of its script.",
        "",
        *_table(result["tables"]["reworded_prompts"]),
        "",
        *_anchoring(meta.get("anchoring") or {}),
        *_by_script(result["tables"]),
        "## Acceptance checks (issue 6)",
        "",
        "| Check | Measured | Passed |",
        "|---|---|---|",
        *[f"| {c['check']} | {c['measured']} | {'yes' if c['passed'] else '**no**'} |" for c in result["checks"]],
        "",
    ]
    if sheet is not None:
        lines += ["## Generated clips", "", f"![contact sheet]({sheet.name})", ""]
    return "\n".join(lines)


def _anchoring(anchoring: dict) -> list[str]:
    """The text-only table of ``eval.anchoring.group_picks`` for the tuning and reworded prompts."""
    if not anchoring:
        return []
    sets = (("tuning", "Tuning prompts (the vote was chosen on these)"), ("reworded", "Reworded prompts (this table)"))

    def share(right, n):
        return "-" if right is None else f"{right}/{n} ({right / n:.0%})"

    lines = ["### Which action the anchoring places each prompt in (text only)", "",
             "The prompt anchors first pick one action's captions (`core/text/anchors.py`); a prompt placed in "
             "another action cannot be followed. Group vote on sentence embeddings against the vote on token "
             "alignment (`core/text/token_alignment.py`), which generation uses when the checkpoint ships a "
             "token bank.", "",
             "| Prompts | Sentence vote | Token vote |", "|---|---|---|"]
    for key, label in sets:
        picks = anchoring[key]
        lines.append(f"| {label} | {share(picks['sentence_vote'], picks['prompts'])} | "
                     f"{share(picks['token_vote'], picks['prompts'])} |")
    misplaced = anchoring["reworded"]["misplaced"]
    if misplaced:
        lines += ["", "Reworded prompts placed in another action: " + "; ".join(
            f"\"{m['text']}\" ({m['script']} -> {m['picked']})" for m in misplaced) + "."]
    return lines + [""]


def _by_script(tables: dict) -> list[str]:
    """Per action (script), how many clips the evaluator recognised as it: real test clips and the
    default row of both tables (what the checkpoint ships as its ``script_agreement``)."""
    test, reworded = tables["test_scenes"], tables["reworded_prompts"]
    if "classifier_by_script" not in test[1]:
        return []
    columns = ((test[0], "Real test clips"), (test[1], "Default, test scenes"), (reworded[1], "Default, reworded prompts"))

    def cell(row: dict, name: str) -> str:
        pair = row["classifier_by_script"].get(name)
        return "-" if pair is None else f"{pair[0]}/{pair[1]}"

    lines = ["### Which actions the clips are recognised as (classifier, by action)", "",
             "Clips the evaluator's script head recognised as their own action. Generate Interaction reads the "
             "default rows' sum from the checkpoint and says so when a prompt is placed in an action recognised "
             "in fewer than half of them.", "",
             "| Action | " + " | ".join(label for _, label in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name in test[0]["classifier_by_script"]:
        lines.append(f"| {name} | " + " | ".join(cell(row, name) for row, _ in columns) + " |")
    return lines + [""]


def write_report(out_dir: Path, result: dict, sheet: Path | None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = render_markdown(result, sheet)
    atomic_write(out_dir / "eval.md", lambda t: Path(t).write_text(text, encoding="utf-8"))
    payload = json.dumps(result, indent=1, default=float)
    atomic_write(out_dir / "eval.json", lambda t: Path(t).write_text(payload, encoding="utf-8"))
