"""Benchmark groups for `./run bench`; each module has ``run(context) -> list[row]``.

A row is {"name": str, "samples_s": [seconds, ...], **notes}; the runner reports medians.
"""

import time


def repeat(function, times: int) -> list[float]:
    """Wall-clock seconds of ``times`` calls of ``function``."""
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples
