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


def test_open_store_reads_the_geotessera_layout_like_the_store(store_path, tmp_path):
    store = open_store(store_path)
    export_tiles(store, BBOX, 2024, tmp_path / "gt")
    tiles = open_store(tmp_path / "gt")
    assert tiles.years == [2024]
    a, b = tiles.read_region(BBOX, 2024), store.read_region(BBOX, 2024)
    assert a.grid == b.grid
    # Where the zones overlap (−0.002° to 0°) the store prefers 31N's own pixels, while the tiles
    # hold 30N's there (the western tile lies in 30N): both right, different source pixels.
    same_zone = np.nan_to_num(a.data[..., 1]) == np.nan_to_num(b.data[..., 1])
    assert same_zone.mean() > 0.8 and same_zone[:, a.grid.width // 2 :].all()
    assert np.allclose(a.data[same_zone], b.data[same_zone], equal_nan=True, rtol=1e-6)
    pts = np.column_stack([np.linspace(-0.009, 0.009, 40), np.linspace(52.001, 52.009, 40)])
    pa, pb = tiles.sample_points(pts, 2024), store.sample_points(pts, 2024)
    assert np.allclose(pa.values, pb.values, equal_nan=True, rtol=1e-6) and list(pa.status) == list(pb.status)
    assert tiles.probe(5.0, 52.0, 2024)[1] == "outside"


def test_a_truncated_tile_is_a_clear_error(store_path, tmp_path):
    from tessera.access import AccessError

    export_tiles(open_store(store_path), BBOX, 2024, tmp_path / "gt")
    npy = next((tmp_path / "gt").rglob("grid_0.05_52.05.npy"))
    npy.write_bytes(npy.read_bytes()[: npy.stat().st_size // 2])
    with pytest.raises(AccessError, match="truncated"):
        open_store(tmp_path / "gt").read_region(BBOX, 2024)
