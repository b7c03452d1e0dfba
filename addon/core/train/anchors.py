"""The prompt anchors a checkpoint ships: a sample of its training captions, embedded (``text.anchors``).

Every caption of every clip (and, with mirroring, its mirrored wording) paired with the clip's
roles and action label (``FeatureClip.label``, the group anchoring picks first); duplicates
dropped, at most ``MAX_ANCHORS`` kept; with a token encoder also their token bank. 4096 MiniLM
captions add 3 MB of sentence rows and about 10 MB of token rows (float16) to a checkpoint.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..data.mirror import mirror_text
from ..text.anchors import PromptAnchors, sample_anchors
from ..text.token_alignment import TokenEncode
from .features import FeatureClip

MAX_ANCHORS = 4096


def training_anchors(clips: Sequence[FeatureClip], encode: Callable[[list[str]], torch.Tensor], mirror: bool,
                     max_count: int = MAX_ANCHORS, seed: int = 0,
                     encode_tokens: TokenEncode | None = None) -> PromptAnchors | None:
    """PromptAnchors of the clips' captions (with their token bank when ``encode_tokens`` is given
    and the clips name actions); None when no clip has one (text-free training)."""
    texts, roles, groups = [], [], []
    for clip in clips:
        for text in clip.texts:
            for wording in ((text, mirror_text(text)) if mirror else (text,)):
                texts.append(wording)
                roles.append(clip.roles)
                groups.append(clip.label)
    if not texts:
        return None
    return sample_anchors(texts, roles, encode, max_count, seed, groups, encode_tokens)
