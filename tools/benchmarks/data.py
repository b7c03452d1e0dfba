"""Procedural care clips: how fast the data set is made (one process, numpy)."""

import time

from addon.core.body.model import load_body_model
from addon.core.data.procedural.dataset import make_clip


def run(context: dict) -> list[dict]:
    model = load_body_model(None)
    make_clip(0, "bench", 0, model)  # imports and caches warm
    samples, attempts = [], []
    for index in range(1, 41):
        started = time.perf_counter()
        clip = make_clip(0, "bench", index, model)
        samples.append(time.perf_counter() - started)
        attempts.append(clip.attempts)
    return [{"name": "procedural care clip (room, script, checks), 40 clips", "samples_s": samples,
             "mean_attempts": round(sum(attempts) / len(attempts), 2)}]
