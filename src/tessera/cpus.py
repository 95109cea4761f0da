"""How many CPUs this process may use: the base for sizing thread pools and worker processes
(``embed``'s Dask cluster and PyTorch threads, ``access``'s chunk decoding). Torch-free, so the
store readers use it.

The affinity mask says which cores the process may run on; a container's CPU quota (cgroup v2
``cpu.max``, v1 ``cpu.cfs_quota_us``) may allow less time than that many cores. Sizing pools
beyond either oversubscribes the cores, which costs PyTorch far more than the idle core would
(its threads wait on each other at every parallel region). ``TESSERA_CPUS`` overrides both.
"""

from __future__ import annotations

import functools
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


#: Set before an OpenMP runtime loads (``calm_openmp``) when the machine is busy: a thread that
#: waits at a barrier sleeps at once instead of spinning. On a busy machine a spinning thread burns
#: the time slice the thread it waits for needs (``bench_embed.py --contended 1 2 4
#: --compare-waits``: 4–8× the CPU per pixel, 3–4× the wall time); on a quiet one the spin is what
#: makes many small parallel regions fast (sleeping waits cost ``tessera embed`` of a tiny model
#: 1.7× the wall time there), so a quiet machine keeps the runtime's default. ``OMP_WAIT_POLICY`` is
#: the OpenMP standard's knob (libgomp, which PyTorch's Linux wheels use); ``KMP_BLOCKTIME`` is
#: Intel's and LLVM's (libiomp5, libomp). A user's own setting wins.
OPENMP_WAITS = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}


def calm_openmp(environ: dict[str, str] | None = None, busy: bool | None = None) -> dict[str, str]:
    """Size OpenMP to the cores this process should use now, and on a busy machine (``busy``;
    default: other work holds a core now) make its waiting threads sleep; a user's own settings
    win. Call before torch is imported. Returns what is now in force."""
    env = os.environ if environ is None else environ
    env.setdefault("OMP_NUM_THREADS", str(cores_for_work()))
    if cores_for_work() < available_cores() if busy is None else busy:
        for key, value in OPENMP_WAITS.items():
            env.setdefault(key, value)
    return {k: env[k] for k in ("OMP_NUM_THREADS", *OPENMP_WAITS) if k in env}


def busy_threads(cores: int, others: float) -> int:
    """Threads for a process on ``cores`` usable cores while ``others`` other threads want to run:
    the cores they leave free, at least one. A thread more than there is room for only queues
    behind the others' work, and makes its siblings wait for it at every parallel region."""
    return max(1, min(cores, round(cores - others)))


def runnable_others(samples: int = 5, every_s: float = 0.01, loadavg: Path = Path("/proc/loadavg")) -> float:
    """How many threads of other processes are runnable now: the median over a few samples of the
    kernel's instantaneous run-queue count (``/proc/loadavg``'s ``running/total``, which counts the
    reader itself). Not the 1-minute load average: that remembers this user's previous command and
    would starve the next one on a machine that is idle again."""
    import statistics
    import time

    counts = []
    for i in range(samples):
        try:
            counts.append(int(loadavg.read_text().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return 0.0
        if i + 1 < samples:
            time.sleep(every_s)
    return max(0.0, statistics.median(counts))


@functools.cache
def _others_at_start() -> float:
    return runnable_others()


def cores_for_work() -> int:
    """The usable cores less those other processes kept busy when this process first asked (at
    least one; measured once, so a command sizes OpenMP, PyTorch and its cluster alike), split
    between torchrun's processes on this machine: what the CLI sizes its work from.
    ``TESSERA_CPUS`` is taken as it is."""
    cores = available_cores()
    if os.environ.get("TESSERA_CPUS"):
        return cores
    # torchrun's processes on this machine (LOCAL_WORLD_SIZE) start together and share its cores:
    # each sizing itself to all of them oversubscribes the machine n-fold.
    share = max(1, int(os.environ.get("LOCAL_WORLD_SIZE") or 1))
    return busy_threads(max(1, cores // share), _others_at_start() / share)


def set_torch_threads(threads: int | None = None) -> str:
    """Set PyTorch's intra-op threads (default: ``cores_for_work``) and say what was chosen, in one
    line for a log. The count never changes an embedding (``tests/test_cpus.py``); it changes training's
    gradient sums in their last bits, so a resumed training run keeps the count it began with."""
    import torch

    cores = available_cores()
    chosen = threads if threads is not None else cores_for_work()
    torch.set_num_threads(chosen)
    busy = "" if threads is not None or chosen == cores else f", {cores - chosen} taken by other work"
    return f"{cores} usable cores{busy}: PyTorch {chosen} threads (--threads N sets them)"
