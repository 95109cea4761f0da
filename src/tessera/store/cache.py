"""A persistent, size-bounded cache of a remote store's bytes, so repeated reads of the same place
never touch the network (``TESSERA_CACHE`` / ``tessera --cache-dir``).

What is cached: every object, byte range and suffix a reader asks for, under a key of the store's
identity, the object's key and the range. The identity is the snapshot for an Icechunk repository
(snapshots never change), else a digest of the store's root metadata as fetched when it is opened
(the one request a warm open makes): a store republished under new root metadata is a new
identity. A store rewritten in place under the same root metadata (one still being embedded into)
is not noticed: read it with ``--no-cache``.

Each entry ends with the crc32c of its bytes (hardware-fast: a hit costs a read, not a hash),
checked on every hit: an entry damaged on disk
is dropped and fetched again, never served. Entries are written to a temporary name and renamed,
so concurrent readers (threads or processes) see whole entries or none; eviction (oldest use
first, down to 90 % of the bound) tolerates entries another process removed first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tessera.store.sources import ByteSource

DEFAULT_MAX_BYTES = 20 << 30
_DIGEST = 4


def _crc(data: bytes) -> bytes:
    import google_crc32c

    return google_crc32c.value(data).to_bytes(4, "little")


_warned: set[str] = set()


def cache_settings() -> tuple[Path | None, int]:
    """(folder or None, size bound) from ``TESSERA_CACHE`` and ``TESSERA_CACHE_MAX_GB``."""
    folder = os.environ.get("TESSERA_CACHE") or None
    size = os.environ.get("TESSERA_CACHE_MAX_GB")
    try:
        bound = int(float(size) * (1 << 30)) if size else DEFAULT_MAX_BYTES
    except ValueError:
        bound = DEFAULT_MAX_BYTES
    return (Path(folder).expanduser() if folder else None), bound


class CachedSource:
    """A ``ByteSource`` answering from a local cache first, and filling it from ``inner``."""

    def __init__(self, inner: ByteSource, folder: Path, identity: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.inner, self.location = inner, inner.location
        self.folder = folder / hashlib.blake2b(identity.encode(), digest_size=10).hexdigest()
        self.max_bytes = max_bytes
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self._written = 0
        self.folder.mkdir(parents=True, exist_ok=True)

    def __getattr__(self, name: str) -> Any:  # list_dir and the like: the inner source's own
        return getattr(self.inner, name)

    # -- entries ----------------------------------------------------------------------------
    def _path(self, *parts: object) -> Path:
        name = hashlib.blake2b("\0".join(map(str, parts)).encode(), digest_size=16).hexdigest()
        return self.folder / name[:2] / name

    def _load(self, path: Path) -> tuple[bool, bytes | None]:
        """(hit, the object's bytes or None where the store has no such object)."""
        try:
            raw = path.read_bytes()
        except OSError:
            return False, None
        body, digest = raw[:-_DIGEST], raw[-_DIGEST:]
        if len(raw) <= _DIGEST or _crc(body) != digest:
            path.unlink(missing_ok=True)  # damaged on disk: fetch it again
            return False, None
        with contextlib.suppress(OSError):  # another reader may have evicted it since
            os.utime(path)  # the eviction order: least recently used first
        self.hits += 1
        return True, (body[1:] if body[:1] == b"\1" else None)

    def _store(self, path: Path, data: bytes | None) -> None:
        # An absent object (an unwritten shard) is remembered too: asking again costs a request.
        body = b"\0" if data is None else b"\1" + data
        try:
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(body + _crc(body))
            os.replace(tmp, path)
        except OSError:
            return  # a full or vanished cache folder: the read itself has its bytes
        with self._lock:
            self._written += len(body)
            if self._written > self.max_bytes // 20:
                self._written = 0
                self.evict()

    def evict(self) -> None:
        """Remove the least recently used entries until the cache holds ≤ 90 % of its bound."""
        entries = []
        for sub in self.folder.parent.glob("*/*/*"):
            try:
                st = sub.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, sub))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes * 0.9:
                break
            path.unlink(missing_ok=True)
            total -= size

    # -- the ByteSource interface -----------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        path = self._path("get", key)
        hit, data = self._load(path)
        if not hit:
            self.misses += 1
            data = self.inner.get(key)
            self._store(path, data)
        return data

    def get_range(self, key: str, start: int, length: int) -> bytes:
        path = self._path("range", key, start, length)
        hit, data = self._load(path)
        if not hit or data is None:
            self.misses += 1
            data = self.inner.get_range(key, start, length)
            self._store(path, data)
        return data

    def get_suffix(self, key: str, length: int) -> tuple[bytes, int] | None:
        path = self._path("suffix", key, length)
        hit, data = self._load(path)
        if hit:
            return None if data is None else (data[8:], int.from_bytes(data[:8], "little"))
        self.misses += 1
        got = self.inner.get_suffix(key, length)
        self._store(path, None if got is None else got[1].to_bytes(8, "little") + got[0])
        return got


def cached(source: ByteSource, identity: Callable[[], str]) -> ByteSource:
    """``source`` behind the cache ``TESSERA_CACHE`` names, if any (``identity()`` names the
    store's bytes); a folder that cannot be written is warned about once and reads go on uncached."""
    folder, bound = cache_settings()
    if folder is None:
        return source
    try:
        wrapped = CachedSource(source, folder, identity(), bound)
        probe = wrapped.folder / f".probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        if str(folder) not in _warned:
            _warned.add(str(folder))
            print(
                f"warning: the cache folder {folder} cannot be written ({exc.strerror or exc}); reading uncached",
                file=sys.stderr,
            )
        return source
    return wrapped
