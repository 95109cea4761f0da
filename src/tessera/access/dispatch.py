"""``open_store``: one entry for every kind of embeddings a user holds, chosen by what is there."""

from __future__ import annotations

import os
from pathlib import Path

from tessera.access.reads import RegionReads
from tessera.access.store_reader import StoreReader
from tessera.access.tile_layout import EMBEDDINGS_DIR
from tessera.access.tiles import GeotesseraReader
from tessera.errors import InputNotFoundError
from tessera.store.cache import cached
from tessera.store.sources import ByteSource, is_url, open_icechunk, open_source


def open_store(location: str | os.PathLike) -> RegionReads:
    """Open embeddings for reading: a store in the ``geoemb:`` convention (local path, ``file://``,
    ``http(s)://`` or an fsspec URL such as ``s3://`` when its filesystem package is installed; an
    Icechunk repository ``*.icechunk`` holding one, with the ``icechunk`` extra), or a directory in
    the geotessera tile layout.

    >>> store = open_store("embeddings.zarr")                  # doctest: +SKIP
    >>> store = open_store("http://127.0.0.1:8000/")           # doctest: +SKIP
    >>> store.years                                             # doctest: +SKIP
    [2024]
    """
    text = os.fspath(location)
    if not is_url(text):
        path = text.removeprefix("file://")
        if not os.path.exists(path):
            raise InputNotFoundError(f"no embedding store at {path}")
        if os.path.isdir(os.path.join(path, EMBEDDINGS_DIR)):
            return GeotesseraReader(Path(path))
    if text.rstrip("/").endswith(".icechunk"):
        ice = open_icechunk(text)
        source: ByteSource = ice
        identity = ice.identity  # a snapshot never changes: everything read from it can be kept
    else:
        source = open_source(text)
        identity = ""
    if not is_url(text):
        return StoreReader(source)

    def identity_of() -> str:
        """What names these bytes: the snapshot, or the root metadata as fetched now (asked for only
        where a cache is in use)."""
        import hashlib

        return identity or f"{text} {hashlib.blake2b(source.get('zarr.json') or b'', digest_size=16).hexdigest()}"

    return StoreReader(cached(source, identity_of))
