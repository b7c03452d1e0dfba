"""Where prompt anchoring places the evaluation's prompts: the action group each one lands in.

Text only, no sampling. For a prompt set (RewordedPrompt-like: text, script, roles) it counts the
prompts whose picked group (``text.anchors``) is their own script, once with the group vote on
sentence embeddings and once on token alignment (``text.token_alignment``) when the checkpoint
ships a token bank. A prompt placed in another action cannot be followed however good the
motion model is, so this separates the text side of the reworded agreement from the motion side.
"""

from __future__ import annotations

from typing import Sequence


def group_picks(generator, prompts: Sequence) -> dict:
    """-> {"prompts": N, "sentence_vote": right, "token_vote": right or None,
    "misplaced": [{"text", "script", "picked"}] of the vote generation uses}. ``generator``: a
    ``generate.Generator`` whose checkpoint has grouped anchors (else ValueError)."""
    anchors = generator.anchors
    if anchors is None or not anchors.grouped:
        raise ValueError(f"{generator.checkpoint}: no grouped prompt anchors to place prompts with")
    texts, roles = [p.text for p in prompts], [p.roles for p in prompts]
    by_sentence = generator.anchor_prompts(texts, roles, by_tokens=False).groups
    by_words = generator.anchor_prompts(texts, roles).groups if anchors.tokens is not None else None
    used = by_words or by_sentence
    return {"prompts": len(prompts),
            "sentence_vote": sum(g == p.script for g, p in zip(by_sentence, prompts)),
            "token_vote": None if by_words is None else sum(g == p.script for g, p in zip(by_words, prompts)),
            "misplaced": [{"text": p.text, "script": p.script, "picked": g} for g, p in zip(used, prompts)
                          if g != p.script]}
