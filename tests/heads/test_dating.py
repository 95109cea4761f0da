"""``tessera change --years``: the year of each pixel's strongest break, calibrated on the store's
own pixels, on a simulated place with known changes, crop rotation and a sensor lost halfway."""

import csv

import numpy as np
import pytest
import rasterio

from tessera.access import open_store
from tessera.cube import write_cube
from tessera.errors import LabelError
from tessera.heads import dating
from tessera.simulate import SimulationConfig
from tessera.simulate.history import simulate_history
from tessera.store import StoreLayout, open_for_write
from tests.heads.conftest import write_embeddings
from tests.heads.test_change import DIMS, PROV
from tests.tessera_cli import one_line_error, run_tessera

YEARS = tuple(range(2018, 2025))


PROTOTYPES = np.random.default_rng(0).normal(size=(10, DIMS)).astype(np.float32)


def ideal_embeddings(classes: np.ndarray, year: int) -> np.ndarray:
    """What a good model gives: each land cover near its own vector whatever the weather, with
    per-pixel noise, a shift every pixel shares in a year (its weather, a sensor lost) and a
    smaller one each land cover has of its own that year."""
    rng = np.random.default_rng(year)
    common = 0.5 * rng.normal(size=DIMS)
    own = 0.15 * rng.normal(size=(10, DIMS))
    noise = 0.45 * rng.normal(size=(*classes.shape, DIMS))
    return (PROTOTYPES[classes] + own[classes] + common + noise).astype(np.float32)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("dating") / "store.zarr"
    hist = simulate_history(SimulationConfig(height=64, width=64, seed=3, field_px=12), YEARS, share=0.3)
    store = open_for_write(root, PROV, DIMS, StoreLayout(shard=64))
    for year in YEARS:
        scene = hist.scenes[year]
        emb = ideal_embeddings(scene.classes, year)
        write_embeddings(store, year, emb, scene.cube.grid, PROV, DIMS)
    assert len(hist.events) >= 3
    cube = write_cube(root.parent / "cube.zarr", hist.scenes[YEARS[0]].cube)
    return root, hist, cube


def test_dates_the_changes_of_a_simulated_history(history, tmp_path):
    """The outputs and their agreement with the known change years, on stand-in embeddings of
    the simulated land cover (``benchmarks/bench_change.py`` measures the same on the shipped
    model's embeddings of the simulated observations)."""
    root, hist, cube = history
    scene = hist.scenes[YEARS[0]]
    out = tmp_path / "dating.tif"
    r = run_tessera(
        "change", root, "--years", "2018:2024", "--cube", cube, "-o", out, "--false-alarm", 0.05, in_process=True
    )
    assert r.returncode == 0, r.stderr
    assert "pixels changed" in r.stdout
    with rasterio.open(out) as src:
        year, magnitude, p = src.read()
        assert src.count == 3 and src.crs.to_string() == scene.cube.grid.crs
        assert src.transform == scene.cube.grid.transform and src.shape == scene.cube.grid.shape
    result = dating.date_changes(open_store(root), scene.grid, YEARS)
    truth, cells = hist.change_year, hist.cells
    dated = []
    for e in hist.events:
        sel = (cells == e.cell) & (truth == e.year)
        seen, counts = np.unique(result.year[sel], return_counts=True)
        dated.append(seen[np.argmax(counts)] == e.year)
    assert np.mean(dated) >= 0.9, (dated, hist.events)
    flagged = year > 0
    assert flagged[truth == 0].mean() <= 1.5 * 0.05
    rotating = (truth == 0) & np.any([hist.scenes[y].classes != scene.classes for y in YEARS], axis=0)
    assert rotating.mean() > 0.1 and flagged[rotating].mean() <= 1.5 * 0.05  # rotation is not change
    assert np.all(p[flagged] <= 0.05) and np.all(magnitude[flagged] > 0)
    assert set(np.unique(year[flagged]).tolist()) <= set(YEARS[2:-1])  # two years either side of a break
    with open(out.with_suffix(".csv")) as f:
        rows = list(csv.DictReader(f))
    assert rows and all(int(r["pixels"]) >= 4 for r in rows)
    assert out.with_suffix(".png").stat().st_size > 0


def test_false_alarms_follow_the_asked_rate_on_exchangeable_noise():
    rng = np.random.default_rng(1)
    t, n, d = 8, 6000, 16
    states = rng.normal(size=(3, d))
    stack = states[0] + 0.3 * rng.normal(size=(t, n, d))
    rotate = rng.random((t, n)) < 0.4  # a third of the pixels hop to another state some years
    stack[rotate & (np.arange(n) < 2000)] += states[1] - states[0]
    stack[:, 5000:][4:] += 1.5 * (states[2] - states[0])  # a lasting change from year index 4
    k, _mag, _f, p = dating.date_series(stack[:, :, None, :].astype(np.float32), 0.02)
    k, p = k[:, 0], p[:, 0]
    stable = np.arange(n) < 5000
    assert (p[stable] <= 0.02).mean() <= 1.5 * 0.02
    assert (p[~stable] <= 0.02).mean() > 0.9 and (k[~stable] == 4).mean() > 0.9


def test_one_year_is_refused_in_one_line(embedded, tmp_path):
    from tessera.access import open_store

    held = open_store(embedded.store).years
    r = run_tessera(
        "change",
        embedded.store,
        "--years",
        f"{held[0]}:{held[0]}",
        "--bbox",
        "0,52,0.01,52.01",
        "-o",
        tmp_path / "d.tif",
        in_process=True,
    )
    one_line_error(r, "at least 4 years")
    r = run_tessera(
        "change",
        embedded.store,
        "--years",
        "2019:2024",
        "--bbox",
        "0,52,0.01,52.01",
        "-o",
        tmp_path / "d.tif",
        in_process=True,
    )
    one_line_error(r, "no embeddings for 2019")
    with pytest.raises(LabelError, match="at least 4"):
        dating.check_years((2020, 2021, 2022), (2020, 2021, 2022))
    r = run_tessera("change", embedded.store, "--bbox", "0,52,0.01,52.01", "-o", tmp_path / "d.tif", in_process=True)
    one_line_error(r, "--years")
