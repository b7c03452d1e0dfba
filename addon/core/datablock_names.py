"""Names that fit Blender's datablock names: 63 bytes of UTF-8 in Blender 4.x (what 5.0 still
accepts), so a long or non-ASCII prompt is shortened and the part that tells datablocks apart (the
seed, the person) is never cut off."""

from __future__ import annotations

NAME_BYTES = 63  # Blender 4.2/4.5: MAX_ID_NAME - 2
ELLIPSIS = "…"


def fitted_name(text: str, suffix: str = "", max_chars: int | None = None, limit: int = NAME_BYTES) -> str:
    """``text`` (whitespace runs made one space) shortened with "…" so that ``text + suffix`` has at
    most ``max_chars`` characters of text and ``limit`` UTF-8 bytes in all; ``suffix`` is kept whole.

    >>> fitted_name("a nurse helps a patient who fell get up", " s7 Staff 1", max_chars=20)
    'a nurse helps a pat… s7 Staff 1'
    """
    short = " ".join(text.split())
    budget = limit - len(suffix.encode("utf-8"))
    if budget < len(ELLIPSIS.encode("utf-8")):
        raise ValueError(f"name suffix {suffix!r} leaves no room within {limit} bytes")
    if (max_chars is None or len(short) <= max_chars) and len(short.encode("utf-8")) <= budget:
        return short + suffix
    keep = len(short) if max_chars is None else max_chars - 1
    room = budget - len(ELLIPSIS.encode("utf-8"))
    while keep > 0 and len(short[:keep].encode("utf-8")) > room:
        keep -= 1
    return short[:keep].rstrip() + ELLIPSIS + suffix
