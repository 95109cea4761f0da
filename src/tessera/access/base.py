"""The ground floor of ``access``: what every reader shares and nothing here depends on a reader.

The status vocabulary of a read, the value types reads return (``Region``, ``PointSample``), what
point reads take (``Points``), and the two interfaces the mosaic is written against: a
``Piece`` (anything with a grid that can read a window: a zone at one year, a geotessera tile)
and a ``Reader`` (a store or a tile directory that says which pieces cover a grid).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Union

import numpy as np
from affine import Affine

from tessera.errors import AccessError
from tessera.grid import Grid, Window

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "COVERAGE_KEY",
    "DIGESTS_KEY",
    "INCOMPLETE",
    "NODATA",
    "OUTSIDE",
    "STATUSES",
    "UNEMBEDDED",
    "VALID",
    "WATER",
    "AccessError",
    "Piece",
    "PointSample",
    "Points",
    "Reader",
    "Region",
    "status_counts",
]

#: What a read says of each pixel or point. ``valid``: a vector; ``unembedded``: NaN scale in a
#: store that declares NaN its no-data scale (the published global store: the depth rule refused
#: the pixel, or nothing was written there); ``water``: NaN scale in the convention (its water);
#: ``nodata``: +inf scale (nothing embedded there that year); ``incomplete``: the zone-year is not
#: in its group's ``years_complete`` (a gap in the publication, not "nothing there"); ``outside``:
#: no zone group or tile covers it.
VALID, UNEMBEDDED, WATER, NODATA, INCOMPLETE, OUTSIDE = (
    "valid",
    "unembedded",
    "water",
    "nodata",
    "incomplete",
    "outside",
)
STATUSES = (VALID, UNEMBEDDED, WATER, NODATA, INCOMPLETE, OUTSIDE)

#: The key under which ``tessera serve`` answers with a store's written blocks.
COVERAGE_KEY = "_tessera/coverage.json"
#: Under which it answers with each zone's recorded metadata digest (``{DIGESTS_KEY}/utm31.json``).
DIGESTS_KEY = "_tessera/metadata"

# What point reads take: an (N, 2) lon/lat array or list of pairs, a GeoJSON file, a GeoDataFrame.
Points = Union[np.ndarray, Sequence[Sequence[float]], str, os.PathLike, "gpd.GeoDataFrame"]


@dataclass(frozen=True)
class PointSample:
    """``values`` (N, D) float32 with NaN rows where there is no vector; ``status`` (N,) str, one
    of ``STATUSES``. Read for several years: (Y, N, D) and (Y, N). ``quality``, when asked for:
    each quality layer at the points, (N,) or (N, months) float32, NaN where not known."""

    values: np.ndarray
    status: np.ndarray
    quality: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in status_counts(self.status.ravel()).items() if n)
        return f"PointSample({self.values.shape[-2]:,} points × {self.values.shape[-1]} dims: {counts})"

    def to_dataframe(self, points: Any = None) -> Any:
        """A table of the sample: ``status``, ``e0`` … ``e{D-1}`` and any quality layers, beside the
        columns of ``points`` (the GeoDataFrame, DataFrame with lon/lat, or file the sample was read
        at, in the same order; a GeoDataFrame stays one, geometry kept)."""
        import pandas as pd

        from tessera.access.point_table import read_point_table, sample_table

        if self.values.ndim != 2:
            raise AccessError("a sample of several years: take one (values[i], status[i]) at a time")
        n = len(self.status)
        if points is None:
            out = sample_table(pd.DataFrame(index=range(n)), *_no_coords(n), self.status, self.values, self.quality)
            return out.drop(columns=["lon", "lat"])
        if isinstance(points, (str, os.PathLike)):
            lon, lat, table = read_point_table(points)
        elif isinstance(points, pd.DataFrame):
            from tessera.access.lonlat import as_lonlat

            table = points
            lon, lat = as_lonlat(points) if hasattr(points, "crs") else _no_coords(n)
        else:
            raise AccessError("points must be the file, DataFrame or GeoDataFrame the sample was read at")
        if len(table) != n:
            raise AccessError(f"{len(table)} rows given for a sample of {n} points; pass the points it was read at")
        geometry = getattr(table, "geometry", None) if hasattr(table, "crs") else None
        plain = table.drop(columns=table.geometry.name) if geometry is not None else table
        out = sample_table(plain, lon, lat, self.status, self.values, self.quality)
        if geometry is None:
            return out
        import geopandas as gpd

        return gpd.GeoDataFrame(out, geometry=geometry.reset_index(drop=True), crs=table.crs)


def _no_coords(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, np.nan), np.full(n, np.nan)


def status_counts(status: np.ndarray) -> dict[str, int]:
    """How many points have each status, every status named (zeros included), in ``STATUSES``
    order; the counts add up to the number of points."""
    unknown = set(np.unique(status).tolist()) - set(STATUSES)
    if unknown:
        raise AccessError(f"statuses {sorted(unknown)} are not among {list(STATUSES)}")
    return {s: int((status == s).sum()) for s in STATUSES}


@dataclass(frozen=True)
class Region:
    """``data`` (H, W, D) float32 (NaN = no data) on ``grid`` (CRS, transform, size); read for
    several ``years``, (Y, H, W, D) in their order."""

    data: np.ndarray
    grid: Grid
    years: tuple[int, ...] | None = None
    #: When asked for: each quality layer on ``grid``, (H, W) or (H, W, months) float32.
    quality: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        h, w, d = self.data.shape[-3:]
        flat = self.data.reshape(-1, d)
        valid = float((~np.isnan(flat).any(axis=1)).mean()) if len(flat) else 0.0
        years = f", years {list(self.years)}" if self.years else ""
        return f"Region({h} × {w} px × {d} dims on {self.grid.crs}{years}, {valid:.0%} with data)"

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    @property
    def crs(self) -> str:
        return self.grid.crs


class Piece(Protocol):
    """One input of a mosaic at one year and depth: a grid and the values of any window inside it."""

    @property
    def grid(self) -> Grid: ...

    @property
    def embed_dim(self) -> int: ...

    def read(self, window: Window) -> np.ndarray:
        """(h, w, embed_dim) float32, NaN where there is no value."""
        ...


class Reader(Protocol):
    """What a reader of embeddings provides; ``reads.RegionReads`` builds every read on it."""

    @property
    def location(self) -> str:
        """Where the embeddings are, as the user named them."""
        ...

    @property
    def years(self) -> list[int]: ...

    def check_year(self, year: int) -> None: ...

    def check_depth(self, depth: int | None) -> None: ...

    def embed_dim(self, year: int, depth: int | None = None) -> int: ...

    def pieces(self, year: int, grid: Grid, depth: int | None = None) -> Sequence[Piece]:
        """The pieces that may cover ``grid``, in priority order (the first valid pixel wins)."""
        ...

    def footprints(self) -> list[dict]:
        """Where embeddings are written, as lon/lat boxes (for coverage plots)."""
        ...

    def sample_year(self, points: Points, year: int, depth: int | None = None) -> PointSample:
        """Embeddings at points for one year."""
        ...
