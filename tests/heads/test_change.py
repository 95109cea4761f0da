"""``tessera change`` on a simulated place in two years, the second with known crop changes: the
fields that changed stand out, and the listed patches lie on them."""

import csv

import numpy as np
import pytest
import rasterio

from tessera.access import open_store
from tessera.heads.change import change_map, cosine_distance, robust_threshold
from tessera.simulate import SimulationConfig, simulate
from tessera.store import Provenance, StoreLayout, open_for_write
from tests.heads.conftest import write_embeddings
from tests.tessera_cli import run_tessera

DIMS = 32
PROV = Provenance({"checkpoint_sha256": "f" * 64}, {"seed": 0}, "test")
SIZE = 96


def quarterly_features(cube, proj: np.ndarray) -> np.ndarray:
    """A stand-in embedding computed from the cube itself: per quarter, the mean valid S2
    reflectance, standardised and randomly projected to DIMS. It knows nothing of the labels."""
    bands = cube.s2_bands.astype(np.float32)
    valid = cube.s2_mask.astype(bool)
    quarters = []
    for q in range(4):
        sel = (cube.s2_doy >= q * 92) & (cube.s2_doy < (q + 1) * 92)
        w = valid[sel][..., None]
        quarters.append((bands[sel] * w).sum(0) / np.maximum(w.sum(0), 1))
    x = np.concatenate(quarters, -1)
    x = (x - x.reshape(-1, x.shape[-1]).mean(0)) / (x.reshape(-1, x.shape[-1]).std(0) + 1e-6)
    return x @ proj


@pytest.fixture(scope="module")
def two_years(tmp_path_factory):
    root = tmp_path_factory.mktemp("change") / "store.zarr"
    proj = np.random.default_rng(0).normal(size=(40, DIMS)).astype(np.float32)
    store = open_for_write(root, PROV, DIMS, StoreLayout(shard=64))
    scenes = {}
    for year, frac in ((2023, 0.0), (2024, 0.3)):  # same seed: same fields; 2024 rotates 30 % of them
        scene = simulate(
            SimulationConfig(height=SIZE, width=SIZE, seed=3, year=year, field_px=16, change_fraction=frac)
        )
        scenes[year] = scene
        emb = quarterly_features(scene.cube, proj)
        write_embeddings(store, year, emb, scene.cube.grid, PROV, DIMS)
    changed = scenes[2024].classes != scenes[2023].classes
    assert np.array_equal(changed, scenes[2024].changed) and 0.05 < changed.mean() < 0.5
    return root, scenes, changed


def _bbox(scene, inset_px=6):
    from rasterio.warp import transform_bounds

    b = scene.cube.grid.bounds
    w, s, e, n = transform_bounds(scene.cube.grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
    d = inset_px * 10 / 111_320 * 2
    return (w + d, s + d, e - d, n - d)


def test_changed_fields_stand_out_and_patches_lie_on_them(two_years):
    root, scenes, changed = two_years
    scene = scenes[2024]
    result = change_map(open_store(root), _bbox(scene), 2023, 2024)
    # The result's grid is the zone lattice under the bbox: map it back onto the scene's pixels.
    g, s = result.grid.transform, scene.cube.grid.transform
    r0, c0 = round((g.f - s.f) / -10), round((g.c - s.c) / 10)
    assert r0 >= 0 and c0 >= 0 and r0 + result.grid.height <= SIZE and c0 + result.grid.width <= SIZE
    truth = changed[r0 : r0 + result.grid.height, c0 : c0 + result.grid.width]
    d = result.distance
    ok = np.isfinite(d)
    assert ok.all()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(truth[ok], d[ok]) > 0.9
    assert np.nanmedian(d[truth]) > 3 * np.nanmedian(d[~truth])
    assert len(result.patches) >= 3
    flagged = np.nan_to_num(d, nan=0) > result.threshold
    # What is called changed mostly did change (unchanged fields also move a little between years:
    # the simulator redraws each field's management and the weather).
    assert truth[flagged].mean() > max(0.6, 2.5 * truth.mean())
    for p in result.patches[:3]:  # each listed patch's centroid falls in (or beside) a changed field
        x, y = _to_grid(result.grid, p.lon, p.lat)
        r, c = result.grid.pixel_of(x, y)
        near = truth[max(0, int(r) - 2) : int(r) + 3, max(0, int(c) - 2) : int(c) + 3]
        assert near.any()
    sizes = [p.pixels for p in result.patches]
    assert sizes == sorted(sizes, reverse=True)


def _to_grid(grid, lon, lat):
    from rasterio.warp import transform

    xs, ys = transform("EPSG:4326", grid.crs, [lon], [lat])
    return xs[0], ys[0]


def test_cli_writes_the_map_png_and_patches(two_years, tmp_path):
    root, scenes, _ = two_years
    bbox = ",".join(f"{v:.6f}" for v in _bbox(scenes[2024]))
    out = tmp_path / "change.tif"
    r = run_tessera("change", root, "--bbox", bbox, "--from", "2023", "--to", "2024", "-o", out, in_process=True)
    assert r.returncode == 0, r.stderr
    with rasterio.open(out) as src:
        assert src.count == 1 and src.tags()["from"] == "2023" and src.crs.to_epsg() == 32631
        assert np.nanmax(src.read(1)) > float(src.tags()["threshold"])
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert rows and int(rows[0]["pixels"]) >= int(rows[-1]["pixels"]) and out.with_suffix(".png").stat().st_size > 0
    for args, msg in (
        (["--from", "2024", "--to", "2024"], "two different years"),
        (["--from", "2019", "--to", "2024"], "no embeddings for 2019"),
    ):
        r = run_tessera("change", root, "--bbox", bbox, *args, "-o", tmp_path / "x.tif", in_process=True)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "x.tif").exists()


def test_distance_and_threshold_edges():
    a = np.ones((2, 2, 3), np.float32)
    b = a.copy()
    b[0, 0] = -1
    b[1, 1] = np.nan
    d = cosine_distance(a, b)
    assert d[0, 0] == pytest.approx(2.0) and abs(d[0, 1]) < 1e-6 and np.isnan(d[1, 1])
    assert robust_threshold(np.array([0.0, 0.0, 0.0, 1.0])) == 0.0
