"""Errors of the embedding store (re-exported by ``tessera.store``)."""

from __future__ import annotations

from tessera.errors import TesseraError


class StoreError(TesseraError, ValueError):
    """A location is not a usable embedding store, or a store does not fit what is asked of it."""


class StoreDamageError(StoreError):
    """Stored bytes fail their checks (crc32c, size, a missing half of a shard pair). The message
    names the shard: a damaged store never yields numbers."""


class StoreUnreachableError(StoreError, ConnectionError):
    """A remote store did not answer after bounded retries."""
