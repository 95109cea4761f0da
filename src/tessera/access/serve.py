"""``tessera serve``: a store as static, read-only files over HTTP — what ``open_store(url)`` and
the official client need (geotessera's URL route takes https only; over plain http give it
``ObjectStore(HTTPStore.from_url(url, client_options={"allow_http": True}))``): GET and HEAD with
byte ranges (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``) so readers fetch shard indexes and inner
chunks only.

Loopback only unless told otherwise: the server has no authentication. Only regular files whose
real path lies inside the store are served (no symlinks out of it, no hidden or lock files);
``_tessera/coverage.json`` lists the written blocks (from the fill records beside the store, which
are themselves not served), so ``tessera info URL`` can count them; malformed paths (NUL, ``..``)
get 400; missing and hidden files 404, since Zarr clients probe for Zarr v2's ``.zgroup``. No
directory listings: readers use the consolidated metadata.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tessera.access.base import COVERAGE_KEY
from tessera.access.dispatch import open_store
from tessera.access.store_reader import StoreReader
from tessera.errors import AccessError, StoreError
from tessera.store.sources import LocalSource

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    root: Path  # set on the subclass made per server
    coverage: dict  # the written blocks, served as _tessera/coverage.json
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        pass  # the CLI prints one line on start; per-request logs would drown it

    def _resolve(self) -> Path | None:
        raw = urllib.parse.urlsplit(self.path).path
        key = urllib.parse.unquote(raw).lstrip("/")
        parts = key.split("/")
        if "\0" in key or "\\" in key or ".." in parts:
            self.send_error(HTTPStatus.BAD_REQUEST, "bad path")
            return None
        path = (self.root / key).resolve()
        # Hidden names are "not found", not malformed: zarr clients probe for v2's ``.zgroup``.
        hidden = any(p.startswith(".") for p in parts)
        if hidden or not path.is_relative_to(self.root) or not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return path

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        if urllib.parse.urlsplit(self.path).path == "/" + COVERAGE_KEY:
            self._send_bytes(json.dumps(self.coverage).encode(), body)
            return
        path = self._resolve()
        if path is None:
            return
        size = path.stat().st_size
        start, end, status = 0, size, HTTPStatus.OK
        header = self.headers.get("Range")
        if header:
            m = _RANGE.match(header.strip())
            if not m or (not m.group(1) and not m.group(2)):
                self.send_error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                return
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

    def _send_bytes(self, data: bytes, body: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
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
    handler = type("StoreHandler", (_Handler,), {"root": reader.source.root.resolve(), "coverage": coverage})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
