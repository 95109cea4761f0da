"""The area of applicability (Meyer & Pebesma 2021) of every head: beside the map from
``heads predict``, saved with a head, in ``heads curve``, and where it must say "everywhere"."""

import numpy as np
import pytest
import rasterio

from tessera.errors import LabelError
from tessera.heads.applicability import block_groups, fit_applicability, upper_whisker
from tests.heads.conftest import sparse, write_label_raster
from tests.tessera_cli import run_tessera


def clusters(rng, centres, n, spread=0.3):
    x = np.concatenate([c + spread * rng.normal(size=(n, len(c))) for c in centres])
    groups = np.repeat(np.arange(len(centres) * 4), n // 4)
    return x.astype(np.float32), groups


def test_far_embeddings_lie_outside_and_the_training_data_inside():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 3
    x, groups = clusters(rng, centres[:2], 200)
    aoa = fit_applicability(x, groups)
    near = centres[0] + 0.3 * rng.normal(size=(100, 16))
    far = centres[2] + 0.3 * rng.normal(size=(100, 16))
    assert aoa.inside(aoa.index(near)).mean() > 0.9
    assert aoa.inside(aoa.index(far)).mean() < 0.05
    # the documented result of "test data identical to the training data": DI 0, all inside
    same = aoa.index(x)
    assert np.allclose(same, 0, atol=1e-3) and aoa.inside(same).all()
    assert np.isnan(aoa.index(np.full((2, 16), np.nan, np.float32))).all()
    assert upper_whisker(np.array([1.0, 1.1, 1.2, 1.3, 9.0])) == pytest.approx(1.3)


def test_one_group_or_one_point_cannot_cross_validate_a_threshold():
    x = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    with pytest.raises(LabelError, match="two groups"):
        fit_applicability(x, np.zeros(50, int))
    with pytest.raises(LabelError, match="the same"):
        fit_applicability(np.ones((50, 8), np.float32), np.arange(50) % 5)


def test_accuracy_outside_is_lower_where_test_fields_hold_land_covers_the_labels_lack(embedded):
    """Labels of some land covers only; the map of the whole scene is right far less often
    outside the area of applicability, where the covers the labels never saw lie."""
    from sklearn.ensemble import RandomForestClassifier

    from tessera.access import open_store
    from tessera.access.region import read_grid

    emb = read_grid(open_store(embedded.store), embedded.grid, 2024).data
    h, w, d = emb.shape
    x, y = emb.reshape(-1, d), embedded.classes.ravel()
    rows, cols = np.divmod(np.arange(h * w), w)
    present, counts = np.unique(y, return_counts=True)
    unseen = present[np.argsort(counts)][: max(1, len(present) // 3)]  # the rarer third of the covers
    train = ~np.isin(y, unseen) & (np.random.default_rng(0).random(h * w) < 0.3)
    aoa = fit_applicability(x[train], block_groups(rows[train], cols[train]), y[train])
    head = RandomForestClassifier(100, random_state=0).fit(x[train], y[train])
    test = ~train
    right = head.predict(x[test]) == y[test]
    inside = aoa.inside(aoa.index(x[test]))
    assert 0 < inside.mean() < 1
    assert right[inside].mean() > right[~inside].mean() + 0.1
    assert np.isin(y[test][~inside], unseen).mean() > np.isin(y[test][inside], unseen).mean()


def test_predict_writes_the_aoa_beside_the_map_for_a_saved_head(embedded, tmp_path):
    """(The UNet's saved head carries it too: ``test_unet_head_round_trips_through_safetensors``.)"""
    head = "rf"
    labels = write_label_raster(tmp_path / "few.tif", sparse(embedded.classes, 0.3), embedded.grid)
    suffix = ".skops"
    common = ("--year", 2024, "--cube", embedded.cube)
    run_tessera(
        "heads",
        "fit",
        embedded.store,
        "--labels",
        labels,
        "--head",
        head,
        "-o",
        tmp_path / f"h{suffix}",
        *common,
        in_process=True,
        check=True,
    )
    r = run_tessera(
        "heads",
        "predict",
        embedded.store,
        "--model",
        tmp_path / f"h{suffix}",
        "-o",
        tmp_path / "m.tif",
        "--html",
        tmp_path / "m.html",
        *common,
        in_process=True,
        check=True,
    )
    assert "outside the area of applicability" in r.stdout
    with rasterio.open(tmp_path / "m.aoa.tif") as src:
        di, inside = src.read()
        assert src.count == 2 and src.transform == embedded.grid.transform
        threshold = float(src.tags()["threshold"])
    ok = np.isfinite(di)
    assert ok.mean() > 0.9 and set(np.unique(inside[ok])) <= {0.0, 1.0}
    assert np.array_equal(inside[ok] == 1, di[ok] <= threshold)
    assert (tmp_path / "m.aoa.png").stat().st_size > 0
    assert "outside the area of applicability" in (tmp_path / "m.html").read_text()


def test_curve_reports_accuracy_inside_and_outside(embedded, tmp_path):
    r = run_tessera(
        "heads",
        "curve",
        embedded.store,
        "--labels",
        embedded.labels,
        "--year",
        2024,
        "--cube",
        embedded.cube,
        "-o",
        tmp_path / "c",
        "--heads",
        "logistic",
        "--fractions",
        "0.2",
        "--repeats",
        1,
        in_process=True,
        check=True,
    )
    assert "inside the area of applicability" in r.stdout
    header = (tmp_path / "c" / "curve.csv").read_text().splitlines()[0]
    assert "accuracy_inside_aoa" in header and "outside_aoa" in header
