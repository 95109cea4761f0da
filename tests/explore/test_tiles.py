"""Tiles any XYZ client can show: tile maths against morecantile's own, tiles georeferenced to
the store's pixels (checked at tile pixel centres, as a GIS places them), TileJSON, and
``tessera tiles`` fetched the way QGIS fetches."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import numpy as np
import pytest

from tests.explore.live import json_of, png_rgba

QGIS = {"User-Agent": "Mozilla/5.0 QGIS/34000/Linux"}


def _tile_centres(z: int, x: int, y: int, px: np.ndarray, py: np.ndarray):
    """lon/lat of tile pixel centres."""
    from rasterio.warp import transform

    from tessera.explore.tiles import tile_grid

    g = tile_grid(z, x, y)
    t = g.transform
    xs, ys = t.c + (px + 0.5) * t.a, t.f + (py + 0.5) * t.e
    lons, lats = transform("EPSG:3857", "EPSG:4326", list(xs), list(ys))
    return np.array(lons), np.array(lats)


def test_tile_grid_and_zooms_match_the_tile_matrix():
    import morecantile

    from tessera.errors import NoTileError
    from tessera.explore.tiles import tile_grid, zoom_range

    tms = morecantile.tms.get("WebMercatorQuad")
    g = tile_grid(15, 16400, 10800)
    b = tms.xy_bounds(morecantile.Tile(16400, 10800, 15))
    assert g.shape == (256, 256) and g.crs == "EPSG:3857"
    assert np.allclose(
        [g.bounds.left, g.bounds.bottom, g.bounds.right, g.bounds.top], [b.left, b.bottom, b.right, b.top]
    )
    z = zoom_range(52.2)  # 10 m at 52°N spans 16.3 projected m: zoom 14's 9.55 m pixels are the first finer
    assert z.native == 14 and z.min == 11 and z.max == 18
    assert zoom_range(0.0).native == 14 and zoom_range(70.0).native == 13
    with pytest.raises(NoTileError, match="does not exist"):
        tile_grid(3, 8, 0)
    with pytest.raises(NoTileError, match="out of range"):
        z.check(10)


def test_cache_is_bounded_and_dropped_per_layer():
    from tessera.explore.tiles import TileCache

    cache = TileCache(max_bytes=100)
    for i in range(5):
        cache.put(("a", 0, i), b"x" * 30)
    assert cache.get(("a", 0, 0)) is None and cache.get(("a", 0, 4)) == b"x" * 30  # oldest out first
    cache.put(("b", 0, 0), b"y")
    cache.drop("a")
    assert cache.get(("a", 0, 4)) is None and cache.get(("b", 0, 0)) == b"y"


def test_explorer_tiles_sit_on_the_store_pixels(explorable, tmp_path):
    """Every tile pixel shows the PCA colour of the area pixel holding its centre."""
    from rasterio.warp import transform

    from tessera.access import open_store
    from tessera.access.extent import written_grid
    from tessera.explore.project import Project
    from tessera.explore.render import render
    from tessera.explore.tiles import tiles_over
    from tessera.explore.workspace import Workspace

    reader = open_store(explorable.store)
    ws = Workspace(reader, 2024, written_grid(reader, 2024), Project.open(tmp_path / "p"))
    layer, area = ws.layers["pca"], ws.area
    checked = 0
    for z in (ws.zooms.native, ws.zooms.native + 2):
        for _, x, y in tiles_over(area.bounds, z):
            tile = png_rgba(render(layer, z, x, y, {}))
            py, px = np.mgrid[0:256:7, 0:256:7]
            lons, lats = _tile_centres(z, x, y, px.ravel(), py.ravel())
            xs, ys = transform("EPSG:4326", area.grid.crs, list(lons), list(lats))
            rows, cols = area.grid.pixel_of(xs, ys)
            inside = (rows >= 0) & (rows < area.grid.height) & (cols >= 0) & (cols < area.grid.width)
            got = tile[py.ravel(), px.ravel()]
            assert (got[~inside, 3] == 0).all(), "tile pixels beyond the area must be transparent"
            if not inside.any():
                continue
            want = layer.values.data[rows[inside], cols[inside]]
            assert (got[inside] == want).all(axis=1).mean() > 0.99
            checked += int(inside.sum())
    assert checked > 1000


def test_tessera_tiles_serves_a_head_qgis_can_show(explorable, serve, saved_heads):
    """The XYZ template from TileJSON, tiles fetched with QGIS's user agent: each tile pixel is the
    head's class (in its legend colour) of the store pixel under its centre."""
    from tessera.access import open_store
    from tessera.explore.layers import TAB10, hex_rgb
    from tessera.explore.tiles import tiles_over

    model, ours, _ = saved_heads
    server = serve("tiles", str(explorable.store), "--layer", f"head:{ours}")
    with urllib.request.urlopen(urllib.request.Request(server.base + "/tilejson.json", headers=QGIS)) as r:
        doc = json_of(r.read())
    assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz" and doc["minzoom"] < doc["maxzoom"]
    template = doc["tiles"][0]
    reader = open_store(explorable.store)
    z = doc["center"][2]
    agree = total = 0
    for _, x, y in tiles_over(tuple(doc["bounds"]), z):
        url = template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
        with urllib.request.urlopen(urllib.request.Request(url, headers=QGIS)) as r:
            assert r.headers["Content-Type"] == "image/png"
            tile = png_rgba(r.read())
        py, px = np.mgrid[0:256:4, 0:256:4]
        lons, lats = _tile_centres(z, x, y, px.ravel(), py.ravel())
        sample = reader.sample_points(np.column_stack([lons, lats]), 2024)
        ok = sample.status == "valid"
        got = tile[py.ravel(), px.ravel()]
        assert (got[~ok, 3] == 0).all()
        want = np.array([hex_rgb(TAB10[c]) for c in model.predict(sample.values[ok])])
        agree += int((got[ok, :3] == want).all(axis=1).sum())
        total += int(ok.sum())
    assert total > 200 and agree / total > 0.99
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.base + f"/{z - 3}/0/0.png")
    assert err.value.code == 404 and b"out of range" in err.value.read()


def test_tiles_refuse_a_head_of_another_model_in_one_line(explorable, saved_heads):
    _, _, other = saved_heads
    r = subprocess.run(
        [sys.executable, "-m", "tessera", "tiles", str(explorable.store), "--layer", f"head:{other}", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "someone-else/v9" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_folded_logistic_head_is_the_pipeline():
    """The explorer applies a logistic head as one affine map: the same classes and probabilities."""
    from tessera.heads import make_head
    from tessera.heads.confidence import apply_head, linear_form

    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 16)).astype(np.float32) * 3 + 1
    for n_classes in (2, 4):
        y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1) * (n_classes - 2)
        model = make_head("logistic").fit(x, y)
        assert linear_form(model) is not None
        emb = x.reshape(15, 20, 16).copy()
        emb[3, 4] = np.nan
        classes, conf = apply_head(model, emb)
        proba = model.predict_proba(x)
        want = model.classes_[proba.argmax(1)].reshape(15, 20)
        assert classes[3, 4] == -1 and np.isnan(conf[3, 4])
        ok = ~np.isnan(emb).any(axis=2)
        assert (classes[ok] == want[ok]).all()
        assert np.allclose(conf[ok], proba.max(1).reshape(15, 20)[ok], atol=1e-4)
    assert linear_form(make_head("knn").fit(x, y)) is None


def test_centred_similarity_matches_a_reference():
    from tessera.explore.layers import centred_norms, centred_similarity

    rng = np.random.default_rng(2)
    emb = rng.standard_normal((9, 11, 8)).astype(np.float32) + 5
    emb[0, 0] = np.nan
    centre, q = emb[1:].reshape(-1, 8).mean(0), emb[4, 4]
    x = emb.reshape(-1, 8).astype(np.float64) - centre
    qc = q.astype(np.float64) - centre
    want = (x @ qc / (np.linalg.norm(x, axis=1) * np.linalg.norm(qc))).reshape(9, 11)
    for norms in (None, centred_norms(emb, centre)):
        got = centred_similarity(emb, q, centre, norms)
        assert np.isnan(got[0, 0]) and np.allclose(got[1:], want[1:], atol=1e-5) and abs(got[4, 4] - 1) < 1e-5
