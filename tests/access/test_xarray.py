"""Lazy xarray views: equal to the eager readers, CRS attached, nothing read before compute, and
plain ``xr.open_zarr`` reading our store."""

import numpy as np
import pytest
import xarray as xr

from tessera.access import AccessError, open_store
from tessera.access.xarray_view import dequantized, region_dataset, zone_dataset
from tessera.grid import Window
from tests.access.coord_store import DIMS, Z31, decode, zone_window

WIN = zone_window(Z31, 0.0, 0.01, 52.0, 52.01)


def test_a_zone_window_equals_the_eager_read_and_carries_its_crs(store_path):
    store = open_store(store_path)
    ds = zone_dataset(store, 31, window=WIN, chunk_px=48)
    assert ds.embeddings.dims == ("time", "band", "y", "x") and ds.embeddings.dtype == np.int8
    assert ds.embeddings.data.chunks[2][0] == 48 - WIN.row % 48  # chunk edges on the 48 px lattice
    eager, scales = store.zone(Z31).read_scaled(WIN, 2024)
    lazy = dequantized(ds.sel(time=2024)).transpose("y", "x", "band").values
    assert np.array_equal(lazy, eager, equal_nan=True)
    assert np.array_equal(ds.scales.sel(time=2024).values, scales, equal_nan=True)
    ok = np.isfinite(lazy[..., 0])
    assert ok.mean() > 0.99
    zone, row, col = decode(lazy[ok])
    rows, cols = np.nonzero(ok)
    assert (zone == 31).all() and (row == WIN.row + rows).all() and (col == WIN.col + cols).all()
    t = store.zone(Z31).grid.transform
    assert ds.x.values[0] == t.c + 10 * (WIN.col + 0.5) and ds.y.values[0] == t.f - 10 * (WIN.row + 0.5)
    assert ds.spatial_ref.attrs["crs_wkt"] and ds.embeddings.attrs["grid_mapping"] == "spatial_ref"
    rio = pytest.importorskip("rioxarray")
    assert rio and ds.rio.crs.to_epsg() == 32631
    assert ds.rio.transform().c == ds.x.values[0] - 5


def test_views_are_lazy_and_take_depths(store_path):
    store = open_store(store_path)
    ds = zone_dataset(store, "utm31", depth=4)  # the whole 1.84 M × 100 k px zone, nothing read
    assert ds.embeddings.shape == (1, 4, *store.zone(Z31).grid.shape) and ds.band.size == 4
    q, _ = store.zone(Z31).read_quantized(WIN, 2024, depth=4)
    rows = slice(WIN.row + 3, WIN.row + 40, 5)
    got = ds.embeddings.isel(time=0, y=rows, x=WIN.col + 7).values  # a strided column: only it is read
    assert np.array_equal(got, q[3:40:5, 7].T)  # (band, y) from (y, x, band)
    region = region_dataset(store, (0.001, 52.001, 0.009, 52.009))
    assert region.embeddings.chunks is not None  # dask-backed, one task per shard
    values = np.moveaxis(dequantized(region).isel(time=0).values, 0, -1)
    ok = np.isfinite(values[..., 0])
    assert values.shape[-1] == DIMS and ok.mean() > 0.99 and (decode(values[ok])[0] == 31).all()


def test_bad_requests_are_one_line_errors(store_path):
    with pytest.raises(AccessError, match="no zone group utm33"):
        zone_dataset(store_path, 33)
    with pytest.raises(AccessError, match="not inside"):
        zone_dataset(store_path, 31, window=Window(-5, 0, 10, 10))
    with pytest.raises(AccessError, match="depth 99"):
        zone_dataset(store_path, 31, depth=99)


def test_plain_open_zarr_reads_our_store(store_path):
    # chunks=None: lazy indexing without dask; dask at the 32 px inner chunks would be 180 M tasks a zone
    ds = xr.open_zarr(store_path, group="utm31", consolidated=True, chunks=None)
    eager, scales = open_store(store_path).zone(Z31).read_scaled(WIN, 2024)
    q = ds.embeddings.isel(time=0, y=WIN.slices[0], x=WIN.slices[1]).values
    s = ds.scales.isel(time=0, y=WIN.slices[0], x=WIN.slices[1]).values
    assert np.array_equal(s, scales, equal_nan=True)
    ok = np.isfinite(s)
    assert np.array_equal(np.moveaxis(q, 0, -1)[ok] * s[ok][:, None], eager[ok])
    assert list(ds.time.values) == [2024] and ds.x.size == 100_000
