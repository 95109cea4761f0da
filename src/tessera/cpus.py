"""How many CPUs this process may use: the base for sizing thread pools and worker processes
(``embed``'s Dask cluster, ``access``'s chunk decoding). Torch-free, so the store readers use it."""

from __future__ import annotations

import os


def available_cores() -> int:
    """CPUs in this process's affinity mask (all of them where the OS has no such mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
