"""Where a store being written lives: a local directory, or a prefix in an object store
(``s3://``, ``gs://``, any fsspec URL whose filesystem package is installed).

Writers need few operations, and each appears whole or not at all on both kinds: a local file is
written aside and renamed into place; an object is one PUT. Locks serialise writers of one shard:
``flock`` files in the store's build sibling for a local store; for an object store (which has no
locks) files in a local cache keyed by the URL, so writers on one machine — every worker process
of ``tessera embed`` — never race. Writers on several machines must own disjoint shards, which one
``tessera embed --scheduler`` run guarantees (one task per shard).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tessera.atomic import atomic_file
from tessera.errors import StoreError
from tessera.store.locks import Presence, file_lock, presence
from tessera.store.sources import is_url, url_fs


class Location:
    """A directory-like place: ``Location("a.zarr") / "utm31"``; keys are ``/``-separated."""

    def __init__(self, location: str | os.PathLike, fs: Any = None) -> None:
        text = os.fspath(location)
        self.remote = is_url(text)
        if self.remote:
            if fs is None:
                try:
                    fs, _ = url_fs(text)
                except (ImportError, ValueError) as exc:
                    raise StoreError(
                        f"cannot write to {text}: {exc}; install the fsspec filesystem for this "
                        "protocol (s3fs for s3://, gcsfs for gs://)"
                    ) from exc
            self.fs, self.url = fs, text.rstrip("/")
            self.path: Path | None = None
        else:
            self.fs, self.path = None, Path(text.removeprefix("file://"))
            self.url = str(self.path)

    @classmethod
    def of(cls, location: str | os.PathLike | Location) -> Location:
        """``location`` as a Location (itself if it already is one)."""
        return location if isinstance(location, Location) else cls(location)

    @property
    def local(self) -> Path:
        """The path of a local location (a remote one has none)."""
        if self.path is None:
            raise StoreError(f"{self.url} is remote; it has no local path")
        return self.path

    def __truediv__(self, key: str) -> Location:
        if self.remote:
            return Location(f"{self.url}/{key}", self.fs)
        return Location(self.local / key)

    def __str__(self) -> str:
        return self.url

    def sibling(self, suffix: str) -> Location:
        """``STORE{suffix}`` beside this location (the build directory)."""
        if self.remote:
            return Location(self.url + suffix, self.fs)
        return Location(self.local.with_name(self.local.name + suffix))

    def zarr_store(self) -> Any:
        """What ``zarr.open_group`` takes: a path (zarr's LocalStore, atomic writes) or an FsspecStore."""
        if not self.remote:
            return str(self.local)
        from zarr.storage import FsspecStore

        return FsspecStore.from_url(self.url, storage_options=dict(self.fs.storage_options))

    # -- objects ------------------------------------------------------------------------------
    def read_bytes(self) -> bytes | None:
        try:
            return self.fs.cat_file(self.url) if self.remote else self.local.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def write_bytes(self, data: bytes) -> None:
        """Whole or not at all: one PUT, or a temporary file renamed into place."""
        if self.remote:
            self.fs.pipe_file(self.url, data)
            return
        self.local.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.local) as tmp:
            tmp.write_bytes(data)

    def _fresh(self) -> None:
        # fsspec caches listings per filesystem instance (shared process-wide): another writer,
        # or this one a moment ago, may have added objects since.
        self.fs.invalidate_cache(self.url)

    def exists(self) -> bool:
        if self.remote:
            self._fresh()
            return self.fs.exists(self.url)
        return self.local.exists()

    def is_file(self) -> bool:
        if self.remote:
            self._fresh()
            return self.fs.isfile(self.url)
        return self.local.is_file()

    def names(self) -> list[str]:
        """Names directly under this location (none if it does not exist)."""
        if self.remote:
            self._fresh()
            try:
                return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self.url, detail=False))
            except FileNotFoundError:
                return []
        return sorted(p.name for p in self.local.iterdir()) if self.local.is_dir() else []

    def _locks(self) -> Path:
        if self.remote:
            key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
            return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tessera" / "locks" / key
        return self.local / "locks"

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock named ``name`` among this machine's writers of this store."""
        with file_lock(self._locks() / name):
            yield

    def presence(self, name: str) -> contextlib.AbstractContextManager[Presence]:
        """A shared lock named ``name``, held by each of this machine's writers while it runs."""
        return presence(self._locks() / name)
