"""One zone group of a store: its grid, years and arrays, read by window or at pixels.

A group is ``utm{NN}`` in the convention (both hemispheres on the northern CRS), or ``{NN}N`` /
``{NN}S`` in the published global store (each on its own CRS; a southern group's grid is taken as
the same pixels on the northern CRS, southern northings negative, so ``hemispheres`` can join the
two). Values come straight from shard bytes through ``chunks`` (crc32c-checked); a pixel whose
scale and embedding disagree about being stored means a missing shard of the pair, and is an
error, never data. A year a group does not list in ``years_complete`` is a gap in the publication:
it reads as ``incomplete``, never as the fill its unwritten chunks hold.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Protocol, TypeVar

import numpy as np

from tessera.access.base import INCOMPLETE, NODATA, OUTSIDE, STATUSES, VALID, WATER
from tessera.access.chunks import ArrayReader, io_threads, spatial_chunks, window_chunks
from tessera.errors import AccessError, StoreDamageError, StoreError, TesseraError
from tessera.grid import Grid, Window, nominal_zone_mask
from tessera.quantize import dequantize
from tessera.store import Zone, northern_grid
from tessera.store import convention as cv
from tessera.store.shard_codec import ArraySpec
from tessera.store.sources import ByteSource

_T = TypeVar("_T")
_GROUP = re.compile(r"utm(\d\d)|(\d\d)([NS])")
_SPATIAL_NAMES = {"northing": "y", "easting": "x"}


def group_zone(name: str) -> tuple[Zone, str | None] | None:
    """(zone, hemisphere or None) of a zone group's name (``utm31``, ``31N``, ``31S``); None for
    anything else."""
    m = _GROUP.fullmatch(name)
    if m is None or not 1 <= int(m.group(1) or m.group(2)) <= 60:
        return None
    return Zone(int(m.group(1) or m.group(2))), m.group(3)


def calendar_years(values: np.ndarray, units: str | None, where: str) -> list[int]:
    """Years of a time axis stored as calendar years (the convention) or as CF instants
    (``<unit> since <date>``, the published repository)."""
    if not units:
        return [int(v) for v in values]
    m = re.fullmatch(r"\s*(\w+) since (\S+)(?:[ T](\S+))?\s*", units)
    steps = {"nanoseconds": "ns", "microseconds": "us", "milliseconds": "ms", "seconds": "s", "days": "D"}
    if m is None or m.group(1) not in steps:
        raise StoreError(f"{where} has time units {units!r}, which tessera does not decode")
    origin = np.datetime64(m.group(2) + ("T" + m.group(3) if m.group(3) else ""), "ns")
    instants = origin + values.astype(np.int64).astype(f"timedelta64[{steps[m.group(1)]}]")
    return [int(y) + 1970 for y in instants.astype("datetime64[Y]").astype(np.int64)]


#: Damage is confirmed this many times, a moment apart, before it is reported: a writer embedding a
#: neighbouring cube replaces shard files (each whole, by rename) and writes the embeddings shard
#: of a pair before its scales, so a read between the two, or through an index read before the
#: rename, looks damaged and is not.
DAMAGE_RECHECKS = 3
RECHECK_WAIT_S = 0.1


def _confirmed(read: Callable[..., _T]) -> Callable[..., _T]:
    @functools.wraps(read)
    def reread(self: ZoneReader, *args, **kwargs) -> _T:
        for attempt in range(DAMAGE_RECHECKS):
            try:
                return read(self, *args, **kwargs)
            except StoreDamageError:
                if attempt == DAMAGE_RECHECKS - 1:
                    raise
                for array in (*self.arrays.values(), self.scales, *self.quality.values()):
                    array.forget()
                time.sleep(RECHECK_WAIT_S)
        raise AssertionError("unreachable")

    return reread


def _overlap(start: int, size: int, lo: int, hi: int) -> tuple[int, int] | None:
    a, b = max(start, lo), min(start + size, hi)
    return (a, b) if a < b else None


class ZoneReader:
    """One zone group: its grid (from ``spatial:transform``), years and arrays.

    ``nan_status`` is what a NaN scale means in this store: ``water`` in the convention, or
    ``unembedded`` where the store declares NaN its no-data scale (the published global store).
    """

    def __init__(
        self,
        source: ByteSource,
        name: str,
        meta: dict[str, dict],
        dims: int,
        depths: dict[int, str],
        nan_status: str = WATER,
    ) -> None:
        self.source, self.name, self.nan_status = source, name, nan_status
        found = group_zone(name)
        if found is None:
            raise StoreError(f"{name!r} is not a zone group name like 'utm31', '31N' or '31S'")
        self.zone, self.hemisphere = found
        attrs = meta[name].get("attributes", {})
        try:
            grid = cv.zone_grid(attrs)
        except TesseraError as exc:
            raise StoreError(
                f"zone group {name} of {source.location} has no usable spatial:/proj: attributes ({exc})"
            ) from exc
        own = self.zone.epsg + (100 if self.hemisphere == "S" else 0)
        if grid.epsg != own:
            raise StoreError(f"zone group {name} declares {grid.crs}; a group named {name} is on EPSG:{own}")
        self.grid = northern_grid(grid)
        self.dims = dims
        self.arrays: dict[int, ArrayReader] = {}
        for depth, array in depths.items():
            if f"{name}/{array}" in meta:
                self.arrays[depth] = self._array(meta, array, "int8", band=cv.band_dim(depth, dims))
        if dims not in self.arrays:
            raise StoreError(f"zone group {name} of {source.location} has no '{cv.EMBEDDINGS}' array")
        self.scales = self._array(meta, cv.SCALES, "float32")
        self.quality = {q: self._array(meta, q, None) for q in cv.LAYERS if f"{name}/{q}" in meta}
        self.time_spec = self._plain(meta, "time")
        self.time_units = (meta[f"{name}/time"].get("attributes") or {}).get("units")
        complete = attrs.get("years_complete")
        self.years_complete: set[int] | None = None if complete is None else {int(y) for y in complete}
        #: (year → scales shards the fill records say were written with data), None where the
        #: store keeps no records (set by the store reader): a recorded shard found absent is
        #: damage, never "no data".
        self.recorded: Callable[[int], set[tuple[int, int]] | None] = lambda year: None

    def _plain(self, meta: dict, array: str) -> ArraySpec:
        key = f"{self.name}/{array}"
        if key not in meta:
            raise StoreError(f"zone group {self.name} of {self.source.location} has no '{array}' array")
        return ArraySpec.from_metadata(key, meta[key])

    def _array(self, meta: dict, array: str, dtype: str | None, band: str | None = None) -> ArrayReader:
        """An array on the zone grid: ``(time, y, x)``, or with ``band`` either second (the
        convention) or last (the published repository); ``northing``/``easting`` name y and x."""
        spec = self._plain(meta, array)
        h, w = self.grid.shape
        names = tuple(_SPATIAL_NAMES.get(d, d) for d in spec.dims)
        allowed = [("time", "y", "x")] if band is None else [("time", band, "y", "x"), ("time", "y", "x", band)]
        y, x = spec.spatial
        if dtype is None:  # a quality layer: any extra axis, never split
            ok = names[0] == "time" and "y" in names and "x" in names
        else:
            ok = names in allowed and spec.dtype.name == dtype
        if not ok or (spec.shape[y], spec.shape[x]) != (h, w):
            raise StoreError(
                f"{spec.path} is {spec.dtype.name} {spec.shape} with dims {list(spec.dims)}; tessera reads "
                f"{dtype or 'an array'} with dims {' or '.join(str(list(a)) for a in allowed)} on the zone's "
                f"{h}×{w} grid"
            )
        chunk = spec.inner or spec.outer
        split = [i for i in range(1, len(spec.shape)) if i not in (y, x) and chunk[i] != spec.shape[i]]
        if split:
            raise StoreError(
                f"{spec.path} splits its {spec.dims[split[0]] or 'band'} axis across chunks; tessera reads "
                "stores whose chunks hold every band of a pixel"
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
        values = np.concatenate(parts)[: spec.shape[0]] if parts else np.zeros(0, np.int64)
        return calendar_years(values, self.time_units, spec.path)

    def time_index(self, year: int) -> int:
        if year not in self.years:
            raise AccessError(
                f"{self.source.location} holds no embeddings for {year}; it holds "
                f"{', '.join(map(str, self.years)) or 'none'}"
            )
        return self.years.index(year)

    def complete(self, year: int) -> bool:
        """Whether the group's year was filled (``years_complete``; a store without it: always)."""
        return self.years_complete is None or year in self.years_complete

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
        """(int8 (h, w, depth) as stored, scales (h, w) float32): the same checks as ``read``, the
        same band-last layout."""
        return self._read(window, year, depth, quantized=True)

    def _scales_window(self, t: int, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """(scales (h, w) float32 as stored, the fill where a chunk is unwritten; which pixels
        lie in a stored scale chunk) of a window at time index ``t``."""
        r0, c0, h, w = window.row, window.col, window.height, window.width
        scales = np.full((h, w), self.scales.spec.fill, np.float32)  # an unwritten chunk holds the fill
        present = np.zeros((h, w), bool)
        for (cy, cx), block in self.scales.fetch(t, window_chunks(r0, c0, h, w, self.scales.chunk), self.pool).items():
            sl, bl = self._slices(cy, cx, self.scales.chunk, window)
            scales[sl] = block[0][bl]
            present[sl] = True
        sh, sw = self.scales.shard
        shards = {
            (sy, sx) for sy in range(r0 // sh, (r0 + h - 1) // sh + 1) for sx in range(c0 // sw, (c0 + w - 1) // sw + 1)
        }
        self._check_recorded(t, shards)
        return scales, present

    def _check_recorded(self, t: int, shards: set[tuple[int, int]]) -> None:
        """Refuse to read as "no data" a scales shard that is absent although the fill records
        say it was written with data: both shards of a block deleted look like an unwritten
        block, and only the records tell them apart."""
        absent = {s for s in shards if self.scales.index(t, *s)[1] is None}
        if not absent:
            return
        recorded = self.recorded(self.years[t])
        lost = sorted(absent & recorded) if recorded else []
        if lost:
            raise StoreDamageError(
                f"shard {self.scales.shard_key(t, *lost[0])} is missing but the fill records say it was "
                f"written with data ({len(lost)} such shard(s) here): the store is damaged; "
                "`tessera verify --repair` removes them so that `tessera embed` reruns rewrite them"
            )

    @_confirmed
    def _read(self, window: Window, year: int, depth: int | None, quantized: bool) -> tuple[np.ndarray, np.ndarray]:
        t = self.time_index(year)
        emb, depth = self.embeddings(depth)
        r0, c0, h, w = window.row, window.col, window.height, window.width
        if not self.complete(year):  # never filled: its fill is not data, so nothing is read
            empty = np.zeros((h, w, depth), np.int8) if quantized else np.full((h, w, depth), np.nan, np.float32)
            return empty, np.full((h, w), np.nan, np.float32)
        scales, s_present = self._scales_window(t, window)
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
        need = stored if quantized else [c for c in stored if finite[self._slices(*c, emb.chunk, window)[0]].any()]
        # Fetched chunks write every pixel they cover: only the rest is filled here, so the
        # (often 100s of MB) result is written once, not twice.
        out = np.empty((h, w, depth), np.int8 if quantized else np.float32)
        covered = np.zeros((h, w), bool)
        for c in need:
            covered[self._slices(*c, emb.chunk, window)[0]] = True
        out[~covered] = 0 if quantized else np.nan

        def put(c: tuple[int, int], block: np.ndarray) -> None:
            sl, bl = self._slices(*c, emb.chunk, window)
            pixels = np.moveaxis(block[0, :depth][(slice(None), *bl)], 0, -1)  # (h, w, depth)
            if quantized:
                out[sl] = pixels
            else:
                dequantize(pixels, scales[sl], out=out[sl])

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
                "store is damaged; restore it, or `tessera verify --repair` and rerun `tessera embed`"
            )
        lonely = e_present & ~s_present
        if lonely.any():
            r, c = where(lonely)
            key = self.scales.shard_key(t, r // self.scales.shard[0], c // self.scales.shard[1])
            raise StoreDamageError(
                f"shard {key} is missing (or lacks chunks) while embeddings are stored there: "
                "the store is damaged; restore it, or `tessera verify --repair` and rerun `tessera embed`"
            )

    # -- points -------------------------------------------------------------------------------
    @_confirmed
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
        if not self.complete(year):
            status[inside] = INCOMPLETE
            return values, status.astype(str)
        r, c = rows[inside], cols[inside]
        scales = np.full(len(r), self.scales.spec.fill, np.float32)
        s_present = np.zeros(len(r), bool)
        groups = spatial_chunks(r, c, self.scales.chunk)
        sa, sb = self.scales.chunk

        def put_scales(key: tuple[int, int], block: np.ndarray) -> None:
            idx = groups[key]
            scales[idx] = block[0][r[idx] % sa, c[idx] % sb]
            s_present[idx] = True

        self.scales.fetch(t, groups, self.pool, sink=put_scales)
        per = (self.scales.shard[0] // sa, self.scales.shard[1] // sb)
        self._check_recorded(t, {(cy // per[0], cx // per[1]) for cy, cx in groups})
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
        status[inside] = np.where(finite, VALID, np.where(np.isnan(scales), self.nan_status, NODATA))
        return values, status.astype(str)

    # -- quality layers ---------------------------------------------------------------------
    @_confirmed
    def quality_window(self, window: Window, year: int) -> dict[str, np.ndarray]:
        """Each quality layer the group has over a window: (h, w) or (h, w, months) float32, NaN
        where the year is not complete."""
        out: dict[str, np.ndarray] = {}
        t = self.time_index(year)
        for name, array in self.quality.items():
            extra = array.spec.planes
            layer = np.full((window.height, window.width, *extra), np.nan, np.float32)
            if self.complete(year):
                layer[...] = array.spec.fill
                for c, block in array.fetch(
                    t, window_chunks(window.row, window.col, window.height, window.width, array.chunk), self.pool
                ).items():
                    sl, bl = self._slices(*c, array.chunk, window)
                    layer[sl] = np.moveaxis(block[0][(..., *bl)], 0, -1) if extra else block[0][bl]
            out[name] = cv.decode_reliability(layer) if name == cv.RELIABILITY else layer
        return out

    @_confirmed
    def status_window(self, window: Window, year: int) -> np.ndarray:
        """(h, w) of ``STATUSES`` indices over a window, from the scales alone (no embedding chunk
        is read): valid, this store's NaN meaning, no data; incomplete where the year is."""
        if not self.complete(year):
            return np.full((window.height, window.width), STATUSES.index(INCOMPLETE), np.float32)
        scales, _ = self._scales_window(self.time_index(year), window)
        codes = np.where(np.isnan(scales), STATUSES.index(self.nan_status), STATUSES.index(NODATA))
        return np.where(np.isfinite(scales), STATUSES.index(VALID), codes).astype(np.float32)

    @_confirmed
    def quality_points(self, rows: np.ndarray, cols: np.ndarray, year: int) -> dict[str, np.ndarray]:
        """Each quality layer at zone pixels: (N,) or (N, months) float32, NaN off the grid or
        where the year is not complete."""
        h, w = self.grid.shape
        inside = np.flatnonzero((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w))
        r, c = rows[inside], cols[inside]
        t = self.time_index(year)
        out: dict[str, np.ndarray] = {}
        for name, array in self.quality.items():
            extra = array.spec.planes
            layer = np.full((len(rows), *extra), np.nan, np.float32)
            if self.complete(year) and len(inside):
                got = np.full((len(r), *extra), array.spec.fill, np.float32)
                groups = spatial_chunks(r, c, array.chunk)
                a, b = array.chunk
                for key, block in array.fetch(t, groups, self.pool).items():
                    idx = groups[key]
                    pixels = block[0][..., r[idx] % a, c[idx] % b]
                    got[idx] = pixels.T if extra else pixels
                layer[inside] = got
            out[name] = cv.decode_reliability(layer) if name == cv.RELIABILITY else layer
        return out


class ZoneGroup(Protocol):
    """What a mosaic piece reads from: a ``ZoneReader``, or a zone joined from hemisphere groups."""

    @property
    def grid(self) -> Grid: ...

    @property
    def dims(self) -> int: ...

    @property
    def zone(self) -> Zone: ...

    def read(self, window: Window, year: int, depth: int | None = None) -> np.ndarray: ...

    def complete(self, year: int) -> bool: ...

    @_confirmed
    def quality_window(self, window: Window, year: int) -> dict[str, np.ndarray]: ...

    @_confirmed
    def status_window(self, window: Window, year: int) -> np.ndarray: ...


class ZoneYear:
    """A zone at one year and depth: a ``base.Piece`` of a mosaic. ``nominal``: only the pixels
    in the zone's nominal 6° band (a store whose zone grids overlap, as the global store's do)."""

    def __init__(self, reader: ZoneGroup, year: int, depth: int | None, nominal: bool = False) -> None:
        self.reader, self.year, self.depth, self.nominal = reader, year, depth, nominal
        self.grid: Grid = reader.grid
        self.embed_dim = depth or reader.dims

    def read(self, window: Window) -> np.ndarray:
        return keep_nominal(self.reader.read(window, self.year, self.depth), self, window)


def keep_nominal(values: np.ndarray, piece: ZoneYear, window: Window) -> np.ndarray:
    """NaN where a nominal piece's pixels lie outside its zone's 6° band."""
    if piece.nominal:
        values[~nominal_zone_mask(piece.grid.window(window), piece.reader.zone.number)] = np.nan
    return values
