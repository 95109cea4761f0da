"""A store in the published ``geoemb:`` convention, opened for reading: ours, or one geotessera's
writer built, at a path, ``file://``, ``http(s)://`` or an fsspec URL.

Everything is found from the root's inline consolidated metadata (one request), as the official
reader does: HTTP servers cannot list directories.
"""

from __future__ import annotations

import json

import numpy as np

from tessera.access.base import OUTSIDE, Points, PointSample
from tessera.access.coverage import coverage_rows
from tessera.access.points import as_lonlat
from tessera.access.reads import RegionReads
from tessera.access.zone import ZoneReader, ZoneYear
from tessera.errors import AccessError, StoreError, TesseraError
from tessera.grid import Grid, Window, check_lonlat, lonlat_to, utm_zone_numbers
from tessera.store import Zone
from tessera.store import convention as cv
from tessera.store.sources import ByteSource, ZarrStoreSource


class StoreReader(RegionReads):
    """A convention store opened for reading. Use :func:`open_store`."""

    def __init__(self, source: ByteSource) -> None:
        self.source = source
        raw = source.get("zarr.json")
        if raw is None:
            raise StoreError(f"{source.location} has no zarr.json: it is not a Zarr store")
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise StoreError(f"{source.location}/zarr.json is not JSON ({exc}); the store is damaged") from exc
        self.attrs = doc.get("attributes") or {}
        if doc.get("node_type") != "group" or "geoemb:type" not in self.attrs:
            raise StoreError(
                f"{source.location} is not an embedding store in the geoemb: convention "
                "(no geoemb: attributes in its root zarr.json)"
            )
        consolidated = (doc.get("consolidated_metadata") or {}).get("metadata")
        if consolidated is None and isinstance(source, ZarrStoreSource):
            consolidated = source.listed_metadata()
            if not consolidated and any(k.endswith(("N", "S")) for k in source.list_dir("")):
                raise StoreError(
                    f"{source.location} holds zones by hemisphere (30N, 30S, band last), the "
                    "dClimate v1.1 layout, which tessera does not read yet; open the same "
                    "version's plain Zarr store in the geoemb: convention"
                )
        if consolidated is None:
            raise StoreError(
                f"{source.location} has no consolidated metadata, which readers over HTTP need; "
                "run zarr.consolidate_metadata on it (or `geotessera-registry zarr-consolidate`)"
            )
        self.dims = int(self.attrs.get("geoemb:dimensions", cv.N_BANDS))
        self.depths = {int(d["dimensions"]): str(d["array"]) for d in self.attrs.get("geoemb:depths", [])}
        self.depths.setdefault(self.dims, cv.EMBEDDINGS)
        names = sorted(
            k for k, v in consolidated.items() if "/" not in k and k.startswith("utm") and v.get("node_type") == "group"
        )
        self._zones = {Zone.from_name(n): ZoneReader(source, n, consolidated, self.dims, self.depths) for n in names}

    @property
    def location(self) -> str:
        return self.source.location

    @property
    def years(self) -> list[int]:
        """The time axis, in stored order (the same in every zone)."""
        return next(iter(self._zones.values())).years if self._zones else []

    @property
    def available_depths(self) -> list[int]:
        return sorted(self.depths)

    def zones(self) -> list[Zone]:
        return sorted(self._zones)

    def zone(self, zone: Zone) -> ZoneReader | None:
        return self._zones.get(zone)

    def check_year(self, year: int) -> None:
        if year not in self.years:
            raise AccessError(
                f"{self.location} holds no embeddings for {year}; it holds {', '.join(map(str, self.years)) or 'none'}"
            )

    def check_depth(self, depth: int | None) -> None:
        if depth is not None and not 0 < depth <= self.dims:
            raise AccessError(
                f"depth {depth} is not between 1 and {self.dims}; this store declares {self.available_depths}"
            )

    def embed_dim(self, year: int, depth: int | None = None) -> int:
        return depth or self.dims

    def pieces(self, year: int, grid: Grid, depth: int | None = None) -> list[ZoneYear]:
        """Zones that may cover ``grid``: the grid's own zone first, then zones within one of the
        grid's longitudes (Sentinel-2 tiles reach past their zone's edge)."""
        from rasterio.warp import transform_bounds

        try:
            own: Zone | None = Zone.from_epsg(grid.epsg)
        except TesseraError:
            own = None
        b = grid.bounds
        w, _, e, _ = transform_bounds(grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top, densify_pts=21)
        lo, hi = utm_zone_numbers([w, e])
        zones = sorted(
            (z for z in self.zones() if max(1, lo - 1) <= z.number <= min(60, hi + 1)), key=lambda z: z != own
        )
        return [ZoneYear(self._zones[z], year, depth) for z in zones]

    def sample_year(self, points: Points, year: int, depth: int | None = None) -> PointSample:
        """One vectorised read per zone (never a read per point); ``outside`` where no zone grid covers."""
        self.check_year(year)
        self.check_depth(depth)
        lon, lat = as_lonlat(points)
        check_lonlat(lon, lat)
        values = np.full((len(lon), self.embed_dim(year, depth)), np.nan, np.float32)
        status = np.full(len(lon), OUTSIDE, dtype=object)
        number = utm_zone_numbers(lon)
        for num in sorted(set(number.tolist())):
            reader = self._zones.get(Zone(num))
            if reader is None:
                continue
            sel = np.flatnonzero(number == num)
            rows, cols = reader.grid.pixel_of(*lonlat_to(reader.zone.epsg, lon[sel], lat[sel]))
            values[sel], status[sel] = reader.points(rows, cols, year, depth)
        return PointSample(values, status.astype(str))

    def footprints(self) -> list[dict]:
        """Written blocks as lon/lat boxes (year, zone, bounds W,S,E,N), from a local store's fill
        records — for coverage plots."""
        from rasterio.warp import transform_bounds

        out = []
        for row in self.coverage():
            zone = Zone.from_name(row["zone"])
            b = self._zones[zone].grid.window(Window(*row["window"])).bounds
            box = transform_bounds(f"EPSG:{zone.epsg}", "EPSG:4326", b.left, b.bottom, b.right, b.top)
            out.append({"year": row["year"], "zone": row["zone"], "bounds": box})
        return out

    def coverage(self) -> list[dict]:
        """One row per written block (year, zone, zone window, pixel and no-data counts), from the
        fill records beside a local store, or as `tessera serve` publishes them; other stores have
        none and give an error."""
        return coverage_rows(self.source, self.zones(), self.years)
