"""Reading the store: points, regions, patches and strips, across blocks and UTM zones.

The test store's values encode where they were written — zone number and zone-lattice row and
column of every pixel — so any seam, shift or wrong zone shows up as a wrong decoded position.
"""

import json

import numpy as np
import pytest
from pyproj import Transformer

from tessera.access import NODATA, OUTSIDE, VALID, AccessError, open_store
from tessera.errors import InputNotFoundError
from tessera.store import Provenance, StoreError, StoreLayout
from tests.access.coord_store import BBOX, DIMS, NODATA_PX, Z30, Z31, decode, encode, zone_pixels, zone_window
from tests.tessera_cli import run_tessera


def centres_in(crs_from: str, crs_to: str, xs, ys):
    return Transformer.from_crs(crs_from, crs_to, always_xy=True).transform(xs, ys)


def test_region_in_a_zone_crs_is_exact_and_seamless_across_zones_and_blocks(store_path):
    store = open_store(store_path)
    reg = store.read_region(BBOX, 2024)
    assert reg.crs == "EPSG:32631" and reg.data.shape[2] == 10
    valid = ~np.isnan(reg.data).any(-1)
    zone, row, col = decode(np.nan_to_num(reg.data))
    own = valid & (zone == 31)
    # Own-zone pixels are copies: row/col are exactly the lattice position of the output pixel.
    t = reg.transform
    z = Z31.grid().transform
    r0, c0 = round((z.f - t.f) / 10), round((t.c - z.c) / 10)
    ii, jj = np.mgrid[: reg.grid.height, : reg.grid.width]
    assert np.array_equal(row[own], (r0 + ii)[own]) and np.array_equal(col[own], (c0 + jj)[own])
    # Pixels from 30N (west of 31N's coverage) are nearest-neighbour: their source centre lies
    # within half a pixel diagonal of the output pixel's centre.
    other = valid & (zone == 30)
    assert other.sum() > 100 and own.sum() > 100
    zg = Z30.grid().transform
    sx, sy = zg.c + 10 * (col[other] + 0.5), zg.f - 10 * (row[other] + 0.5)
    x, y = centres_in("EPSG:32630", "EPSG:32631", sx, sy)
    tx, ty = t.c + 10 * (jj[other] + 0.5), t.f - 10 * (ii[other] + 0.5)
    assert np.hypot(x - tx, y - ty).max() <= 7.2
    # No seams: every pixel is data except the deliberate no-data pixels.
    assert (~valid).sum() <= len(NODATA_PX)


def test_region_in_geographic_coordinates(store_path):
    store = open_store(store_path)
    reg = store.read_region(BBOX, 2024, crs="EPSG:4326")
    valid = ~np.isnan(reg.data).any(-1)
    assert valid.mean() > 0.99
    zone, row, col = decode(np.nan_to_num(reg.data))
    ii, jj = np.mgrid[: reg.grid.height, : reg.grid.width]
    t = reg.transform
    lon, lat = t.c + t.a * (jj + 0.5), t.f + t.e * (ii + 0.5)
    for z in (Z30, Z31):
        sel = valid & (zone == z.number)
        zg = z.grid().transform
        x, y = centres_in("EPSG:4326", f"EPSG:{z.epsg}", lon[sel], lat[sel])
        sx, sy = zg.c + 10 * (col[sel] + 0.5), zg.f - 10 * (row[sel] + 0.5)
        assert np.hypot(x - sx, y - sy).max() <= 7.2


def test_points_match_their_own_zone_pixel_with_status(store_path):
    store = open_store(store_path)
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-0.01, 0.01, 500), rng.uniform(52.0, 52.01, 500)])
    pts = np.vstack([pts, [[10.0, 52.0], [20.0, 10.0]]])  # two points in zones the store lacks
    s = store.sample_points(pts, 2024)
    assert s.values.shape == (502, 10)
    assert list(s.status[-2:]) == [OUTSIDE, OUTSIDE] and np.isnan(s.values[-2:]).all()
    ok = s.status == VALID
    assert ok.sum() >= 495 and set(s.status[:500]) <= {VALID, NODATA}
    zone, row, col = decode(s.values[ok])
    for i, (lon, lat) in enumerate(pts[ok]):
        z = Z30 if lon < 0 else Z31
        r, c = zone_pixels(z, np.array([lon]), np.array([lat]))
        assert (zone[i], row[i], col[i]) == (z.number, r[0], c[0])
    vec, status = store.probe(*pts[0], 2024)
    assert status == s.status[0] and np.array_equal(vec, s.values[0], equal_nan=True)


def test_geojson_points(store_path, tmp_path):
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [0.005, 52.005]}, "properties": {}}]
    (tmp_path / "p.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    s = open_store(store_path).sample_points(tmp_path / "p.geojson", 2024)
    assert s.values.shape == (1, 10) and s.status[0] in (VALID, NODATA)


def test_patch_is_centred_and_strips_reassemble_the_region(store_path):
    store = open_store(store_path)
    patch = store.read_patch(0.005, 52.005, 2024, 5)
    r, c = zone_pixels(Z31, np.array([0.005]), np.array([52.005]))
    _, row, col = decode(np.nan_to_num(patch.data[2, 2]))
    assert (row, col) == (r[0], c[0]) and patch.data.shape == (5, 5, 10)
    whole = store.read_region(BBOX, 2024)
    strips = list(store.iter_region(BBOX, 2024, strip_rows=37))
    assert len(strips) > 1
    assert np.array_equal(np.concatenate([s.data for s in strips]), whole.data, equal_nan=True)


@pytest.mark.parametrize(
    "bbox, match",
    [
        ((0.01, 52.0, -0.01, 52.01), "antimeridian or is inverted"),
        ((-0.01, 52.01, 0.01, 52.0), "min lat > max lat"),
        ((0.0, 52.0, 0.0, 52.01), "empty"),
        ((-0.01, 52.0, 0.01, 95.0), "latitude"),
        ((170.0, 52.0, -170.0, 53.0), "antimeridian"),
        ((1, 2, 3), "four numbers"),
    ],
)
def test_bad_bboxes(store_path, bbox, match):
    with pytest.raises(AccessError, match=match):
        open_store(store_path).read_region(bbox, 2024)


def test_bad_years_points_and_locations(store_path, tmp_path):
    store = open_store(store_path)
    with pytest.raises(AccessError, match="no embeddings for 2019"):
        store.read_region(BBOX, 2019)
    with pytest.raises(AccessError, match="latitude"):
        store.sample_points([[0.0, 91.0]], 2024)
    with pytest.raises(InputNotFoundError):
        open_store(tmp_path / "nothing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(StoreError, match="not a Zarr store"):
        open_store(tmp_path / "plain")
    assert store.years == [2024] and store.zones() == [Z30, Z31]
    assert sum(r["pixels"] + r["nodata"] for r in store.coverage()) > 0


def test_access_and_store_never_import_torch():
    import subprocess
    import sys

    code = "import sys, tessera.access, tessera.store; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_cli_info_sample_export(store_path, tmp_path):
    import rasterio

    r = run_tessera("info", store_path, "--json", in_process=True)
    assert r.returncode == 0, r.stderr
    groups = json.loads(r.stdout)["groups"]
    assert [(g["year"], g["zone"]) for g in groups] == [(2024, "utm30"), (2024, "utm31")]
    assert all(g["blocks"] > 0 and g["pixels"] > 0 for g in groups)

    (tmp_path / "pts.csv").write_text("id,lon,lat\nA7,0.005,52.005\nB2,-0.005,52.005\nC9,10.0,52.0\n")
    r = run_tessera(
        "sample", store_path, tmp_path / "pts.csv", "--year", "2024", "-o", tmp_path / "out.csv", in_process=True
    )
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].startswith("id,lon,lat,status,e0") and len(lines) == 4 and lines[3].split(",")[3] == OUTSIDE
    assert lines[1].startswith("A7,0.005,52.005,valid,") and "np.float" not in "".join(lines)
    direct = open_store(store_path).sample_points([[0.005, 52.005]], 2024).values[0]
    assert np.array_equal([np.float32(v) for v in lines[1].split(",")[4:]], direct)  # full precision

    r = run_tessera(
        "export", store_path, tmp_path / "r.tif", "--bbox", ",".join(map(str, BBOX)), "--year", "2024", in_process=True
    )
    assert r.returncode == 0, r.stderr
    region = open_store(store_path).read_region(BBOX, 2024)
    with rasterio.open(tmp_path / "r.tif") as src:
        assert src.crs.to_epsg() == 32631 and src.transform == region.transform and src.count == 10
        assert np.array_equal(src.read().transpose(1, 2, 0), region.data, equal_nan=True)
        assert src.tags()["checkpoint_sha256"] == "0" * 64
    r = run_tessera(
        "export",
        store_path,
        tmp_path / "q.tif",
        "--bbox",
        ",".join(map(str, BBOX)),
        "--year",
        "2024",
        "--int8",
        in_process=True,
    )
    assert r.returncode == 0, r.stderr
    with rasterio.open(tmp_path / "q.tif") as q, rasterio.open(tmp_path / "q_scales.tif") as s:
        back = q.read().transpose(1, 2, 0).astype(np.float32) * s.read(1)[..., None]
    assert np.allclose(back, region.data, equal_nan=True)

    r = run_tessera("export", store_path, tmp_path / "x.tif", "--bbox", "1,2,3", "--year", "2024", in_process=True)
    assert r.returncode == 2 and "four comma-separated" in r.stderr and "Traceback" not in r.stderr
    r = run_tessera(
        "export", store_path, tmp_path / "x.tif", "--bbox", ",".join(map(str, BBOX)), "--year", "2019", in_process=True
    )
    assert r.returncode == 2 and "no embeddings for 2019" in r.stderr


def test_direct_shard_reads_equal_zarr_indexing(store_path):
    """Our reader parses shards itself; it must agree with Zarr everywhere, including pixels in
    unwritten chunks and shards (fill values), for points and windows."""
    import zarr

    from tessera.grid import Window

    reader = open_store(store_path).zone(Z31)
    emb = zarr.open_array(str(store_path / "utm31" / "embeddings"), mode="r")
    sc = zarr.open_array(str(store_path / "utm31" / "scales"), mode="r")
    rows, cols = zone_pixels(Z31, np.array([0.005]), np.array([52.005]))
    win = Window(int(rows[0]) - 70, int(cols[0]) - 70, 140, 150)
    q, s = (
        emb[0, :, win.row : win.row + 140, win.col : win.col + 150],
        sc[0, win.row : win.row + 140, win.col : win.col + 150],
    )
    expect = np.where(np.isfinite(s), s, np.nan)[..., None] * np.moveaxis(q, 0, -1).astype(np.float32)
    assert np.array_equal(reader.read(win, 2024), expect, equal_nan=True)
    assert np.isinf(s).any() and np.isfinite(s).any()
    rng = np.random.default_rng(3)
    r, c = win.row + rng.integers(0, 140, 3000), win.col + rng.integers(0, 150, 3000)
    vals, status = reader.points(r, c, 2024)
    assert np.array_equal(vals, expect[r - win.row, c - win.col], equal_nan=True)
    assert set(status) == {VALID, NODATA}


def test_reads_take_several_years_and_stack_them(tmp_path):
    from tessera.store import blocks, open_for_write

    prov = Provenance({"checkpoint_sha256": "1" * 64}, {"seed": 0}, "test")
    store = open_for_write(tmp_path / "two", prov, DIMS, StoreLayout(shard=64))
    win = zone_window(Z31, 0.001, 0.009, 52.001, 52.006)
    for year in (2024, 2022):
        writer = store.ensure(year, Z31, prov, DIMS)
        for shard, piece in blocks(win, writer.layout):
            q = encode(Z31, piece)
            writer.write_block(shard, piece, q, np.full(q.shape[:2], year - 2020, np.float32), "t")
    s = open_store(tmp_path / "two")
    pts = [[0.004, 52.003], [0.006, 52.004], [3.0, 52.0]]
    both = s.sample_points_years(pts, [2022, 2024])
    assert both.values.shape == (2, 3, DIMS) and both.status.shape == (2, 3)
    for i, year in enumerate((2022, 2024)):
        one = s.sample_points(pts, year)
        assert np.array_equal(both.values[i], one.values, equal_nan=True) and list(both.status[i]) == list(one.status)
    assert both.values[1, 0, 0] == 2 * both.values[0, 0, 0]  # scales 4 vs 2
    bbox = (0.002, 52.002, 0.008, 52.005)
    region = s.read_region_years(bbox, [2024, 2022])
    assert region.years == (2024, 2022) and region.data.shape[0] == 2
    assert np.array_equal(region.data[1], s.read_region(bbox, 2022).data, equal_nan=True)
    strips = list(s.iter_region_years(bbox, [2024, 2022], strip_rows=7))
    assert np.array_equal(np.concatenate([st.data for st in strips], axis=1), region.data, equal_nan=True)
    vec, status = s.probe_years(0.004, 52.003, [2022, 2024])
    assert vec.shape == (2, DIMS) and status == ["valid", "valid"]
    assert s.read_patch_years(0.004, 52.003, [2022], 8).data.shape == (1, 8, 8, DIMS)
    with pytest.raises(AccessError, match="no embeddings for 2023"):
        s.sample_points_years(pts, [2022, 2023])
    # One function per result shape: a list where one year is read (or the reverse) is refused.
    with pytest.raises(AccessError, match="use read_region_years"):
        s.read_region(bbox, [2022])  # type: ignore[arg-type]
    with pytest.raises(AccessError, match=r"use probe$"):
        s.probe_years(0.004, 52.003, 2022)  # type: ignore[arg-type]


def test_sample_counts_every_status_water_included(tmp_path):
    """A store with water (NaN scales), no data (+inf) and points outside: the summary names each
    status and its counts add up to the points given."""
    from tessera.access import WATER, status_counts
    from tessera.store import blocks, open_for_write

    prov = Provenance({"checkpoint_sha256": "2" * 64}, {"seed": 0}, "test")
    store = open_for_write(tmp_path / "wet", prov, DIMS, StoreLayout(shard=64))
    writer = store.ensure(2024, Z31, prov, DIMS)
    win = zone_window(Z31, 0.001, 0.009, 52.001, 52.006)
    for shard, piece in blocks(win, writer.layout):
        scales = np.ones((piece.height, piece.width), np.float32)
        scales[: piece.height // 2] = np.nan  # the northern half is water
        scales[-1] = np.inf  # the last row has no data
        writer.write_block(shard, piece, encode(Z31, piece), scales, "t")
    pts = [[0.005, 52.0059], [0.005, 52.0035], [10.0, 45.0]]  # the top rows: water; a middle row; far away
    got = open_store(tmp_path / "wet").sample_points(pts, 2024).status
    counts = status_counts(got)
    assert sum(counts.values()) == 3 and counts[WATER] >= 1 and counts[OUTSIDE] == 1
    (tmp_path / "p.csv").write_text("lon,lat\n" + "".join(f"{x},{y}\n" for x, y in pts))
    r = run_tessera(
        "sample", tmp_path / "wet", tmp_path / "p.csv", "--year", 2024, "-o", tmp_path / "o.csv", in_process=True
    )
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stdout.split())
    assert all(f"{n} {s}" in said for s, n in counts.items()), said  # valid, water, nodata, outside
