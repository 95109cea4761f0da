"""Where a store's bytes come from: a local directory, HTTP(S), or any fsspec URL (``s3://``).

Every read is a whole small object (metadata), a byte range (an inner chunk) or a suffix (a shard
index at the end of its file), so a remote store costs what a read touches. Remote reads retry a
bounded number of times on time-outs and 5xx answers, then fail with one line naming the URL;
404 means the object is absent (an unwritten shard), which the caller decides about.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from tessera.errors import StoreError, StoreUnreachableError


def check_key(key: str) -> str:
    """Refuse keys that could escape the store (``..``, absolute paths, backslashes, NUL)."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\0" in key or any(p in ("", ".", "..") for p in parts):
        raise StoreError(f"store key {key!r} is not inside the store; the metadata is corrupt or hostile")
    return key


class ByteSource(Protocol):
    location: str

    def get(self, key: str) -> bytes | None:
        """The whole object, or None if absent."""

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``."""

    def get_suffix(self, key: str, length: int) -> tuple[bytes, int] | None:
        """(the last ``length`` bytes, the object's size), or None if absent."""


class LocalSource:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        with open(self._path(key), "rb") as f:
            return os.pread(f.fileno(), length, start)

    def get_suffix(self, key: str, length: int) -> tuple[bytes, int] | None:
        try:
            with open(self._path(key), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                return os.pread(f.fileno(), min(length, size), max(0, size - length)), size
        except (FileNotFoundError, NotADirectoryError):
            return None

    def list_dir(self, prefix: str) -> list[str]:
        folder = self.root / check_key(prefix.rstrip("/")) if prefix else self.root
        try:
            return sorted(p.name for p in folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []


class HttpSource:
    """A store served over HTTP(S) (``tessera serve``, a web server, a bucket's HTTPS endpoint)."""

    def __init__(self, url: str, retries: int = 3, timeout_s: float = 30.0) -> None:
        self.location = url.rstrip("/") + "/"
        self.retries = retries
        self.timeout_s = timeout_s
        self.bytes_fetched = 0  # for benchmarks: what reads actually cost on the wire

    def _request(self, key: str, headers: dict[str, str]) -> tuple[bytes, dict] | None:
        url = self.location + check_key(key)
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                req = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    data = resp.read()
                    self.bytes_fetched += len(data)
                    return data, dict(resp.headers)
            except urllib.error.HTTPError as exc:
                if exc.code in (404, 410):
                    return None
                if exc.code == 416:  # a suffix longer than the object: the object is truncated
                    return b"", {"Content-Range": "bytes */0"}
                if exc.code < 500 and exc.code != 429:
                    raise StoreError(f"{url} answered HTTP {exc.code}; check the URL and access rights") from exc
                last = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = exc
            time.sleep(0.2 * 2**attempt)
        raise StoreUnreachableError(
            f"cannot fetch {url} after {self.retries} tries ({last}); check that "
            "the server is up and the URL names a store"
        )

    def get(self, key: str) -> bytes | None:
        got = self._request(key, {})
        return None if got is None else got[0]

    def get_range(self, key: str, start: int, length: int) -> bytes:
        got = self._request(key, {"Range": f"bytes={start}-{start + length - 1}"})
        if got is None:
            raise StoreError(f"{self.location}{key} vanished while being read")
        data, headers = got
        # A server that ignores Range answers 200 with the whole object: take the range from it.
        return data if "Content-Range" in headers else data[start : start + length]

    def get_suffix(self, key: str, length: int) -> tuple[bytes, int] | None:
        got = self._request(key, {"Range": f"bytes=-{length}"})
        if got is None:
            return None
        data, headers = got
        total = headers.get("Content-Range", "").rpartition("/")[2]
        size = int(total) if total.isdigit() else len(data)  # a server that ignored the range
        return data[-length:], size


def _aws_credentials() -> bool:
    """Whether AWS credentials are configured (environment, profile, instance role): then S3 reads
    are signed, so private buckets work; else anonymous, as public embedding buckets expect."""
    try:
        import botocore.session

        return botocore.session.Session().get_credentials() is not None
    except Exception:
        return False


#: Bounds on an object store that stops answering: botocore's own retries (2 attempts) inside
#: s3fs's (2), a connect and a read timeout each: at most about a minute and a half, then an
#: error, never a hang.
S3_RETRIES = 2
S3_CONFIG = {"connect_timeout": 5, "read_timeout": 20, "retries": {"max_attempts": 2, "mode": "standard"}}


def url_fs(url: str, **options: Any) -> tuple[Any, str]:
    """``fsspec.core.url_to_fs`` with the bounds above on ``s3://`` (ImportError, ValueError as
    fsspec raises them)."""
    import fsspec

    if url.startswith("s3://"):
        options = {"config_kwargs": S3_CONFIG, **options}
    fs, root = fsspec.core.url_to_fs(url, **options)
    if url.startswith("s3://"):
        fs.retries = S3_RETRIES
    return fs, root


class FsspecSource:
    """Any fsspec URL (``s3://``, ``gs://``, ``memory://``) whose filesystem package is installed."""

    def __init__(self, url: str) -> None:
        try:
            options = {"anon": not _aws_credentials()} if url.startswith("s3://") else {}
            self.fs, root = url_fs(url, **options)
        except (ImportError, ValueError) as exc:
            raise StoreError(
                f"cannot open {url}: {exc}; install the fsspec filesystem for this protocol "
                "(s3fs for s3://, gcsfs for gs://)"
            ) from exc
        self.root = root.rstrip("/") + "/"
        self.location = url

    def get(self, key: str) -> bytes | None:
        try:
            return self.fs.cat_file(self.root + check_key(key))
        except FileNotFoundError:
            return None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self.fs.cat_file(self.root + check_key(key), start=start, end=start + length)

    def get_suffix(self, key: str, length: int) -> tuple[bytes, int] | None:
        path = self.root + check_key(key)
        try:
            size = self.fs.size(path)
        except FileNotFoundError:
            return None
        return self.fs.cat_file(path, start=max(0, size - length), end=size), size

    def list_dir(self, prefix: str) -> list[str]:
        folder = self.root + check_key(prefix.rstrip("/")) if prefix else self.root.rstrip("/")
        try:
            return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(folder, detail=False))
        except FileNotFoundError:
            return []


def listed_metadata(source: Any, is_group: Any) -> dict[str, dict] | None:
    """{path: zarr.json document} of every top-level group ``is_group(name)`` accepts and of its
    arrays, gathered by listing: the consolidated metadata a store without any would have. None
    where the source cannot list (plain HTTP)."""
    import json

    if not hasattr(source, "list_dir"):
        return None
    out: dict[str, dict] = {}
    for group in source.list_dir(""):
        if not is_group(group) or (raw := source.get(f"{group}/zarr.json")) is None:
            continue
        out[group] = json.loads(raw)
        for child in source.list_dir(group + "/"):
            raw = source.get(f"{group}/{child}/zarr.json")
            if raw is not None:
                out[f"{group}/{child}"] = json.loads(raw)
    return out


def is_url(location: str | os.PathLike) -> bool:
    """A remote location (``http(s)://``, ``s3://``, …); a path or ``file://`` URL is local."""
    text = os.fspath(location)
    return "://" in text and not text.startswith("file://")


def open_source(location: str | os.PathLike) -> ByteSource:
    """The byte source of a store location: a path, ``file://``, ``http(s)://`` or an fsspec URL."""
    text = os.fspath(location)
    if text.startswith(("http://", "https://")):
        return HttpSource(text)
    if is_url(text):
        return FsspecSource(text)
    return LocalSource(text.removeprefix("file://"))


class ZarrStoreSource:
    """Any ``zarr.abc.store.Store`` as a byte source — an Icechunk session's store, for one.

    Icechunk repositories are read at a snapshot, so they carry no consolidated metadata (none is
    needed for consistency); ``listed_metadata`` gathers the same map by listing the groups.
    """

    def __init__(self, store: Any, location: str, identity: str = "") -> None:
        self.store, self.location = store, location.rstrip("/") + "/"
        self.identity = identity  # what names these bytes for good (an Icechunk snapshot), if anything

    def _get(self, key: str, byte_range=None) -> bytes | None:
        from zarr.core.buffer import default_buffer_prototype
        from zarr.core.sync import sync

        buf = sync(self.store.get(check_key(key), default_buffer_prototype(), byte_range))
        return None if buf is None else buf.to_bytes()

    def get(self, key: str) -> bytes | None:
        return self._get(key)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        from zarr.abc.store import RangeByteRequest

        data = self._get(key, RangeByteRequest(start, start + length))
        if data is None:
            raise StoreError(f"{self.location}{key} vanished while being read")
        return data

    def get_suffix(self, key: str, length: int) -> tuple[bytes, int] | None:
        from zarr.abc.store import RangeByteRequest
        from zarr.core.sync import sync

        try:
            size = sync(self.store.getsize(check_key(key)))
        except (FileNotFoundError, KeyError):
            return None
        data = self._get(key, RangeByteRequest(max(0, size - length), size))
        return None if data is None else (data, size)

    def list_dir(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` ("" for the root, else ending in "/")."""
        from zarr.core.sync import sync

        async def names() -> list[str]:
            return [n async for n in self.store.list_dir(prefix)]

        return sync(names())


# Public buckets of published embeddings and their regions (read anonymously).
PUBLIC_BUCKETS = {"tessera-embeddings": "us-west-2"}


def _icechunk_s3(bucket: str) -> dict[str, Any]:
    """Icechunk's S3 settings as boto's environment gives them: the endpoint (an S3-compatible
    store), the region, and signed reads where credentials exist, else anonymous ones."""
    # The public buckets are on AWS itself: an endpoint set for another store (Source Coop's, for the
    # global store's plain copy) must not redirect them.
    endpoint = (
        None
        if bucket in PUBLIC_BUCKETS
        else os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    out: dict[str, Any] = {"region": PUBLIC_BUCKETS.get(bucket, region or "us-east-1")}
    if endpoint:
        out.update(endpoint_url=endpoint, allow_http=endpoint.startswith("http://"), force_path_style=True)
        out["region"] = region or out["region"]
    if bucket not in PUBLIC_BUCKETS and _aws_credentials():
        out["from_env"] = True
    else:
        out["anonymous"] = True
    return out


def open_icechunk(location: str, branch: str = "main") -> ZarrStoreSource:
    """A read-only session on the Icechunk repository at ``location`` (a path or ``s3://`` URL,
    read anonymously), as a byte source. Needs the ``icechunk`` extra."""
    # Icechunk logs warnings about local storage to stderr from Rust; a reader has no use for them.
    os.environ.setdefault("ICECHUNK_LOG", "error")
    try:
        import icechunk
    except ImportError as exc:
        raise StoreError(
            f"{location} is an Icechunk repository; reading it needs the icechunk package: "
            "pip install 'tessera[icechunk]'"
        ) from exc
    text = location.rstrip("/")
    try:
        if text.startswith("s3://"):
            bucket, _, prefix = text.removeprefix("s3://").partition("/")
            storage = icechunk.s3_storage(bucket=bucket, prefix=prefix, **_icechunk_s3(bucket))
        elif is_url(text):
            raise StoreError(f"{location}: Icechunk repositories are read from a path or s3:// only")
        else:
            storage = icechunk.local_filesystem_storage(text.removeprefix("file://"))
        session = icechunk.Repository.open(storage).readonly_session(branch=branch)
    except icechunk.IcechunkError as exc:
        said = " ".join(str(exc).split())
        if "v2 format" in said:
            import sys

            raise StoreError(
                f"{location} is an Icechunk 2 repository (the published global store is one); icechunk "
                f"{icechunk.__version__} on Python {sys.version_info.major}.{sys.version_info.minor} reads Icechunk 1 "
                "only: install icechunk>=2.2, which needs Python >= 3.12"
            ) from exc
        raise StoreError(f"cannot open the Icechunk repository {location} ({str(exc).splitlines()[0]})") from exc
    return ZarrStoreSource(session.store, text, f"icechunk {text} snapshot {session.snapshot_id}")
