"""Acquisition end to end against a static STAC catalog of known values, on disk and over HTTP."""

import json

import numpy as np
import pytest

from tessera import sensors
from tessera.acquire import AcquireConfig, AcquireError, acquire
from tessera.cube import open_cube
from tests.acquire.catalog import BBOX, GRID, build, centres_in, clouds, footprint, value
from tests.tessera_cli import one_line_error, run_tessera

MARGIN = 25.0  # m: within this of a footprint or cloud edge, resampling may go either way
DATES = {65: ("A", "B"), 162: ("A",), 183: ("A", "B")}  # kept S2 dates → granules, in mosaic order


def _inside(x, y, box, margin):
    left, bottom, right, top = box
    inside = (x > left + margin) & (x < right - margin) & (y > bottom + margin) & (y < top - margin)
    outside = (x < left - margin) | (x > right + margin) | (y < bottom - margin) | (y > top + margin)
    return inside, outside


def expected(doy: int):
    """Per pixel: the granule whose value the mosaic must hold ('' = masked), and whether the
    pixel is far enough from every edge for that to be certain."""
    rows, cols = np.mgrid[0 : GRID.height, 0 : GRID.width]
    want = np.full(GRID.shape, "", object)
    sure = np.ones(GRID.shape, bool)
    for g in reversed(DATES[doy]):  # later granules first, so earlier ones overwrite: first valid wins
        crs, box = footprint(g)
        x, y = centres_in(crs, rows, cols)
        inside, outside = _inside(x, y, box, MARGIN)
        valid = inside.copy()
        if g == "A" and doy == 65:
            for cloud in clouds():
                c_in, _c_out = _inside(x, y, cloud, -0.0)  # SCL is nearest-resampled on A's own lattice
                valid &= ~c_in
        want[valid] = g
        sure &= inside | outside
    return want, sure


def test_cube_holds_exactly_the_expected_values_masks_and_dates(catalog, tmp_path):
    summary = acquire(BBOX, 2024, tmp_path / "cube.zarr", AcquireConfig(catalog=str(catalog)))
    d = open_cube(tmp_path / "cube.zarr").read()
    assert d.grid == GRID and d.year == 2024
    assert d.s2_doy.tolist() == [65, 162, 183]  # 2024-08-01 all cloud: skipped; 2023 never found
    assert d.s1_ascending.doy.tolist() == [93] and d.s1_descending.doy.tolist() == [99]
    assert (summary.s2_items, summary.s2_dates_found, summary.s2_dates_kept) == (7, 4, 3)
    for t, doy in enumerate(d.s2_doy):
        want, sure = expected(int(doy))
        assert sure.mean() > 0.6
        mask = d.s2_mask[t].astype(bool)
        assert (mask[sure] == (want[sure] != "")).all(), f"mask of DOY {doy}"
        for k in range(len(sensors.S2_BANDS)):
            for g in ("A", "B"):
                # offset removed exactly once: baseline 05.10 items (+1000 in the file) and the
                # Earth-Search item (already harmonised) end up alike; 03.01 untouched
                sel = sure & (want == g)
                assert (d.s2_bands[t, ..., k][sel] == value(g, int(doy), k)).all(), f"DOY {doy} band {k} {g}"
            # pixels near an edge hold one granule's value or are masked, never a blend
            edge = ~sure & mask
            allowed = [value(g, int(doy), k) for g in DATES[int(doy)]]
            assert np.isin(d.s2_bands[t, ..., k][edge], allowed).all()
        assert (d.s2_bands[t][~mask] == 0).all()
    # two clouds in A on DOY 65: B fills the one it covers, the other stays masked
    want, sure = expected(65)
    assert ((want == "B") & sure & (centres_in("EPSG:32630", *np.mgrid[0:35, 0:37])[0] < footprint("A")[1][2])).any()
    assert ((want == "") & sure).any()
    asc = d.s1_ascending.values[0]
    assert (asc[..., 0] == sensors.s1_encode_db(10 * np.log10(0.05))).all()
    assert (asc[..., 1] == sensors.s1_encode_db(10 * np.log10(0.01))).all()
    desc = d.s1_descending.values[0, ..., 0]  # two slices on one date: north 0.1, south 0.2 (overlap: north first)
    north, south = sensors.s1_encode_db(10 * np.log10(0.1)), sensors.s1_encode_db(10 * np.log10(0.2))
    assert (desc[:5] == north).all() and (desc[-5:] == south).all() and np.isin(desc, [north, south]).all()


def test_over_http_the_cube_is_the_same(catalog, served, tmp_path):
    acquire(BBOX, 2024, tmp_path / "disk.zarr", AcquireConfig(catalog=str(catalog)))
    acquire(BBOX, 2024, tmp_path / "http.zarr", AcquireConfig(catalog=served, date_chunk=1))  # one date at a time
    a, b = open_cube(tmp_path / "disk.zarr").read(), open_cube(tmp_path / "http.zarr").read()
    assert (a.s2_bands == b.s2_bands).all() and (a.s2_mask == b.s2_mask).all() and (a.s2_doy == b.s2_doy).all()
    assert (a.s1_descending.values == b.s1_descending.values).all()


def test_a_bbox_across_two_zones_uses_the_centre_zone_and_says_so(catalog, tmp_path):
    s = acquire((-0.004, 52.000, 0.001, 52.003), 2024, tmp_path / "c.zarr", AcquireConfig(catalog=str(catalog)))
    assert s.grid.crs == "EPSG:32630" and any("spans UTM zones 30N, 31N" in n for n in s.notes)


def test_bad_input_is_a_clear_error(catalog, tmp_path):
    with pytest.raises(AcquireError, match=r"no Sentinel-2 items found: sentinel-2-l2a ∩ bbox \(10\.0"):
        acquire((10.0, 10.0, 10.01, 10.01), 2024, tmp_path / "a.zarr", AcquireConfig(catalog=str(catalog)))
    with pytest.raises(AcquireError, match="no Sentinel-2 items"):
        acquire(BBOX, 2021, tmp_path / "a.zarr", AcquireConfig(catalog=str(catalog)))
    for url in ("http://127.0.0.1:9/catalog.json", "http://127.0.0.1:9/api/stac/v1"):
        with pytest.raises(AcquireError, match="failed after 3 attempts"):
            acquire(BBOX, 2024, tmp_path / "a.zarr", AcquireConfig(catalog=url))
    broken = build(tmp_path / "broken", drop_band="B8A")
    with pytest.raises(AcquireError, match="S2_A_20240305 has no asset for band B8A"):
        acquire(BBOX, 2024, tmp_path / "a.zarr", AcquireConfig(catalog=str(broken)))
    gone = build(tmp_path / "gone")
    (gone.parent / "S2_B_20240701" / "nir08.tif").unlink()
    with pytest.raises(AcquireError, match="could not read item S2_B_20240701"):
        acquire(BBOX, 2024, tmp_path / "a.zarr", AcquireConfig(catalog=str(gone)))
    assert not (tmp_path / "a.zarr").exists()  # nothing half-written


def test_cli_acquire_from_a_roi_file(catalog, tmp_path):
    w, s, e, n = BBOX
    roi = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
            }
        ],
    }
    (tmp_path / "roi.geojson").write_text(json.dumps(roi))
    r = run_tessera(
        "acquire",
        "--roi",
        tmp_path / "roi.geojson",
        "--year",
        2024,
        "--out",
        tmp_path / "cube.zarr",
        "--stac-url",
        catalog,
        in_process=True,
        check=True,
    )
    assert "3 of 4" in r.stdout and open_cube(tmp_path / "cube.zarr").read().s2_doy.tolist() == [65, 162, 183]


def test_a_raster_roi_gives_its_own_grid(catalog, tmp_path):
    from affine import Affine

    from tessera.acquire import roi_bbox
    from tessera.cube import write_roi_geotiff
    from tessera.grid import Grid

    sub = Grid(GRID.crs, GRID.transform * Affine.translation(3, 2), 20, 24)
    box, grid = roi_bbox(write_roi_geotiff(sub, tmp_path / "roi.tif"))
    assert grid == sub
    acquire(box, 2024, tmp_path / "c.zarr", AcquireConfig(catalog=str(catalog)), grid=grid)
    full = open_cube(tmp_path / "c.zarr").read()
    assert full.grid == sub and full.s2_doy.tolist() == [65, 162, 183]


def test_a_july_june_window_finds_the_dates_of_its_two_years(catalog, tmp_path):
    s = acquire(BBOX, "2024-06", tmp_path / "w.zarr", AcquireConfig(catalog=str(catalog)))
    cube = open_cube(tmp_path / "w.zarr")
    assert cube.year == 202406 and s.period.label == "2024-06"
    # July 2023 – June 2024: 2023-12-31 is in, 2024-07-01 is out; days of year of each date's own year
    assert cube.s2_doy.tolist() == [65, 162, 365] and cube.years["s2"].tolist() == [2024, 2024, 2023]
    assert cube.months("s2").tolist() == [2, 5, 11]
    assert cube.s1_ascending_doy.tolist() == [93] and cube.s1_descending_doy.tolist() == [99]
    r = run_tessera("acquire", "--bbox", ",".join(map(str, BBOX)), "--window", "2099-06", "-o", tmp_path / "f.zarr")
    assert r.returncode == 2 and "has not ended" in r.stderr


def test_a_mask_reads_only_its_tiles_and_its_pixels_equal_an_unmasked_cube(catalog, tmp_path, monkeypatch):
    import tessera.acquire.run as run
    from tessera.area_mask import load_mask

    full = acquire(BBOX, 2024, tmp_path / "all.zarr", AcquireConfig(catalog=str(catalog)))
    monkeypatch.setattr(run, "MASK_TILE", 8)  # a 35 × 37 px ROI: tiles of 8 px, so the mask skips some
    t = GRID.transform
    ring = [t * (c, r) for c, r in ((2, 3), (14, 3), (14, 20), (2, 20), (2, 3))]
    mask = tmp_path / "m.geojson"  # in the grid's own UTM CRS: any CRS is taken
    mask.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": GRID.crs}},
                "features": [
                    {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
                ],
            }
        )
    )
    aoi = load_mask(mask, GRID)
    s = acquire(BBOX, 2024, tmp_path / "m.zarr", AcquireConfig(catalog=str(catalog)), grid=GRID, aoi=aoi)
    assert s.tiles_read < s.tiles_total and s.mask_pixels == int(aoi.sum()) == 12 * 17
    a, m = open_cube(tmp_path / "all.zarr").read(), open_cube(tmp_path / "m.zarr")
    assert np.array_equal(m.aoi(), aoi) and full.grid == GRID
    d = m.read()
    assert np.array_equal(d.s2_mask[:, aoi], a.s2_mask[:, aoi]) and np.array_equal(
        d.s2_bands[:, aoi], a.s2_bands[:, aoi]
    )
    assert not d.s2_mask[:, ~aoi].any() and not d.s1_ascending.values[:, ~aoi].any()
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps({"type": "Polygon", "coordinates": [[[10, 10], [10.1, 10], [10.1, 10.1], [10, 10]]]}))
    r = run_tessera(
        "acquire", "--mask", far, "--bbox", ",".join(map(str, BBOX)), "--year", "2024", "-o", tmp_path / "x.zarr"
    )
    assert r.returncode == 2 and "selects no pixel" in r.stderr


def test_a_dry_run_lists_what_would_be_read_and_writes_nothing(catalog, tmp_path):
    out = tmp_path / "never.zarr"
    args = ["--bbox", ",".join(map(str, BBOX)), "--year", 2024, "-o", out, "--stac-url", catalog, "--dry-run"]
    r = run_tessera("acquire", *args, in_process=True, check=True)
    assert "4 Sentinel-2 dates" in r.stdout and "nothing was read or written" in r.stdout
    assert "2024-03-05" in r.stdout and not out.exists()


def test_a_missing_local_catalog_is_named_not_blamed_on_the_network(tmp_path):
    missing = tmp_path / "nope" / "catalog.json"
    args = ["--bbox", ",".join(map(str, BBOX)), "--year", 2024, "-o", tmp_path / "c.zarr", "--stac-url", missing]
    done = run_tessera("acquire", *args, in_process=True)
    one_line_error(done, f"no static STAC catalog at {missing}")
    assert "connection" not in done.stdout + done.stderr and "attempts" not in done.stdout + done.stderr
