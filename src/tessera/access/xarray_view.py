"""Lazy xarray views of a store: a whole zone (lazily indexed; dask on request) or the zone window
under a bbox (dask-backed, one task per shard).

Every read goes through ``ZoneReader`` — the same crc32c and pair checks as every other read, so
damage raises ``StoreDamageError`` naming the shard when values are read, never numbers. Nothing
is read until ``.compute()``/``.values``, and then only the pixels selected. A whole zone is
1.84 M × 100 k px: select (``.isel``/``.sel``) before ``dequantized`` or ``.chunk``. The CRS is attached
the rioxarray way (a ``spatial_ref`` coordinate with CF grid-mapping attributes and the
GeoTransform; ``grid_mapping`` on each variable), so ``ds.rio.crs`` works when rioxarray is
installed. Plain ``xr.open_zarr(store, group="utm31", consolidated=True, chunks=None)`` also reads
our stores (``chunks=None``: dask at the 32 px inner chunks would be ~180 M tasks per zone);
this view adds the damage checks, Matryoshka depths and remote sources.

>>> ds = zone_dataset("embeddings.zarr", 31)                          # doctest: +SKIP
>>> emb = dequantized(ds.sel(time=2024))                               # float32, NaN = no value
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from tessera.access.dispatch import open_store
from tessera.access.hemispheres import AnyZone
from tessera.access.store_reader import StoreReader
from tessera.errors import AccessError
from tessera.grid import BBox, Window
from tessera.store import Zone


def _zone_reader(store, zone: int | str | Zone) -> AnyZone:
    if not isinstance(store, StoreReader):
        store = open_store(store)
        if not isinstance(store, StoreReader):
            raise AccessError(f"{store.location} is a tile directory; xarray views need a Zarr store")
    zone = zone if isinstance(zone, Zone) else Zone.from_name(zone) if isinstance(zone, str) else Zone(int(zone))
    reader = store.zone(zone)
    if reader is None:
        raise AccessError(
            f"{store.location} has no zone group {zone.name}; it holds "
            f"{', '.join(z.name for z in store.zones()) or 'none'}"
        )
    return reader


def _spatial_ref(reader: AnyZone) -> dict:
    """rioxarray's ``spatial_ref`` attributes: CF grid mapping, WKT and GDAL GeoTransform."""
    from pyproj import CRS

    t = reader.grid.transform
    attrs = CRS.from_epsg(reader.zone.epsg).to_cf()
    attrs["spatial_ref"] = attrs["crs_wkt"]
    attrs["GeoTransform"] = " ".join(str(v) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    return attrs


def _chunks(total: int, size: int, start: int = 0) -> tuple[int, ...]:
    """Chunk sizes covering [start, start + total) with edges on multiples of ``size``."""
    edges = [start, *range((start // size + 1) * size, start + total, size), start + total]
    return tuple(b - a for a, b in itertools.pairwise(edges))


class _Window(BackendArray):
    """Lazily indexed (time, band, y, x) int8 or (time, y, x) float32 over a zone window (an
    xarray backend array): indexing reads only the pixels asked for, through the zone reader."""

    def __init__(
        self, reader: AnyZone, years: list[int], win: Window, depth: int, kind: str, planes: tuple[int, ...] = ()
    ) -> None:
        self.reader, self.years, self.win, self.depth, self.kind = reader, years, win, depth, kind
        planes = (depth,) if kind == "embeddings" else planes  # a quality layer's months, if any
        self.shape = (len(years), *planes, win.height, win.width)
        self.dtype = np.dtype(np.int8 if kind == "embeddings" else np.float32)

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        """``key``: an int or a slice per axis. Reads the bounding window once per year asked for."""
        picks = [np.arange(n)[k] for k, n in zip(key, self.shape, strict=True)]
        picks = [np.atleast_1d(p) for p in picks]
        if any(p.size == 0 for p in picks):
            return np.empty(
                [p.size for p, k in zip(picks, key, strict=True) if not isinstance(k, int | np.integer)], self.dtype
            )
        rows, cols = picks[-2], picks[-1]
        window = Window(
            self.win.row + int(rows.min()),
            self.win.col + int(cols.min()),
            int(rows.max() - rows.min()) + 1,
            int(cols.max() - cols.min()) + 1,
        )
        parts = []
        for t in picks[0]:
            if self.kind not in ("embeddings", "scales"):  # a quality layer: (y, x) or (y, x, months)
                layer = self.reader.quality_window(window, self.years[int(t)])[self.kind]
                block = np.moveaxis(layer, -1, 0)[picks[1]] if layer.ndim == 3 else layer
                parts.append(block[..., rows - rows.min(), :][..., cols - cols.min()])
                continue
            q, scales = self.reader.read_quantized(window, self.years[int(t)], self.depth)
            q = np.moveaxis(q, -1, 0)  # the view is (band, y, x), as the store
            block = q[picks[1]] if self.kind == "embeddings" else scales
            parts.append(block[..., rows - rows.min(), :][..., cols - cols.min()])
        out = np.stack(parts)
        return out[tuple(0 if isinstance(k, int | np.integer) else slice(None) for k in key)]


def zone_dataset(
    store: StoreReader,
    zone: int | str | Zone,
    depth: int | None = None,
    window: Window | None = None,
    chunk_px: int | None = None,
) -> xr.Dataset:
    """A lazy ``xarray.Dataset`` of a zone (or a window of it): ``embeddings`` int8 (time, band, y,
    x) and ``scales`` float32 (time, y, x) as stored (+inf no data, NaN water or, in the global
    store, unembedded), the store's quality layers where it has them (float32 (time, y, x), month
    coverage (time, month, y, x); NaN where a year is not complete), coordinates x/y (pixel
    centres, EPSG:326NN metres), time (years), band; ``depth`` selects a Matryoshka prefix.

    Lazily indexed (nothing is read until values are asked for, and then only those pixels); with
    ``chunk_px`` dask-backed, chunk edges on multiples of ``chunk_px`` in zone pixels (pick a
    multiple of the shard size; a whole zone at 1024 px is ~180 k tasks: select first).
    """
    if not isinstance(store, StoreReader):
        store = open_store(store)
    reader = _zone_reader(store, zone)
    _, depth = reader.embeddings(depth)
    h, w = reader.grid.shape
    win = window or Window(0, 0, h, w)
    if (
        win.row < 0
        or win.col < 0
        or win.row + win.height > h
        or win.col + win.width > w
        or win.height < 1
        or win.width < 1
    ):
        raise AccessError(f"window {win} is not inside zone {reader.zone.name}'s {h}×{w} grid")
    years = reader.years
    gm = {"grid_mapping": "spatial_ref"}
    variables = {
        kind: xr.Variable(dims, indexing.LazilyIndexedArray(_Window(reader, years, win, depth, kind)), gm)
        for kind, dims in (("embeddings", ("time", "band", "y", "x")), ("scales", ("time", "y", "x")))
    }
    for name, extra in store.quality_layers.items():
        dims = ("time", "month", "y", "x") if extra else ("time", "y", "x")
        variables[name] = xr.Variable(
            dims, indexing.LazilyIndexedArray(_Window(reader, years, win, 0, name, extra)), gm
        )
    t = reader.grid.transform
    ds = xr.Dataset(
        variables,
        coords={
            "time": np.asarray(years, np.int32),
            "band": np.arange(depth, dtype=np.int32),
            **({"month": np.arange(1, 13, dtype=np.int32)} if store.quality_layers else {}),
            "y": t.f + t.e * (np.arange(win.row, win.row + win.height) + 0.5),
            "x": t.c + t.a * (np.arange(win.col, win.col + win.width) + 0.5),
            "spatial_ref": ((), 0, _spatial_ref(reader)),
        },
        attrs={"zone": reader.name, "epsg": reader.zone.epsg, "source": reader.source.location},
    )
    if chunk_px is None:
        return ds
    return ds.chunk(
        {"time": 1, "band": -1, "y": _chunks(win.height, chunk_px, win.row), "x": _chunks(win.width, chunk_px, win.col)}
    )


def region_dataset(store: StoreReader, bbox: BBox, depth: int | None = None, chunk_px: int | None = None) -> xr.Dataset:
    """A dask-backed ``zone_dataset`` of the window under a lon/lat bbox, in the zone of the bbox's
    centre (the grid ``read_region`` uses by default; across zone edges use ``read_region``, which
    mosaics). Chunks default to the store's shards."""
    from tessera.access.region import target_grid
    from tessera.store import lattice_window

    if not isinstance(store, StoreReader):
        store = open_store(store)
    grid = target_grid(bbox)
    zone = Zone.from_epsg(grid.epsg)
    reader = _zone_reader(store, zone)
    win = lattice_window(grid, reader.grid)
    return zone_dataset(store, zone, depth, win, chunk_px or reader.scales.shard[0])


def dequantized(ds: xr.Dataset) -> xr.DataArray:
    """Float32 embeddings (time, band, y, x) of a ``zone_dataset``: int8 × scale, NaN where the
    scale is not finite (water, no data), equal to the eager readers' values. Lazy on a
    dask-backed dataset; on a lazily indexed one it reads what ``ds`` selects."""

    finite = np.isfinite(ds.scales)
    values = ds.embeddings.astype(np.float32) * ds.scales.where(finite)
    return xr.DataArray(
        values.data, coords=ds.embeddings.coords, dims=ds.embeddings.dims, attrs=ds.embeddings.attrs, name="embeddings"
    )


def dataset(
    store: StoreReader | str,
    bbox: BBox | None = None,
    zone: int | str | Zone | None = None,
    depth: int | None = None,
    chunk_px: int | None = None,
) -> xr.Dataset:
    """The xarray front door: ``region_dataset`` under ``bbox``, else the ``zone_dataset`` of
    ``zone`` (or of the store's only zone). ``ds.tessera`` then dequantizes, names the CRS and
    writes a copy (``TesseraAccessor``)."""
    reader = store if isinstance(store, StoreReader) else open_store(store)
    if not isinstance(reader, StoreReader):
        raise AccessError(f"{reader.location} is not a Zarr embedding store: read it with read_region instead")
    if bbox is not None:
        return region_dataset(reader, bbox, depth, chunk_px)
    if zone is None:
        zones = reader.zones()
        if len(zones) != 1:
            raise AccessError(
                f"{reader.location} has zones {', '.join(z.name for z in zones)}: give bbox=(W, S, E, N) or zone="
            )
        zone = zones[0]
    return zone_dataset(reader, zone, depth, None, chunk_px)


@xr.register_dataset_accessor("tessera")
class TesseraAccessor:
    """``ds.tessera`` on a ``zone_dataset`` / ``region_dataset``: ``.embeddings()`` float32 values,
    ``.crs``, ``.to_zarr(path)`` (a copy with the uniform chunks Zarr needs: the views' chunk edges
    follow the store's shards, so a window's first chunk is often a partial one)."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    @property
    def crs(self) -> str:
        epsg = self._ds.attrs.get("epsg")
        if epsg is None:
            raise AccessError("this dataset is not a tessera zone or region view (no epsg attribute)")
        return f"EPSG:{epsg}"

    def embeddings(self) -> xr.DataArray:
        return dequantized(self._ds)

    def to_zarr(self, path: str | os.PathLike, **kwargs: Any) -> Any:
        ds = self._ds
        if ds.chunks:
            side = max(max(ds.chunks.get("y", (1,))), max(ds.chunks.get("x", (1,))))
            ds = ds.chunk({d: (side if d in ("y", "x") else -1) for d in ds.dims})
        for var in ds.variables.values():
            var.encoding.pop("chunks", None)
        return ds.to_zarr(path, **kwargs)
