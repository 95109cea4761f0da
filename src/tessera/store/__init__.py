"""The embedding store in the published ``geoemb:`` Zarr convention: writing it (``zarr_store``),
its facts (``convention``), and reading its bytes directly (``shard_codec``, ``sources``).
NumPy + Zarr only (no torch).

>>> store = open_for_write("embeddings.zarr", provenance, 128)        # doctest: +SKIP
>>> writer = store.ensure(2024, Zone(31), provenance, 128)            # doctest: +SKIP
>>> writer.write_block(shard, window, q, scales, "cube-a")            # doctest: +SKIP
"""

from tessera.errors import StoreDamageError, StoreError, StoreUnreachableError
from tessera.store.layout import StoreLayout, Zone, blocks, lattice_window, northern_grid, place, shard_window
from tessera.store.manifest import BlockRecord, ManifestError, ShardManifest, block_checksum
from tessera.store.zarr_store import (
    Provenance,
    StoreWriter,
    ZoneWriter,
    build_dir,
    is_store,
    open_for_write,
)

__all__ = [
    "BlockRecord",
    "ManifestError",
    "Provenance",
    "ShardManifest",
    "StoreDamageError",
    "StoreError",
    "StoreLayout",
    "StoreUnreachableError",
    "StoreWriter",
    "Zone",
    "ZoneWriter",
    "block_checksum",
    "blocks",
    "build_dir",
    "is_store",
    "lattice_window",
    "northern_grid",
    "open_for_write",
    "place",
    "shard_window",
]
