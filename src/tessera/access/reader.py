"""Open an embedding store for reading: any store in the published ``geoemb:`` convention — ours,
or one geotessera's writer built — at a path, ``file://``, ``http(s)://`` or an fsspec URL.

Everything is found from the root's inline consolidated metadata (one request), as the official
reader does: HTTP servers cannot list directories. Values come straight from shard bytes through
``chunks`` (crc32c-checked), never through a path that could return unchecked numbers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from tessera.access.chunks import ArrayReader, io_threads, spatial_chunks, window_chunks
from tessera.errors import InputNotFoundError, TesseraError
from tessera.grid import BBox, Grid, Window
from tessera.quantize import dequantize
from tessera.store import Zone
from tessera.store import convention as cv
from tessera.store.errors import StoreDamageError, StoreError
from tessera.store.shard_codec import ArraySpec
from tessera.store.sources import (
    ByteSource,
    HttpSource,
    LocalSource,
    ZarrStoreSource,
    is_url,
    open_icechunk,
    open_source,
)

if TYPE_CHECKING:
    from tessera.access.points import Points, PointSample
    from tessera.access.region import Region

VALID, WATER, NODATA, OUTSIDE = "valid", "water", "nodata", "outside"


COVERAGE_KEY = "_tessera/coverage.json"  # what `tessera serve` answers with a store's written blocks


class AccessError(TesseraError, ValueError):
    """A request the store cannot answer as asked (bad bbox, a year it does not hold, …)."""


def _overlap(start: int, size: int, lo: int, hi: int) -> tuple[int, int] | None:
    a, b = max(start, lo), min(start + size, hi)
    return (a, b) if a < b else None


class ZoneReader:
    """One ``utm{NN}`` group: its grid (from ``spatial:transform``), years and arrays."""

    def __init__(self, source: ByteSource, name: str, meta: dict[str, dict], dims: int, depths: dict[int, str]) -> None:
        self.source, self.name = source, name
        self.zone = Zone.from_name(name)
        attrs = meta[name].get("attributes", {})
        try:
            self.grid = cv.zone_grid(attrs)
        except TesseraError as exc:
            raise StoreError(
                f"zone group {name} of {source.location} has no usable spatial:/proj: attributes ({exc})"
            ) from exc
        if self.grid.epsg != self.zone.epsg:
            raise StoreError(f"zone group {name} declares {self.grid.crs}; the convention uses EPSG:{self.zone.epsg}")
        self.dims = dims
        self.arrays: dict[int, ArrayReader] = {}
        for depth, array in depths.items():
            if f"{name}/{array}" in meta:
                self.arrays[depth] = self._array(meta, array, ("time", cv.band_dim(depth, dims), "y", "x"), "int8")
        if dims not in self.arrays:
            raise StoreError(f"zone group {name} of {source.location} has no '{cv.EMBEDDINGS}' array")
        self.scales = self._array(meta, cv.SCALES, ("time", "y", "x"), "float32")
        self.time_spec = self._plain(meta, "time")

    def _plain(self, meta: dict, array: str) -> ArraySpec:
        key = f"{self.name}/{array}"
        if key not in meta:
            raise StoreError(f"zone group {self.name} of {self.source.location} has no '{array}' array")
        return ArraySpec.from_metadata(key, meta[key])

    def _array(self, meta: dict, array: str, dims: tuple[str, ...], dtype: str) -> ArrayReader:
        spec = self._plain(meta, array)
        h, w = self.grid.shape
        if spec.dims != dims or spec.dtype.name != dtype or spec.shape[-2:] != (h, w):
            raise StoreError(
                f"{spec.path} is {spec.dtype.name} {spec.shape} with dims {list(spec.dims)}; the "
                f"convention needs {dtype} with dims {list(dims)} on the zone's {h}×{w} grid"
            )
        if len(dims) == 4 and (spec.inner or spec.outer)[1] != spec.shape[1]:
            raise StoreError(
                f"{spec.path} splits its band axis across chunks; tessera reads stores whose "
                "chunks hold every band of a pixel"
            )
        return ArrayReader(self.source, spec)

    @cached_property
    def years(self) -> list[int]:
        spec = self.time_spec
        n_chunks = -(-spec.shape[0] // spec.outer[0])
        parts = []
        for i in range(n_chunks):
            raw = self.source.get(spec.key((i,)))
            parts.append(
                np.full(spec.outer, spec.fill, spec.dtype) if raw is None else spec.decode_chunk(raw, spec.key((i,)))
            )
        return [int(v) for v in np.concatenate(parts)[: spec.shape[0]]] if parts else []

    def time_index(self, year: int) -> int:
        if year not in self.years:
            raise AccessError(
                f"{self.source.location} holds no embeddings for {year}; it holds "
                f"{', '.join(map(str, self.years)) or 'none'}"
            )
        return self.years.index(year)

    def embeddings(self, depth: int | None) -> tuple[ArrayReader, int]:
        """The array holding a depth (its own prefix array, else the full one sliced) and the depth."""
        depth = depth or self.dims
        if not 0 < depth <= self.dims:
            raise AccessError(f"depth {depth} is not between 1 and {self.dims}")
        return self.arrays.get(depth, self.arrays[self.dims]), depth

    @cached_property
    def pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(io_threads(self.source))

    # -- windows ------------------------------------------------------------------------------
    def read(self, window: Window, year: int, depth: int | None = None) -> np.ndarray:
        """(h, w, depth) float32 of a window inside the zone grid; NaN where there is no value."""
        values, _ = self.read_scaled(window, year, depth)
        return values

    def read_scaled(self, window: Window, year: int, depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(values (h, w, depth) float32, scales (h, w) float32 as stored: NaN water, +inf no data)."""
        return self._read(window, year, depth, quantized=False)

    def read_quantized(self, window: Window, year: int, depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(int8 (depth, h, w) as stored, scales (h, w) float32): the same checks as ``read``."""
        return self._read(window, year, depth, quantized=True)

    def _read(self, window: Window, year: int, depth: int | None, quantized: bool) -> tuple[np.ndarray, np.ndarray]:
        t = self.time_index(year)
        emb, depth = self.embeddings(depth)
        r0, c0, h, w = window.row, window.col, window.height, window.width
        scales = np.full((h, w), np.inf, np.float32)
        s_present = np.zeros((h, w), bool)
        for (cy, cx), block in self.scales.fetch(t, window_chunks(r0, c0, h, w, self.scales.chunk), self.pool).items():
            sl, bl = self._slices(cy, cx, self.scales.chunk, window)
            scales[sl] = block[0][bl]
            s_present[sl] = True
        finite = np.isfinite(scales)
        stored = [c for c in window_chunks(r0, c0, h, w, emb.chunk) if emb.locate(t, *c) is not None]
        e_present = np.zeros((h, w), bool)
        for c in stored:
            e_present[self._slices(*c, emb.chunk, window)[0]] = True
        if emb.chunk != self.scales.chunk:
            # A prefix array's coarser chunks (64 px for 16 bands) also cover pixels whose scale
            # chunks hold only no data and are not stored: pair them chunk by chunk instead.
            s_present = s_present | (e_present & ~self._lonely_chunks(emb, stored, s_present, window))
        self._check_pairs(
            t, emb, finite, e_present, s_present, lambda m: tuple(int(v) for v in np.argwhere(m)[0] + (r0, c0))
        )
        # Past the pair check every finite scale has its chunk among ``stored``: chunks under no
        # finite scale are not fetched and stay NaN, as their scales would dequantise them.
        out = np.zeros((depth, h, w), np.int8) if quantized else np.full((h, w, depth), np.nan, np.float32)

        def put(c: tuple[int, int], block: np.ndarray) -> None:
            sl, bl = self._slices(*c, emb.chunk, window)
            planes = block[0, :depth][(slice(None), *bl)]
            if quantized:
                out[(slice(None), *sl)] = planes
            else:
                out[sl] = dequantize(np.moveaxis(planes, 0, -1), scales[sl])

        need = stored if quantized else [c for c in stored if finite[self._slices(*c, emb.chunk, window)[0]].any()]
        emb.fetch(t, need, self.pool, sink=put)
        return out, scales

    def _lonely_chunks(
        self, emb: ArrayReader, stored: list[tuple[int, int]], s_present: np.ndarray, window: Window
    ) -> np.ndarray:
        """Pixels of stored embedding chunks that lie wholly in the window and hold no stored
        scale at all: a missing scales shard, never data."""
        lonely = np.zeros_like(s_present)
        for c in stored:
            sl, bl = self._slices(*c, emb.chunk, window)
            whole = all(b.stop - b.start == n for b, n in zip(bl, emb.chunk, strict=True))
            if whole and not s_present[sl].any():
                lonely[sl] = True
        return lonely

    @staticmethod
    def _slices(cy: int, cx: int, chunk: tuple[int, int], window: Window):
        """(slices into the window, slices into the chunk) of their overlap."""
        ys = _overlap(cy * chunk[0], chunk[0], window.row, window.row + window.height)
        xs = _overlap(cx * chunk[1], chunk[1], window.col, window.col + window.width)
        assert ys and xs
        return (
            (slice(ys[0] - window.row, ys[1] - window.row), slice(xs[0] - window.col, xs[1] - window.col)),
            (slice(ys[0] - cy * chunk[0], ys[1] - cy * chunk[0]), slice(xs[0] - cx * chunk[1], xs[1] - cx * chunk[1])),
        )

    def _check_pairs(self, t: int, emb: ArrayReader, finite, e_present, s_present, where) -> None:
        """A pixel with a finite scale but no stored embedding, or an embedding without a stored
        scale, means a shard of the pair is missing or damaged — never data."""
        orphan = finite & ~e_present
        if orphan.any():
            r, c = where(orphan)
            key = emb.shard_key(t, r // emb.shard[0], c // emb.shard[1])
            raise StoreDamageError(
                f"shard {key} is missing (or lacks chunks) while its scales hold data: the "
                "store is damaged; restore the shard or re-embed (`tessera verify` lists all)"
            )
        lonely = e_present & ~s_present
        if lonely.any():
            r, c = where(lonely)
            key = self.scales.shard_key(t, r // self.scales.shard[0], c // self.scales.shard[1])
            raise StoreDamageError(
                f"shard {key} is missing (or lacks chunks) while embeddings are stored there: "
                "the store is damaged; restore the shard or re-embed"
            )

    # -- points -------------------------------------------------------------------------------
    def points(
        self, rows: np.ndarray, cols: np.ndarray, year: int, depth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(values (N, depth) float32, status (N,) str) at zone pixels; ``outside`` off the grid."""
        t = self.time_index(year)
        emb, depth = self.embeddings(depth)
        h, w = self.grid.shape
        n = len(rows)
        values = np.full((n, depth), np.nan, np.float32)
        status = np.full(n, OUTSIDE, object)
        inside = np.flatnonzero((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w))
        if not len(inside):
            return values, status
        r, c = rows[inside], cols[inside]
        scales = np.full(len(r), np.inf, np.float32)
        s_present = np.zeros(len(r), bool)
        groups = spatial_chunks(r, c, self.scales.chunk)
        sa, sb = self.scales.chunk

        def put_scales(key: tuple[int, int], block: np.ndarray) -> None:
            idx = groups[key]
            scales[idx] = block[0][r[idx] % sa, c[idx] % sb]
            s_present[idx] = True

        self.scales.fetch(t, groups, self.pool, sink=put_scales)
        finite = np.isfinite(scales)
        e_groups = spatial_chunks(r, c, emb.chunk)
        e_present = np.zeros(len(r), bool)
        for key, idx in e_groups.items():
            e_present[idx] = emb.locate(t, *key) is not None
        self._check_pairs(t, emb, finite, e_present, s_present, lambda m: (int(r[m][0]), int(c[m][0])))
        need = [k for k, idx in e_groups.items() if e_present[idx[0]] and finite[idx].any()]
        a, b = emb.chunk
        q = np.zeros((len(r), depth), np.int8)

        def gather(key: tuple[int, int], block: np.ndarray) -> None:
            # On the decoding threads, so a decoded chunk is dropped as soon as its points are out.
            idx = e_groups[key]
            q[idx] = block[0, :depth][:, r[idx] % a, c[idx] % b].T

        emb.fetch(t, need, self.pool, sink=gather)
        values[inside] = dequantize(q, scales)
        status[inside] = np.where(finite, VALID, np.where(np.isnan(scales), WATER, NODATA))
        return values, status.astype(str)


class RegionReads:
    """Reads shared by every reader (a store, a geotessera directory); each reader provides
    ``check_year``, ``embed_dim(year, depth)``, ``sources(year, grid, depth)`` and
    ``_sample_year``. Every read takes a year, or a list of years: then the result gains a
    leading year axis (values (Y, N, D), status (Y, N); region data (Y, H, W, D))."""

    @property
    def location(self) -> str:
        """Where the embeddings are, as the user named them."""
        raise NotImplementedError

    def check_year(self, year: int) -> None:
        raise NotImplementedError

    def embed_dim(self, year: int, depth: int | None = None) -> int:
        raise NotImplementedError

    def sources(self, year: int, grid: Grid, depth: int | None = None) -> Sequence[Any]:
        raise NotImplementedError

    def footprints(self) -> list[dict]:
        """Where embeddings are written, as lon/lat boxes (for coverage plots)."""
        raise NotImplementedError

    @property
    def years(self) -> list[int]:
        raise NotImplementedError

    def check_depth(self, depth: int | None) -> None:
        raise NotImplementedError

    def _sample_year(self, points: Points, year: int, depth: int | None = None) -> PointSample:
        raise NotImplementedError

    def sample_points(self, points: Points, year: int | Sequence[int], depth: int | None = None) -> PointSample:
        years = _years(year)
        if years is None:
            return self._sample_year(points, cast(int, year), depth)
        from tessera.access.points import PointSample

        parts = [self._sample_year(points, y, depth) for y in years]
        return PointSample(np.stack([p.values for p in parts]), np.stack([p.status for p in parts]))

    def probe(
        self, lon: float, lat: float, year: int | Sequence[int], depth: int | None = None
    ) -> tuple[np.ndarray, str | list[str]]:
        """(vector (D,) float32, status) at one point: ``valid``, ``water``, ``nodata`` or ``outside``;
        for a list of years ((Y, D), [status per year])."""
        s = self.sample_points([[lon, lat]], year, depth=depth)
        if _years(year) is None:
            return s.values[0], str(s.status[0])
        return s.values[:, 0], [str(v) for v in s.status[:, 0]]

    def read_region(
        self,
        bbox: BBox,
        year: int | Sequence[int],
        crs: str | None = None,
        resolution: float | None = None,
        depth: int | None = None,
    ) -> Region:
        from tessera.access.region import read_region

        return _stacked(lambda y: read_region(self, bbox, y, crs, resolution, depth=depth), year)

    def iter_region(
        self,
        bbox: BBox,
        year: int | Sequence[int],
        crs: str | None = None,
        resolution: float | None = None,
        strip_rows: int = 256,
        depth: int | None = None,
    ) -> Iterator[Region]:
        from tessera.access.region import iter_region

        years = _years(year)
        if years is None:
            return iter_region(self, bbox, cast(int, year), crs, resolution, strip_rows, depth=depth)
        strips = zip(
            *(iter_region(self, bbox, y, crs, resolution, strip_rows, depth=depth) for y in years), strict=True
        )
        return (_stack(parts, years) for parts in strips)

    def read_patch(
        self, lon: float, lat: float, year: int | Sequence[int], size_px: int, depth: int | None = None
    ) -> Region:
        from tessera.access.region import read_patch

        return _stacked(lambda y: read_patch(self, lon, lat, y, size_px, depth=depth), year)


def _years(year) -> list[int] | None:
    """None for one year; the list for several."""
    if isinstance(year, int | np.integer):
        return None
    years = [int(y) for y in year]
    if not years:
        raise AccessError("no year given; give a year or a list of years")
    return years


def _stack(parts, years: list[int]):
    from tessera.access.region import Region

    return Region(np.stack([p.data for p in parts]), parts[0].grid, tuple(years))


def _stacked(read: Callable[[int], Region], year: int | Sequence[int]) -> Region:
    years = _years(year)
    return read(cast(int, year)) if years is None else _stack([read(y) for y in years], years)


class ZoneYear:
    """A zone at one year and depth: what ``region`` mosaics (``grid``, ``embed_dim``, ``read``)."""

    def __init__(self, reader: ZoneReader, year: int, depth: int | None) -> None:
        self.reader, self.year, self.depth = reader, year, depth
        self.grid = reader.grid
        self.embed_dim = depth or reader.dims

    def read(self, window: Window) -> np.ndarray:
        return self.reader.read(window, self.year, self.depth)


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

    def sources(self, year: int, grid: Grid, depth: int | None = None) -> list[ZoneYear]:
        """Zones that may cover ``grid``, the grid's own zone first (see ``region``)."""
        from tessera.access.region import candidate_zones

        return [ZoneYear(z, year, depth) for z in candidate_zones(self, grid)]

    def _sample_year(self, points, year: int, depth: int | None = None):
        from tessera.access.points import sample_points

        return sample_points(self, points, year, depth)

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
        from tessera.store import build_dir
        from tessera.store import manifest as mf

        if not isinstance(self.source, LocalSource):  # `tessera serve` publishes the rows it has
            raw = self.source.get(COVERAGE_KEY) if isinstance(self.source, HttpSource) else None
            try:
                rows = json.loads(raw) if raw is not None else None
            except ValueError:
                rows = None
            if isinstance(rows, list):
                return rows
        if not isinstance(self.source, LocalSource) or not build_dir(self.source.root).is_dir():
            raise AccessError(
                f"{self.location} has no fill records beside it (only local stores written by "
                "tessera do); coverage is not known without reading every shard"
            )
        rows = []
        for zone in self.zones():
            for year in self.years:
                for m in mf.read_all(build_dir(self.source.root) / "fills" / zone.name / str(year)).values():
                    rows += [
                        {
                            "year": year,
                            "zone": zone.name,
                            "window": list(b.window),
                            "pixels": b.pixels,
                            "nodata": b.nodata,
                        }
                        for b in m.blocks
                    ]
        return rows


def open_store(location: str | os.PathLike) -> RegionReads:
    """Open embeddings for reading: a store in the ``geoemb:`` convention (local path, ``file://``,
    ``http(s)://`` or an fsspec URL such as ``s3://`` when its filesystem package is installed; an
    Icechunk repository ``*.icechunk`` holding one, with the ``icechunk`` extra), or a directory in
    the geotessera tile layout.

    >>> store = open_store("embeddings.zarr")                  # doctest: +SKIP
    >>> store = open_store("http://127.0.0.1:8000/")           # doctest: +SKIP
    >>> store.years                                             # doctest: +SKIP
    [2024]
    """
    text = os.fspath(location)
    if not is_url(text):
        path = text.removeprefix("file://")
        if not os.path.exists(path):
            raise InputNotFoundError(f"no embedding store at {path}")
        if os.path.isdir(os.path.join(path, "global_0.1_degree_representation")):
            from pathlib import Path

            from tessera.access.tiles import GeotesseraReader

            return GeotesseraReader(Path(path))
    if text.rstrip("/").endswith(".icechunk"):
        return StoreReader(open_icechunk(text))
    return StoreReader(open_source(text))
