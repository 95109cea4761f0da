"""A store in the published ``geoemb:`` convention, opened for reading: ours, one geotessera's
writer built, or the published global TESSERA store (its Icechunk repository of hemisphere groups
``01N``…``60S``, or its plain Zarr copy ``utm01``…``utm60``), at a path, ``file://``,
``http(s)://`` or an fsspec URL.

Everything is found from the root's inline consolidated metadata (one request), as the official
reader does: HTTP servers cannot list directories. A store without it (an Icechunk snapshot, the
global store's copy) is listed instead, where its source can list.
"""

from __future__ import annotations

import functools
import json

import numpy as np

from tessera.access.base import INCOMPLETE, OUTSIDE, UNEMBEDDED, WATER, Points, PointSample
from tessera.access.coverage import RecordedShards, check_digests, coverage_rows
from tessera.access.hemispheres import AnyZone, HemisphereZone
from tessera.access.lonlat import as_lonlat
from tessera.access.quality import QualityLayers
from tessera.access.reads import RegionReads
from tessera.access.zone import ZoneReader, ZoneYear, group_zone
from tessera.errors import AccessError, StoreError, TesseraError
from tessera.grid import Grid, Window, check_lonlat, lonlat_to, utm_zone_numbers
from tessera.store import Zone
from tessera.store import convention as cv
from tessera.store.sources import ByteSource, listed_metadata


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
        if consolidated is None:
            consolidated = listed_metadata(source, lambda name: group_zone(name) is not None)
        if consolidated is None:
            raise StoreError(
                f"{source.location} has no consolidated metadata, which readers over HTTP need; "
                "run zarr.consolidate_metadata on it (or `geotessera-registry zarr-consolidate`)"
            )
        self.dims = int(self.attrs.get("geoemb:dimensions", cv.N_BANDS))
        self.depths = {int(d["dimensions"]): str(d["array"]) for d in self.attrs.get("geoemb:depths", [])}
        self.depths.setdefault(self.dims, cv.EMBEDDINGS)
        names = sorted(
            k
            for k, v in consolidated.items()
            if "/" not in k and group_zone(k) is not None and v.get("node_type") == "group"
        )
        nodata = str(((self.attrs.get("geoemb:quantization") or {}).get("scale") or {}).get("nodata", "")).lower()
        #: What a NaN scale means here: the convention's water, or (where the store declares NaN its
        #: no-data scale, as the global store does) a pixel left unembedded.
        self.nan_status = UNEMBEDDED if nodata == "nan" else WATER
        check_digests(source, consolidated, [n for n in names if n.startswith("utm")])
        groups: dict[Zone, list[ZoneReader]] = {}
        recorded = RecordedShards(source)
        for n in names:
            reader = ZoneReader(source, n, consolidated, self.dims, self.depths, self.nan_status)
            if reader.hemisphere is None:  # the convention's groups, which tessera's writer records
                reader.recorded = functools.partial(recorded.of, reader.zone, shard=reader.scales.shard)
            groups.setdefault(reader.zone, []).append(reader)
        #: Zone grids overlap by up to a shard (the global store): a mosaic takes each pixel from its
        #: nominal 6° zone, as points always are.
        self.nominal = self.attrs.get("zone_scheme") == "utm_6deg_nominal" or any(
            r.hemisphere for rs in groups.values() for r in rs
        )
        self._zones: dict[Zone, AnyZone] = {}
        for zone, readers in groups.items():
            if any(r.hemisphere is None for r in readers):
                if len(readers) > 1:
                    raise StoreError(
                        f"{source.location} holds zone {zone.number} both as utm{zone.number:02d} and by hemisphere"
                    )
                self._zones[zone] = readers[0]
            else:
                self._zones[zone] = HemisphereZone(sorted(readers, key=lambda r: r.hemisphere != "N"))

    def __repr__(self) -> str:
        zones = ", ".join(z.name for z in self.zones())
        model = self.attrs.get("geoemb:model") or "unknown model"
        return (
            f"StoreReader({self.location}: years {self.years}, zones {zones}, depths {self.available_depths}, {model})"
        )

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

    def zone(self, zone: Zone) -> AnyZone | None:
        return self._zones.get(zone)

    def complete_years(self, zones: list[Zone] | None = None) -> list[int]:
        """Years complete in at least one of ``zones`` (all zones by default)."""
        readers = [self._zones[z] for z in (zones or self.zones()) if z in self._zones]
        return [y for y in self.years if any(r.complete(y) for r in readers)]

    def check_year(self, year: int) -> None:
        if year not in self.years:
            raise AccessError(
                f"{self.location} holds no embeddings for {year}; it holds {', '.join(map(str, self.years)) or 'none'}"
            )
        if self._zones and year not in self.complete_years():
            self._incomplete(year, self.zones())

    def _incomplete(self, year: int, zones: list[Zone]) -> None:
        complete = self.complete_years(zones)
        groups = []
        for z in zones:
            reader = self._zones[z]
            groups += reader.incomplete_groups(year) if isinstance(reader, HemisphereZone) else [z.name]
        raise AccessError(
            f"{year} is not complete in {', '.join(groups)} of {self.location} (not in "
            f"years_complete: a gap in the publication, not an absence of land); complete years there: "
            f"{', '.join(map(str, complete)) or 'none'}"
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
        nominal = [z for z in zones if lo <= z.number <= hi]  # the neighbours only reach in
        if nominal and not any(self._zones[z].complete(year) for z in nominal):
            self._incomplete(year, nominal)
        return [ZoneYear(self._zones[z], year, depth, self.nominal) for z in zones]

    def _routed(
        self, points: Points
    ) -> tuple[int, np.ndarray, list[tuple[AnyZone, np.ndarray, np.ndarray, np.ndarray]]]:
        """(number of points, each point's nominal zone, and per zone held: its reader, the points'
        indices, rows and columns on its grid)."""
        lon, lat = as_lonlat(points)
        check_lonlat(lon, lat)
        number = utm_zone_numbers(lon)
        routes = []
        for num in sorted(set(number.tolist())):
            reader = self._zones.get(Zone(num))
            if reader is not None:
                sel = np.flatnonzero(number == num)
                rows, cols = reader.grid.pixel_of(*lonlat_to(reader.zone.epsg, lon[sel], lat[sel]))
                routes.append((reader, sel, rows, cols))
        return len(lon), number, routes

    def sample_year(self, points: Points, year: int, depth: int | None = None) -> PointSample:
        """One vectorised read per zone (never a read per point); ``outside`` where no zone grid covers."""
        self.check_year(year)
        self.check_depth(depth)
        n, number, routes = self._routed(points)
        values = np.full((n, self.embed_dim(year, depth)), np.nan, np.float32)
        status = np.full(n, OUTSIDE, dtype=object)
        for reader, sel, rows, cols in routes:
            values[sel], status[sel] = reader.points(rows, cols, year, depth)
        touched = status != OUTSIDE
        if touched.any() and (status[touched] == INCOMPLETE).all():
            self._incomplete(year, sorted({Zone(int(n)) for n in number[touched]}))
        return PointSample(values, status.astype(str))

    @property
    def quality_layers(self) -> dict[str, tuple[int, ...]]:
        """{layer: its extra axes (``(12,)`` for month coverage, ``()`` for counts)} of the quality
        layers the zone groups have (the global store's); empty for other stores."""
        first = next(iter(self._zones.values()), None)
        if first is None:
            return {}
        return {name: a.spec.planes for name, a in first.quality.items()}

    def sample_quality(self, points: Points, year: int) -> dict[str, np.ndarray]:
        """Each quality layer at points: (N,) or (N, months) float32, NaN where not known."""
        self.check_year(year)
        layers = self.quality_layers
        if not layers:
            QualityLayers(self, layers)  # raises, naming the store
        n, _, routes = self._routed(points)
        out = {name: np.full((n, *extra), np.nan, np.float32) for name, extra in layers.items()}
        for reader, sel, rows, cols in routes:
            for name, layer in reader.quality_points(rows, cols, year).items():
                out[name][sel] = layer
        return out

    def grid_quality(self, grid: Grid, year: int) -> dict[str, np.ndarray]:
        """Each quality layer on ``grid``, mosaicked as the embeddings are."""
        return QualityLayers(self, self.quality_layers).region(grid, year)

    def grid_status(self, grid: Grid, year: int) -> np.ndarray:
        """(H, W) uint8 index into ``STATUSES`` of every pixel of ``grid``, from the scales alone."""
        from tessera.access.status_grid import grid_status

        return grid_status(self, grid, year)

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
