"""What Generate Interaction says when a prompt lands on an action the checkpoint does poorly.

``./run eval`` counts, per action (procedural script), how many of the default setting's clips
the evaluator recognised as that action (the held-out test scenes and the reworded prompts
together, ``eval.run.script_agreement``), and ``./run bundle-checkpoint`` ships the counts in the
checkpoint's evaluation summary. A prompt the anchoring places in an action recognised in fewer
than WEAK_SHARE of its clips gets a one-line caveat naming the counts, so a user who asks for a
walk learns that this checkpoint's walkers barely travel before judging the result (README,
*Known issues*). Checkpoints without the counts (trained elsewhere, or never evaluated) say nothing.
"""

from __future__ import annotations

from .labels import SCRIPT_TITLES

WEAK_SHARE = 0.5  # an action recognised in fewer than this share of its evaluation clips is weak


def action_caveat(evaluation: dict, action: str | None) -> str:
    """A one-line caveat for prompts placed in ``action`` ("" when it is not weak or unknown).

    evaluation: a checkpoint's ``evaluation`` metadata (``{"summary": {"script_agreement":
    {action: [recognised, clips]}}}``); action: the script the anchoring placed the prompt in."""
    if not action:
        return ""
    counts = ((evaluation or {}).get("summary") or {}).get("script_agreement") or {}
    pair = counts.get(action)
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return ""
    recognised, clips = int(pair[0]), int(pair[1])
    if clips <= 0 or recognised >= WEAK_SHARE * clips:
        return ""
    label = SCRIPT_TITLES.get(action, action.replace("_", " "))
    return (f"this checkpoint does {label} poorly: the evaluator recognised {recognised} of its {clips} "
            f"evaluation clips of it as that action (reports/eval.md)")
