"""Read embeddings for places and years: points, regions, patches. NumPy, Zarr, pyproj, rasterio;
never torch.

>>> from tessera.access import open_store
>>> store = open_store("embeddings.zarr")                          # doctest: +SKIP
>>> vec, status = store.probe(0.12, 52.2, 2024)                    # (128,) float32, "valid"
>>> vec16, _ = store.probe(0.12, 52.2, 2024, depth=16)              # a Matryoshka prefix
>>> pts = store.sample_points([[0.12, 52.2], [0.13, 52.21]], 2024) # .values (2, 128), .status
>>> reg = store.read_region((0.10, 52.19, 0.14, 52.21), 2024)      # .data (H, W, 128), .grid
>>> both = store.read_region_years((0.10, 52.19, 0.14, 52.21), [2023, 2024])  # (2, H, W, 128)

The package is built in floors, each importing only those below it: ``base`` (statuses, value
types, the ``Reader`` and ``Piece`` interfaces) and ``chunks`` (shard bytes → arrays); ``zone``,
``points``, ``region`` (the mosaic), ``tile_layout``, ``coverage``; ``reads`` (every read, for one
year or several); the readers ``store_reader`` and ``tiles``; ``dispatch`` (``open_store``); and
above them exports, views and the server.
"""

from typing import Any

from tessera.access.base import NODATA, OUTSIDE, STATUSES, VALID, WATER, PointSample, Reader, Region, status_counts
from tessera.access.dispatch import open_store
from tessera.access.points import sample_points
from tessera.access.reads import RegionReads
from tessera.access.region import iter_region, read_grid, read_patch, read_region, target_grid
from tessera.access.store_reader import StoreReader
from tessera.access.zone import ZoneReader
from tessera.errors import AccessError


def dataset(
    store: StoreReader | str,
    bbox: tuple[float, float, float, float] | None = None,
    zone: int | str | None = None,
    depth: int | None = None,
    chunk_px: int | None = None,
) -> Any:
    """A store (or its window under ``bbox``) as a lazy ``xarray.Dataset`` with a ``.tessera``
    accessor (``tessera.access.xarray_view.dataset``; imported on first use: xarray is slow to import)."""
    from tessera.access.xarray_view import dataset as view

    return view(store, bbox, zone, depth, chunk_px)


__all__ = [
    "NODATA",
    "OUTSIDE",
    "STATUSES",
    "VALID",
    "WATER",
    "AccessError",
    "PointSample",
    "Reader",
    "Region",
    "RegionReads",
    "StoreReader",
    "ZoneReader",
    "dataset",
    "iter_region",
    "open_store",
    "read_grid",
    "read_patch",
    "read_region",
    "sample_points",
    "status_counts",
    "target_grid",
]
