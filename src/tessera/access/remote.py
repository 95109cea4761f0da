"""Remote stores (HTTP(S), or any fsspec URL such as ``s3://`` with its filesystem installed):
fetch what a read needs, verify it against the manifest, cache it.

The cache is a partial local mirror of the store: metadata on open, then for each read the
manifests of the shards it touches and the shard files they list. A shard file enters the cache
only after its SHA-256 and size match the manifest, under a temporary name renamed into place,
so readers sharing a cache (threads or processes) never see a partial or unverified file. A file
that keeps failing its checksum is an error naming the block — never wrong numbers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from tessera.access.reader import AccessError
from tessera.store import manifest as mf
from tessera.store.layout import Zone

log = logging.getLogger(__name__)
ARRAYS = ("embeddings", "scales", "x", "y")


def default_cache(url: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "tessera" / hashlib.sha256(url.encode()).hexdigest()[:16]


class RemoteStore:
    """A store at a URL (``tessera serve``, a web server, object storage), mirrored into ``cache``."""

    def __init__(self, url: str, cache: str | os.PathLike | None = None, retries: int = 3,
                 timeout_s: float = 30.0) -> None:  # fmt: skip
        self.url = url.rstrip("/") + "/"
        self.cache = Path(cache) if cache else default_cache(self.url)
        self.retries = retries
        self.timeout_s = timeout_s

    def _read(self, key: str) -> bytes | None:
        """One attempt: HTTP(S) with the standard library, any other scheme through fsspec."""
        if self.url.startswith(("http://", "https://")):
            try:
                with urllib.request.urlopen(self.url + key, timeout=self.timeout_s) as resp:
                    return resp.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                raise
        try:
            return self._fs.cat_file(self._root + key)
        except FileNotFoundError:
            return None

    @functools.cached_property
    def _fs(self):
        try:
            import fsspec

            fs, root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:  # fsspec lacks the protocol's package (e.g. s3fs)
            raise AccessError(f"cannot open {self.url}: {exc}; install the fsspec filesystem for "
                              "this protocol (s3fs for s3://, gcsfs for gs://)") from exc  # fmt: skip
        self._root = root.rstrip("/") + "/"
        return fs

    def _get(self, key: str) -> bytes | None:
        """The bytes at ``key``, None if there is no such file; bounded retries otherwise."""
        mf.check_key(key)
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                return self._read(key)
            except AccessError:
                raise
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = exc
            time.sleep(0.2 * 2**attempt)
        raise AccessError(f"cannot fetch {self.url + key} after {self.retries} tries ({last}); check "
                          "that the server is up and the URL names a store")  # fmt: skip

    def _put(self, key: str, data: bytes) -> Path:
        path = self.cache / mf.check_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path

    def _mirror(self, key: str, required: bool = True) -> bytes | None:
        data = self._get(key)
        if data is None and required:
            raise AccessError(f"{self.url} has no {key}: it is not a tessera embedding store")
        if data is not None:
            self._put(key, data)
        return data

    def open(self) -> Path:
        """Mirror the store's metadata; returns the local mirror's root."""
        root = json.loads(self._mirror("zarr.json"))
        names = root.get("attributes", {}).get("groups", [])
        for name in names:
            year, _, zone = str(name).partition("/")
            if not year.isdigit():
                raise AccessError(f"{self.url} lists a group {name!r} that is not YEAR/ZONE")
            Zone.from_name(zone)
            self._mirror(f"{year}/zarr.json")
            self._mirror(f"{name}/zarr.json")
            for array in ARRAYS:
                self._mirror(f"{name}/{array}/zarr.json")
        return self.cache

    def fetch_shards(self, group: str, shards: list[tuple[int, int]]) -> None:
        """Bring these shards' manifests and verified data files into the mirror."""
        for shard in shards:
            key = f"{group}/{mf.MANIFEST_DIR}/{mf.manifest_name(shard)}"
            data = self._get(key)
            if data is None:  # nothing recorded in this shard
                continue
            manifest = mf.parse(data.decode(), self.url + key)
            for file_key, meta in (manifest.files or {}).items():
                self._fetch_verified(f"{group}/{file_key}", meta, manifest)
            self._put(key, data)  # the manifest last: a block is readable only once its data is here

    def _fetch_verified(self, key: str, meta: dict, manifest: mf.ShardManifest) -> None:
        cached = self.cache / mf.check_key(key)
        if cached.exists() and mf.file_checksum(cached) == meta:
            return
        for _ in range(self.retries):
            data = self._get(key)
            if data is not None and len(data) == meta["size"] and hashlib.sha256(data).hexdigest() == meta["sha256"]:
                self._put(key, data)
                return
            log.warning("%s failed its checksum; fetching again", self.url + key)
        windows = ", ".join(str(b.window) for b in manifest.blocks)
        raise AccessError(f"{self.url + key} (shard {manifest.shard}, blocks {windows}) does not match its "
                          f"manifest checksum after {self.retries} tries: the served copy is corrupt")  # fmt: skip
