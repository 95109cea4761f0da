"""Timing shared by the benchmarks, dependency-free: ``official_access.py`` imports it in the
official client's own environment, where tessera is not installed."""

import time


def best(fn, rounds: int):
    """(the last result of ``fn()``, the shortest of ``rounds`` wall times in seconds)."""
    out, times = None, []
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, min(times)
