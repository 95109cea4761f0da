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


class Presence:
    """A writer's shared hold on a store for its whole run. While any writer holds one, no other
    can take the lock exclusively, so a writer that failed can tell whether it is alone before it
    removes a store it created: it never deletes a store under a writer that is still running."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def alone(self) -> bool:
        """Whether no other writer holds the store; if so, this one now holds it exclusively (until
        the presence ends), so none can start until the caller has cleaned up."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@contextlib.contextmanager
def presence(path: str | os.PathLike) -> Iterator[Presence]:
    """Hold a shared lock on ``path`` (created if needed) for the block's duration."""
    path = Path(path)
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        # A writer that was alone may have removed the store, lock file and all, while this one
        # waited: a lock on a file no longer at ``path`` keeps nobody out. Take the new file's.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield Presence(fd)
    finally:
        os.close(fd)
