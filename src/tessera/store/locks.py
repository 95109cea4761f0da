"""Inter-process locks for the writers of one store.

Two ``tessera embed`` processes may write neighbouring cubes into the same zone group, and a
shard on their common edge then receives pixels from both. Zarr rewrites a whole shard file to
update part of it, so each such read-modify-write (and the shard's manifest update) runs under an
exclusive ``flock`` on a lock file beside the data. Locks are advisory, cost one small file per
shard, and vanish with the process that holds them — a killed writer never leaves one stuck.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the block's duration."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
