"""How many CPUs this process may use: the base for sizing thread pools and worker processes
(``embed``'s Dask cluster and PyTorch threads, ``access``'s chunk decoding). Torch-free, so the
store readers use it.

The affinity mask says which cores the process may run on; a container's CPU quota (cgroup v2
``cpu.max``, v1 ``cpu.cfs_quota_us``) may allow less time than that many cores. Sizing pools
beyond either oversubscribes the cores, which costs PyTorch far more than the idle core would
(its threads wait on each other at every parallel region). ``TESSERA_CPUS`` overrides both.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs' worth of time the cgroup quota allows, or None where there is no quota."""
    try:
        limit, every = (root / "cpu.max").read_text().split()[:2]
        return None if limit == "max" else int(limit) / int(every)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cores() -> int:
    """CPUs this process may use: its affinity mask, capped by a CPU quota (rounded up)."""
    override = os.environ.get("TESSERA_CPUS")
    if override:
        try:
            return max(1, int(override))
        except ValueError:
            pass  # a malformed override is ignored rather than fatal in every command
    cores = _affinity()
    quota = cgroup_quota()
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def set_torch_threads(threads: int | None = None) -> str:
    """Set PyTorch's intra-op threads (default: as torch chose from ``OMP_NUM_THREADS``, which the
    CLI sets to the usable cores) and say what was chosen, in one line for a log."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    return (
        f"{available_cores()} usable cores: PyTorch {torch.get_num_threads()} threads "
        "(--threads N sets them; on a machine busy with other work, fewer are faster)"
    )
