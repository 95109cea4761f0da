"""Where block tasks run: a local Dask cluster sized to the machine, or an existing scheduler.

Sizing is about PyTorch, which already parallelises one forward pass over a process's cores.
So a process gets several cores for PyTorch's threads, and its Dask threads are not for more
compute but for overlap: while one block is in the model, the others read, sample and write
(below 4 cores ``embed`` skips the cluster and runs the stages in turn: see ``embed.run``).
One process (threads only, nothing to pickle or spawn) up to 8 cores; beyond that one process
per ~8 cores, because a forward pass of this size stops scaling past that many threads.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from tessera.errors import ConfigError, SchedulerError

CORES_PER_PROCESS = 8
TASK_THREADS = 3  # one block in the model, one reading + sampling, one quantising + writing


@dataclass(frozen=True)
class LocalShape:
    processes: int
    threads_per_process: int  # Dask task threads
    torch_threads: int  # PyTorch intra-op threads per process


def local_shape(cores: int, workers: int | None = None) -> LocalShape:
    """How to lay a local cluster over ``cores`` cores (``workers`` processes if given).

    >>> local_shape(2)
    LocalShape(processes=1, threads_per_process=3, torch_threads=2)
    >>> local_shape(32)
    LocalShape(processes=4, threads_per_process=3, torch_threads=8)
    """
    cores = max(1, cores)
    n = max(1, cores // CORES_PER_PROCESS) if workers is None else workers
    if n <= 0:
        raise ConfigError(f"--workers must be a positive number of processes, got {n}")
    return LocalShape(n, TASK_THREADS, max(1, cores // n))


@contextlib.contextmanager
def dask_client(shape: LocalShape | None, scheduler: str | None, timeout_s: float = 10.0) -> Iterator:
    """A ``distributed.Client`` on a new local cluster (``shape``) or on ``scheduler``."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SchedulerError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout_s:.0f} s "
                f"({type(exc).__name__}); check the address and that it is running"
            ) from exc
        with client:
            yield client
        return
    assert shape is not None
    # The scheduler always serves HTTP (None still binds :8787): a free port keeps overlapping
    # `tessera embed` runs from fighting over 8787.
    with (
        LocalCluster(
            n_workers=shape.processes,
            threads_per_worker=shape.threads_per_process,
            processes=shape.processes > 1,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
