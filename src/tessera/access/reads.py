"""The reads every reader offers, built on the ``base.Reader`` interface it implements: points,
probes, regions, strips and patches, each for one year or (a second method, ``*_years``) for a list
of years, whose result gains a leading year axis. A result's shape never depends on whether an
int or a list was passed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from tessera.access import region as mosaic
from tessera.access.base import Piece, Points, PointSample, Region
from tessera.errors import AccessError
from tessera.grid import BBox, Grid


def _one_year(year: object, method: str) -> int:
    if not isinstance(year, int | np.integer) or isinstance(year, bool):
        raise AccessError(f"{method} takes one year (an int), got {year!r}; for several years use {method}_years")
    return int(year)


def _year_list(years: Sequence[int], method: str) -> list[int]:
    if isinstance(years, int | np.integer):
        raise AccessError(f"{method}_years takes a list of years, got {years!r}; for one year use {method}")
    out = [int(y) for y in years]
    if not out:
        raise AccessError(f"{method}_years was given no year; give a list of years")
    return out


def _stack(parts: Sequence[Region], years: list[int]) -> Region:
    return Region(np.stack([p.data for p in parts]), parts[0].grid, tuple(years))


class RegionReads:
    """The reads shared by every reader. A subclass implements the ``base.Reader`` interface:
    ``location``, ``years``, ``check_year``, ``check_depth``, ``embed_dim``, ``pieces``,
    ``footprints`` and ``sample_year``."""

    # -- the interface (``base.Reader``) ---------------------------------------------------------
    @property
    def location(self) -> str:
        raise NotImplementedError

    @property
    def years(self) -> list[int]:
        raise NotImplementedError

    def check_year(self, year: int) -> None:
        raise NotImplementedError

    def check_depth(self, depth: int | None) -> None:
        raise NotImplementedError

    def embed_dim(self, year: int, depth: int | None = None) -> int:
        raise NotImplementedError

    def pieces(self, year: int, grid: Grid, depth: int | None = None) -> Sequence[Piece]:
        raise NotImplementedError

    def footprints(self) -> list[dict]:
        raise NotImplementedError

    def sample_year(self, points: Points, year: int, depth: int | None = None) -> PointSample:
        raise NotImplementedError

    def sample_quality(self, points: Points, year: int) -> dict[str, np.ndarray]:
        raise AccessError(f"{self.location} has no quality layers (the published global TESSERA store has them)")

    def grid_quality(self, grid: Grid, year: int) -> dict[str, np.ndarray]:
        raise AccessError(f"{self.location} has no quality layers (the published global TESSERA store has them)")

    # -- one year --------------------------------------------------------------------------------
    def sample_points(self, points: Points, year: int, depth: int | None = None, quality: bool = False) -> PointSample:
        """Embeddings at points: values (N, D) float32, status (N,); with ``quality``, the store's
        quality layers at the points too (``PointSample.quality``)."""
        year = _one_year(year, "sample_points")
        got = self.sample_year(points, year, depth)
        if not quality:
            return got
        return PointSample(got.values, got.status, self.sample_quality(points, year))

    def probe(self, lon: float, lat: float, year: int, depth: int | None = None) -> tuple[np.ndarray, str]:
        """(vector (D,) float32, status) at one point: ``valid``, ``water``, ``nodata`` or ``outside``."""
        s = self.sample_year([[lon, lat]], _one_year(year, "probe"), depth)
        return s.values[0], str(s.status[0])

    def read_region(
        self,
        bbox: BBox,
        year: int,
        crs: str | None = None,
        resolution: float | None = None,
        depth: int | None = None,
        quality: bool = False,
    ) -> Region:
        """A lon/lat bbox mosaicked across blocks and zones: data (H, W, D); with ``quality``, the
        store's quality layers on the same grid (``Region.quality``)."""
        year = _one_year(year, "read_region")
        region = mosaic.read_region(self, bbox, year, crs, resolution, depth=depth)
        if not quality:
            return region
        return Region(region.data, region.grid, quality=self.grid_quality(region.grid, year))

    def iter_region(
        self,
        bbox: BBox,
        year: int,
        crs: str | None = None,
        resolution: float | None = None,
        strip_rows: int = 256,
        depth: int | None = None,
    ) -> Iterator[Region]:
        """The same region in strips of ``strip_rows`` rows, top to bottom."""
        year = _one_year(year, "iter_region")
        return mosaic.iter_region(self, bbox, year, crs, resolution, strip_rows, depth=depth)

    def read_patch(self, lon: float, lat: float, year: int, size_px: int, depth: int | None = None) -> Region:
        """A ``size_px`` square centred on a point, on its zone's 10 m lattice."""
        return mosaic.read_patch(self, lon, lat, _one_year(year, "read_patch"), size_px, depth=depth)

    # -- several years: a leading year axis ------------------------------------------------------
    def sample_points_years(self, points: Points, years: Sequence[int], depth: int | None = None) -> PointSample:
        """values (Y, N, D), status (Y, N)."""
        parts = [self.sample_year(points, y, depth) for y in _year_list(years, "sample_points")]
        return PointSample(np.stack([p.values for p in parts]), np.stack([p.status for p in parts]))

    def probe_years(
        self, lon: float, lat: float, years: Sequence[int], depth: int | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """((Y, D) float32, [status per year])."""
        s = self.sample_points_years([[lon, lat]], _year_list(years, "probe"), depth)
        return s.values[:, 0], [str(v) for v in s.status[:, 0]]

    def read_region_years(
        self,
        bbox: BBox,
        years: Sequence[int],
        crs: str | None = None,
        resolution: float | None = None,
        depth: int | None = None,
    ) -> Region:
        """data (Y, H, W, D), ``years`` in the order given."""
        ys = _year_list(years, "read_region")
        return _stack([mosaic.read_region(self, bbox, y, crs, resolution, depth=depth) for y in ys], ys)

    def iter_region_years(
        self,
        bbox: BBox,
        years: Sequence[int],
        crs: str | None = None,
        resolution: float | None = None,
        strip_rows: int = 256,
        depth: int | None = None,
    ) -> Iterator[Region]:
        """Strips of (Y, rows, W, D)."""
        ys = _year_list(years, "iter_region")
        strips = zip(
            *(mosaic.iter_region(self, bbox, y, crs, resolution, strip_rows, depth=depth) for y in ys), strict=True
        )
        return (_stack(parts, ys) for parts in strips)

    def read_patch_years(
        self, lon: float, lat: float, years: Sequence[int], size_px: int, depth: int | None = None
    ) -> Region:
        """data (Y, size_px, size_px, D)."""
        ys = _year_list(years, "read_patch")
        return _stack([mosaic.read_patch(self, lon, lat, y, size_px, depth=depth) for y in ys], ys)
