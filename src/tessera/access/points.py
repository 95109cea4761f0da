"""Points as readers take them: lon/lat arrays or pairs, GeoJSON point files, GeoDataFrames."""

from __future__ import annotations

from tessera.access.base import NODATA, OUTSIDE, VALID, WATER, Points, PointSample, Reader
from tessera.access.lonlat import as_lonlat
from tessera.grid import check_lonlat

__all__ = [
    "NODATA",
    "OUTSIDE",
    "VALID",
    "WATER",
    "PointSample",
    "Points",
    "as_lonlat",
    "check_lonlat",
    "sample_points",
]


def sample_points(store: Reader, points: Points, year: int, depth: int | None = None) -> PointSample:
    """Embeddings at points for one year (``store.sample_points``); ``outside`` where nothing covers."""
    return store.sample_year(points, year, depth)
