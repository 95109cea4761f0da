"""The geotessera layout: the official client reads our export offline and gets our numbers."""

import numpy as np
import pytest

from tessera.access import open_store
from tessera.access.geotessera import export_tiles, tile_centres, tile_grid
from tessera.access.region import read_grid
from tessera.quantize import dequantize, quantize
from tests.access.coord_store import BBOX


def test_tile_centres_follow_the_official_naming():
    assert tile_centres((0.12, 52.21, 0.14, 52.22)) == [(0.15, 52.25)]
    assert tile_centres((-0.01, 52.0, 0.01, 52.01)) == [(-0.05, 52.05), (0.05, 52.05)]
    assert tile_centres((0.0, 52.0, 0.2, 52.1)) == [(0.05, 52.05), (0.15, 52.05)]


def test_official_client_reads_our_export_offline(store_path, tmp_path, monkeypatch):
    gt = pytest.importorskip("geotessera")
    out = tmp_path / "gt"
    records = export_tiles(open_store(store_path), BBOX, 2024, out)
    assert {(r.lon, r.lat) for r in records} == {(-0.05, 52.05), (0.05, 52.05)}
    # No network: any attempt to open a URL fails the test.
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail(f"network access: {a}"))
    client = gt.GeoTessera(embeddings_dir=out, registry_dir=out, cache_dir=tmp_path / "gtcache")
    store = open_store(store_path)
    for r in records:
        emb, crs, transform = client.fetch_embedding(r.lon, r.lat, 2024)
        grid = tile_grid(r.lon, r.lat)
        ours = dequantize(*quantize(read_grid(store, grid, 2024).data))
        assert crs.to_epsg() == grid.epsg and transform == grid.transform
        assert emb.shape == ours.shape and np.array_equal(emb, ours, equal_nan=True)
        assert (~np.isnan(emb).any(-1)).sum() > 1000
