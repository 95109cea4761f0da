"""Acquisition: Sentinel-2 L2A and Sentinel-1 RTC from a STAC catalogue (an API or a static
catalog on disk or over HTTP) onto the ROI's 10 m UTM grid, written as a d-pixel cube.

>>> from tessera.acquire import AcquireConfig, acquire
>>> summary = acquire((0.10, 52.19, 0.13, 52.21), 2024, "cube.zarr", AcquireConfig())  # doctest: +SKIP
"""

from tessera.acquire.catalogs import PROFILES, AcquireError, CatalogProfile
from tessera.acquire.run import AcquireConfig, AcquireSummary, acquire, region_grid, roi_bbox

__all__ = [
    "PROFILES",
    "AcquireConfig",
    "AcquireError",
    "AcquireSummary",
    "CatalogProfile",
    "acquire",
    "region_grid",
    "roi_bbox",
]
