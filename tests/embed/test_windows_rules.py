"""12-month windows, area masks, the published quality rules and layers, and the report (#27)."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tessera import sensors
from tessera.access import open_store
from tessera.cube import CubeWriter, open_cube
from tessera.embed import EmbedConfig, embed_cube
from tessera.embed.quality import BELOW_OPTICAL, Rules
from tessera.errors import ConfigError
from tessera.grid import Window
from tessera.period import Period, parse_period
from tessera.store import StoreLayout, StoreWriter, Zone, place
from tests.tessera_cli import run_tessera

QUIET = EmbedConfig(report=False, layout=StoreLayout(shard=32))  # four blocks of a 64² cube


def as_window_cube(data, path: Path, end: str) -> Path:
    """The simulated year's data written as the 12 months ending ``end``: the same calendar days
    of year (the model's input), each date given its calendar year inside the window."""
    period = parse_period(end)
    full = Window(0, 0, *data.grid.shape)
    asc, desc = data.s1_ascending, data.s1_descending
    with CubeWriter(path, data.grid, period.code, data.s2_doy, asc.doy, desc.doy) as w:
        w.write_s2(full, data.s2_bands, data.s2_mask)
        w.write_s1("ascending", full, asc.values)
        w.write_s1("descending", full, desc.values)
    return path


def stored(store: Path, cube_path: Path):
    cube = open_cube(cube_path)
    zone, win = place(cube.grid)
    w = StoreWriter(store).writer(cube.year, zone)
    q, scales = w.read(Window(win.row, win.col, *cube.grid.shape))
    rows, cols = Window(win.row, win.col, *cube.grid.shape).slices
    layers = {name: np.asarray(a[w.t, rows, cols]) for name, a in w.quality.items()}
    return q, scales, layers


def test_a_july_june_window_has_its_dates_label_and_bounds_and_reads_back_by_label(setup, tmp_path):
    _root, cube_path, ckpt, data = setup
    window = as_window_cube(data, tmp_path / "window.zarr", "2025-06")
    cube = open_cube(window)
    assert cube.period == Period(2025, 6) and cube.year == 202506
    # July–December are the window's first year, January–June its second
    years = cube.years["s2"]
    assert set(years[cube.s2_doy >= 182]) == {2024} and set(years[cube.s2_doy < 182]) == {2025}
    embed_cube(window, ckpt, tmp_path / "w", QUIET)
    embed_cube(cube_path, ckpt, tmp_path / "cal", QUIET)
    # the model sees the same calendar days: the same bytes as the calendar year's cube
    assert np.array_equal(stored(tmp_path / "w", window)[0], stored(tmp_path / "cal", cube_path)[0])
    import zarr

    group = zarr.open_group(str(tmp_path / "w" / "utm31"), mode="r")
    assert group["time"][:].tolist() == [202506] and group.attrs["time_convention"] == "window_end_month"
    start, stop = group["time_bnds"][0].tolist()
    assert np.datetime64(start, "D") == np.datetime64("2024-07-01") and np.datetime64(stop, "D") == np.datetime64(
        "2025-07-01"
    )
    b = cube.grid.bounds
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(cube.grid.crs, "EPSG:4326", always_xy=True).transform(
        (b.left + b.right) / 2, (b.top + b.bottom) / 2
    )
    (tmp_path / "pts.csv").write_text(f"lon,lat\n{lon},{lat}\n")
    r = run_tessera(
        "sample",
        str(tmp_path / "w"),
        str(tmp_path / "pts.csv"),
        "--year",
        "2025-06",
        "-o",
        str(tmp_path / "o.csv"),
        in_process=True,
    )
    assert r.returncode == 0, r.stderr
    assert "valid" in (tmp_path / "o.csv").read_text()
    assert np.isfinite(open_store(tmp_path / "w").sample_points([[lon, lat]], 202506).values).all()
    info = json.loads(run_tessera("info", str(tmp_path / "w"), "--json", in_process=True).stdout)
    assert info["groups"][0]["period"] == "2025-06 (01 Jul 2024 – 30 Jun 2025)"


def test_mixing_window_conventions_in_one_store_is_refused(setup, tmp_path):
    _root, cube_path, ckpt, data = setup
    store = tmp_path / "s"
    embed_cube(cube_path, ckpt, store, QUIET)
    window = as_window_cube(data, tmp_path / "window.zarr", "2025-06")
    r = run_tessera("embed", str(window), "-c", str(ckpt), "-s", str(store), "--no-report", in_process=True)
    assert r.returncode == 2 and "holds calendar years (2024)" in r.stderr and "Traceback" not in r.stderr
    assert open_store(store).years == [2024]


def test_counts_arrays_equal_counts_from_the_cube_and_the_minimum_refuses_exactly_those_below(setup, tmp_path):
    _root, cube_path, ckpt, data = setup
    s2 = data.s2_mask.astype(bool)
    asc = sensors.s1_valid_mask(data.s1_ascending.values)
    desc = sensors.s1_valid_mask(data.s1_descending.values)
    n = int(np.median(s2.sum(0)))
    rules = Rules(optical_min_obs=n)
    s = embed_cube(cube_path, ckpt, tmp_path / "s", EmbedConfig(report=False, rules=rules))
    _, scales, layers = stored(tmp_path / "s", cube_path)
    assert np.array_equal(layers["s2_obs_count"], s2.sum(0))
    assert np.array_equal(layers["s1_asc_obs_count"], asc.sum(0))
    assert np.array_equal(layers["s1_desc_obs_count"], desc.sum(0))
    month = (np.datetime64("2024-01-01") + data.s2_doy.astype("timedelta64[D]") - 1).astype("datetime64[M]")
    month = month.astype(int) % 12
    for m in range(12):
        assert np.array_equal(layers["s2_month_covered"][..., m], s2[month == m].any(0))
    below = s2.sum(0) < n
    assert below.any() and (~below).any()
    assert np.array_equal(np.isfinite(scales), ~below & (s2.any(0) | asc.any(0) | desc.any(0)))
    assert s.refused == {BELOW_OPTICAL: int(below.sum())}
    attrs = json.loads((tmp_path / "s" / "zarr.json").read_text())["attributes"]
    assert attrs["optical_min_obs"] == n and attrs["tessera:provenance"]["sampling"]["allow_s2_only"] is True
    # the rules are provenance: another minimum does not resume into this store
    with pytest.raises(Exception, match="other provenance"):
        embed_cube(cube_path, ckpt, tmp_path / "s", EmbedConfig(report=False, rules=Rules(n + 1)))
    r = run_tessera(
        "embed", str(cube_path), "-c", str(ckpt), "-s", str(tmp_path / "x"), "--min-optical-obs", "999", in_process=True
    )
    assert r.returncode == 2 and f"exceeds the {len(data.s2_doy)} Sentinel-2 dates" in r.stderr


def test_require_s1_refuses_radar_free_pixels(setup, tmp_path):
    _root, _cube_path, ckpt, data = setup
    cut = tmp_path / "cut.zarr"
    asc, desc = data.s1_ascending.values.copy(), data.s1_descending.values.copy()
    asc[:, :20], desc[:, :20] = 0, 0  # the top 20 rows never imaged by radar
    full = Window(0, 0, *data.grid.shape)
    with CubeWriter(cut, data.grid, 2024, data.s2_doy, data.s1_ascending.doy, data.s1_descending.doy) as w:
        w.write_s2(full, data.s2_bands, data.s2_mask)
        w.write_s1("ascending", full, asc)
        w.write_s1("descending", full, desc)
    embed_cube(cut, ckpt, tmp_path / "s", EmbedConfig(report=False, rules=Rules(allow_s2_only=False)))
    _, scales, _ = stored(tmp_path / "s", cut)
    assert not np.isfinite(scales[:20]).any() and np.isfinite(scales[20:]).all()


def test_a_mask_skips_the_blocks_it_misses_and_kept_pixels_equal_an_unmasked_run(setup, tmp_path):
    _root, cube_path, ckpt, data = setup
    embed_cube(cube_path, ckpt, tmp_path / "all", QUIET)
    grid = data.grid
    # a polygon in lon/lat (another CRS than the cube's: reprojected) over part of one 32² block
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform
    corners = [to_lonlat(*(grid.transform * (c, r))) for c, r in ((3, 4), (27, 4), (27, 25), (3, 25), (3, 4))]
    mask = tmp_path / "field.geojson"
    mask.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [corners]}}
                ],
            }
        )
    )
    s = embed_cube(cube_path, ckpt, tmp_path / "m", EmbedConfig(report=False, layout=StoreLayout(32), mask=str(mask)))
    from tessera.embed.run import plan

    _zone, at = place(grid)
    every = plan(Window(0, 0, *grid.shape), at, StoreLayout(32))

    def meets(w: Window) -> bool:
        return w.row < 26 and w.row + w.height > 4 and w.col < 28 and w.col + w.width > 3

    touched = [t for t in every if meets(t.cube_window)]
    assert (s.blocks, s.masked_blocks) == (len(touched), len(every) - len(touched)) and s.masked_blocks > 0
    records = [json.loads(f.read_text()) for f in (tmp_path / "m.build" / "fills").rglob("*.json")]
    assert sum(len(r["blocks"]) for r in records) == len(touched)
    q_all, sc_all, _ = stored(tmp_path / "all", cube_path)
    q_m, sc_m, _ = stored(tmp_path / "m", cube_path)
    kept = np.isfinite(sc_m)
    assert 300 < kept.sum() <= 24 * 22 and not kept[26:].any() and not kept[:, 28:].any()
    assert np.array_equal(q_m[kept], q_all[kept]) and np.array_equal(sc_m[kept], sc_all[kept])
    # one line each: a mask with no overlap, a missing one
    far = tmp_path / "far.geojson"
    far.write_text(mask.read_text().replace('"coordinates": [[[', '"coordinates": [[[1').replace("], [", "], [1"))
    r = run_tessera(
        "embed", str(cube_path), "-c", str(ckpt), "-s", str(tmp_path / "x"), "--mask", str(far), in_process=True
    )
    assert r.returncode == 2 and "selects no pixel" in r.stderr and not (tmp_path / "x").exists()


def test_the_report_passes_a_trained_model_and_fails_random_weights(setup, tmp_path):
    _root, cube_path, ckpt, _data = setup
    good = run_tessera("embed", str(cube_path), "-c", "tiny-broad", "-s", str(tmp_path / "good"), in_process=True)
    assert good.returncode == 0 and "validation: pass" in good.stdout, good.stdout + good.stderr
    bad = run_tessera("embed", str(cube_path), "-c", str(ckpt), "-s", str(tmp_path / "bad"), in_process=True)
    assert bad.returncode == 1 and "unusable" in bad.stdout and "disagrees with itself" in bad.stdout
    folder = next((tmp_path / "bad.report").iterdir())
    doc = json.loads((folder / "report.json").read_text())
    assert doc["verdict"] == "unusable" and doc["figures"]["embedded"] == 64 * 64
    good_doc = json.loads(next((tmp_path / "good.report").glob("*/report.json")).read_text())
    assert good_doc["figures"]["self_agreement"] > doc["figures"]["self_agreement"] + 0.2
    assert (folder / "coverage.png").stat().st_size > 0 and (folder / "counts.png").stat().st_size > 0


def test_periods_refuse_what_has_not_ended_or_predates_sentinel_2():
    import datetime as dt

    with pytest.raises(ConfigError, match="has not ended"):
        parse_period("2026").check_acquirable(dt.date(2026, 12, 2))
    assert parse_period("2026-11").check_acquirable(dt.date(2026, 12, 2)).code == 202611
    with pytest.raises(ConfigError, match="before Sentinel-2"):
        parse_period("2015-05").check_acquirable()
    with pytest.raises(ConfigError, match="not a year"):
        parse_period("June 2025")
    # the leap-edge pair: Jul 1 2023 and Jun 30 2024 share day 182, a year apart
    p = parse_period("2024-06")
    assert p.calendar_years_of(np.array([1, 182, 182, 365])).tolist() == [2024, 2023, 2024, 2023]
    assert p.months_of(np.array([182, 182]), np.array([2023, 2024])).tolist() == [6, 5]


def test_geotessera_reads_our_quality_layers(setup, official_python, tmp_path):
    _root, cube_path, ckpt, data = setup
    embed_cube(cube_path, ckpt, tmp_path / "s", EmbedConfig(report=False))
    zone = Zone.from_name(place(data.grid)[0].name)
    script = (
        "import sys, numpy as np\n"
        "from geotessera.store import open_zone\n"
        f"ds = open_zone(sys.argv[1], zone={zone.number})\n"
        "r0, r1, c0, c1 = map(int, sys.argv[3:7])\n"
        "ds = ds.isel(y=slice(r0, r1), x=slice(c0, c1))\n"
        "np.savez(sys.argv[2], **{k: ds[k].values for k in ('s2_obs_count', 's1_asc_obs_count', "
        "'s1_desc_obs_count', 's2_month_covered')}, time=ds['time'].values)\n"
    )
    _, win = place(data.grid)
    span = [win.row, win.row + win.height, win.col, win.col + win.width]
    out = tmp_path / "got.npz"
    argv = [official_python, "-c", script, str(tmp_path / "s"), str(out), *map(str, span)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = dict(np.load(out))
    _, _, layers = stored(tmp_path / "s", cube_path)
    assert got["time"].tolist() == [2024]
    for name in ("s2_obs_count", "s1_asc_obs_count", "s1_desc_obs_count", "s2_month_covered"):
        assert np.array_equal(got[name][0], layers[name]), name
