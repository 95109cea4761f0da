"""``tessera serve``: a store as static, read-only files over HTTP — enough for ``open_store(url)``.

Loopback only unless told otherwise: the server has no authentication. GET and HEAD only; paths
are confined to the store directory by ``SimpleHTTPRequestHandler``'s own path translation.
"""

from __future__ import annotations

import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from tessera.access.reader import StoreReader, open_store
from tessera.store.errors import StoreError
from tessera.store.sources import LocalSource


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 — the base class's name
        pass  # the CLI prints one line on start; per-request logs would drown it

    def list_directory(self, path):  # listings are not part of the protocol: readers use the manifest
        self.send_error(404, "no listings")
        return None


def make_server(store: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server for ``store`` (checked to be one); call ``serve_forever()`` on it."""
    reader = open_store(store)
    if not isinstance(reader, StoreReader) or not isinstance(reader.source, LocalSource):
        raise StoreError(f"{store} is not a local embedding store; serve a store directory")
    handler = functools.partial(_Handler, directory=str(reader.source.root))
    return ThreadingHTTPServer((host, port), handler)
