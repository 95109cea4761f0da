"""The embedding store: int8 embeddings + per-pixel scales in Zarr v3, one group per year and UTM
zone, with a manifest of checksummed blocks. NumPy + Zarr only (no torch).

>>> store, _ = open_for_write("embeddings.zarr")                      # doctest: +SKIP
>>> group = store.group(2024, Zone(30, True))                         # doctest: +SKIP
>>> q, scales = group.read(Window(row, col, 256, 256))                # doctest: +SKIP
"""

from tessera.store.layout import StoreLayout, Zone, blocks, group_path, place, shard_window
from tessera.store.manifest import BlockRecord, ManifestError, ShardManifest, block_checksum
from tessera.store.zarr_store import (
    EmbeddingStore,
    Provenance,
    StoreError,
    ZoneGroup,
    is_store,
    open_for_write,
)

__all__ = [
    "BlockRecord",
    "EmbeddingStore",
    "ManifestError",
    "Provenance",
    "ShardManifest",
    "StoreError",
    "StoreLayout",
    "Zone",
    "ZoneGroup",
    "block_checksum",
    "blocks",
    "group_path",
    "is_store",
    "open_for_write",
    "place",
    "shard_window",
]
