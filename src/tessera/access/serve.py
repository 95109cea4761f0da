"""``tessera serve``: a store as static, read-only files over HTTP — what ``open_store(url)`` and
the official client need (geotessera's URL route takes https only; over plain http give it
``ObjectStore(HTTPStore.from_url(url, client_options={"allow_http": True}))``): GET and HEAD with
byte ranges (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) so readers fetch shard indexes and inner
chunks only.

Loopback only unless told otherwise: the server has no authentication. Only regular files whose
real path lies inside the store are served (no symlinks out of it, no hidden or lock files);
``_tessera/coverage.json`` lists the written blocks (from the fill records beside the store, which
are themselves not served), so ``tessera info URL`` can count them, and ``_tessera/metadata/utm31.json``
each zone's recorded metadata digest, so readers notice edited metadata; malformed paths (NUL, ``..``)
get 400; missing and hidden files 404, since Zarr clients probe for Zarr v2's ``.zgroup``. No
directory listings: readers use the consolidated metadata; a browser opening the printed address
gets a page saying how to read the store. A connection idle for 30 s is closed,
and at most 64 are open at once.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tessera.access.base import COVERAGE_KEY, DIGESTS_KEY
from tessera.access.dispatch import open_store
from tessera.access.store_reader import StoreReader
from tessera.errors import AccessError, StoreError
from tessera.store import build_dir
from tessera.store.sources import LocalSource

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_DIGEST = re.compile(r"/" + re.escape(DIGESTS_KEY) + r"/(utm\d\d)\.json")
IDLE_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 64  # open at once; more are closed at once rather than given a thread each


class _Handler(BaseHTTPRequestHandler):
    root: Path  # set on the subclass made per server
    coverage: dict  # the written blocks, served as _tessera/coverage.json
    records: bool  # whether the store has its records (fill records, metadata digests) beside it
    protocol_version = "HTTP/1.1"
    # A connection that sends nothing for this long is closed: half-open ones must not pin threads.
    timeout = IDLE_TIMEOUT_S

    def log_message(self, format: str, *args) -> None:
        pass  # the CLI prints one line on start; per-request logs would drown it

    def _resolve(self) -> Path | None:
        raw = urllib.parse.urlsplit(self.path).path
        key = urllib.parse.unquote(raw).lstrip("/")
        parts = key.split("/")
        if "\0" in key or "\\" in key or ".." in parts:
            self.send_error(HTTPStatus.BAD_REQUEST, "bad path")
            return None
        try:
            path = (self.root / key).resolve()
            inside = path.is_relative_to(self.root) and path.is_file()
        except OSError:  # a name too long for the file system, a loop of links: not a store file
            inside = False
        # Hidden names are "not found", not malformed: zarr clients probe for v2's ``.zgroup``. The
        # names are checked after links are followed too: a link inside the store may point at one.
        real = path.relative_to(self.root).parts if inside else ()
        hidden = any(p.startswith(".") or p.endswith(".lock") for p in (*parts, *real))
        if hidden or not inside:
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return path

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        asked = urllib.parse.urlsplit(self.path).path
        if asked == "/" and "text/html" in self.headers.get("Accept", ""):  # a person, in a browser
            self._send_bytes(self._index_page(), body, "text/html; charset=utf-8")
            return
        if asked == "/" + COVERAGE_KEY:
            self._send_bytes(json.dumps(self.coverage).encode(), body)
            return
        digest = _DIGEST.fullmatch(asked)
        if digest is not None:  # read now: a writer adding a year records a new one
            record = build_dir(self.root) / "metadata" / f"{digest.group(1)}.json"
            raw = record.read_bytes() if self.records and record.is_file() else None
            if raw is None:
                self.send_error(HTTPStatus.NOT_FOUND)
            else:
                self._send_bytes(raw, body)
            return
        path = self._resolve()
        if path is None:
            return
        size = path.stat().st_size
        start, end, status = 0, size, HTTPStatus.OK
        header = self.headers.get("Range")
        m = _RANGE.match(header.strip()) if header else None
        # A range set that is not one well-formed byte range (several ranges, "bytes=5-3", another
        # unit) is ignored, as RFC 9110 asks: the whole file, 200. Only a well-formed range that
        # lies past the end is unsatisfiable (416).
        if m and (m.group(1) or m.group(2)) and not (m.group(1) and m.group(2) and int(m.group(2)) < int(m.group(1))):
            if m.group(1):
                start = int(m.group(1))
                end = min(size, int(m.group(2)) + 1) if m.group(2) else size
            else:
                start = max(0, size - int(m.group(2)))
            if start >= size or start >= end:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = HTTPStatus.PARTIAL_CONTENT
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start))
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        if body:
            with open(path, "rb") as f:
                self.wfile.write(os.pread(f.fileno(), end - start, start))

    def _index_page(self) -> bytes:
        """What the printed address shows a browser: how to read the store (readers never ask
        for ``/``; without ``Accept: text/html`` it stays 404, as a store's root key is)."""
        url = f"http://{html.escape(self.headers.get('Host', 'HOST:PORT'))}/"
        return (
            f"<!doctype html><title>tessera store</title><h1>{html.escape(self.root.name)}</h1>"
            "<p>An embedding store, served read-only. Read it with</p>"
            f"<pre>tessera info {url}\ntessera sample {url} points.csv --year YEAR -o points.csv</pre>"
            f'<p>or, in Python, <code>tessera.access.open_store("{url}")</code>.</p>'
        ).encode()

    def _send_bytes(self, data: bytes, body: bool, kind: str = "application/json") -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


def make_server(store: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server for ``store`` (checked to be one); call ``serve_forever()`` on it."""
    reader = open_store(store)
    if not isinstance(reader, StoreReader) or not isinstance(reader.source, LocalSource):
        raise StoreError(f"{store} is not a local embedding store; serve a store directory")
    try:
        coverage = reader.coverage()  # from the fill records beside the store, which are not served
    except AccessError:
        coverage = None
    root = reader.source.root.resolve()
    records = build_dir(root).is_dir()
    handler = type("StoreHandler", (_Handler,), {"root": root, "coverage": coverage, "records": records})
    server = _Server((host, port), handler)
    server.daemon_threads = True
    return server


class _Server(ThreadingHTTPServer):
    """A thread per connection, but at most ``MAX_CONNECTIONS`` of them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()
