"""Timing shared by the benchmarks, dependency-free: ``official_access.py`` imports it in the
official client's own environment, where tessera is not installed."""

import multiprocessing as mp
import time


def best(fn, rounds: int):
    """(the last result of ``fn()``, the shortest of ``rounds`` wall times in seconds)."""
    out, times = None, []
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, min(times)


def _spin() -> None:
    while True:
        pass


def burn(n: int) -> list:
    """``n`` processes that each keep a core busy, as on a busy machine (daemonic: they end with
    the benchmark; ``terminate()`` them to end sooner)."""
    procs = [mp.get_context("spawn").Process(target=_spin, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    return procs
