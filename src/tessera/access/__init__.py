"""Read embeddings for places and years: points, regions, patches. NumPy, Zarr, pyproj, rasterio;
never torch.

>>> from tessera.access import open_store
>>> store = open_store("embeddings.zarr")                          # doctest: +SKIP
>>> vec, status = store.probe(0.12, 52.2, 2024)                    # (128,) float32, "valid"
>>> vec16, _ = store.probe(0.12, 52.2, 2024, depth=16)              # a Matryoshka prefix
>>> pts = store.sample_points([[0.12, 52.2], [0.13, 52.21]], 2024) # .values (2, 128), .status
>>> reg = store.read_region((0.10, 52.19, 0.14, 52.21), 2024)      # .data (H, W, 128), .grid
"""

from tessera.access.points import PointSample, sample_points
from tessera.access.reader import (
    NODATA,
    OUTSIDE,
    VALID,
    WATER,
    AccessError,
    RegionReads,
    StoreReader,
    ZoneReader,
    open_store,
)
from tessera.access.region import Region, iter_region, read_grid, read_patch, read_region, target_grid

__all__ = [
    "NODATA",
    "OUTSIDE",
    "VALID",
    "WATER",
    "AccessError",
    "PointSample",
    "Region",
    "RegionReads",
    "StoreReader",
    "ZoneReader",
    "iter_region",
    "open_store",
    "read_grid",
    "read_patch",
    "read_region",
    "sample_points",
    "target_grid",
]
