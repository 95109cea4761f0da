"""``tessera heads suggest``: which fields to label next, and the label files it must handle."""

import json

import geopandas as gpd
import numpy as np
import pytest

from tessera.errors import LabelError
from tessera.heads.suggest import rank_units
from tests.heads.conftest import write_label_raster
from tests.tessera_cli import one_line_error, run_tessera


def test_an_unseen_kind_of_field_is_suggested_first_and_none_twice():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 12)) * 3
    units = np.repeat(np.arange(30), 20)  # 30 fields of 20 pixels; fields 20–29 of a cover nobody labelled
    kind = np.where(np.arange(30) < 10, 0, np.where(np.arange(30) < 20, 1, 2))[units]
    x = (centres[kind] + 0.5 * rng.normal(size=(600, 12))).astype(np.float32)
    lab_x = np.concatenate([centres[c] + 0.5 * rng.normal(size=(40, 12)) for c in (0, 1)]).astype(np.float32)
    lab_y = np.repeat([0, 1], 40)
    found = rank_units(x, units, lab_x, lab_y, 5)
    assert [s.rank for s in found] == [1, 2, 3, 4, 5]
    assert found[0].unit >= 20  # the unlabelled land cover
    assert len({s.unit for s in found}) == 5
    assert len(rank_units(x, units, lab_x, lab_y, 100)) == 30  # never more than there are
    with pytest.raises(LabelError, match="at least one"):
        rank_units(x, units, lab_x, lab_y, 0)


def test_one_class_ranks_by_what_the_labels_do_not_cover():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 8)).astype(np.float32)
    x[80:] += 6  # the far fields
    found = rank_units(x, np.arange(100) // 10, x[:20], np.zeros(20, int), 2)
    assert all(np.isnan(s.uncertainty) for s in found) and found[0].unit >= 8


def suggest(embedded, labels, *extra, check=True):
    """``tessera heads suggest`` on the embedded scene's store and cube."""
    args = ("heads", "suggest", embedded.store, "--labels", labels, "--year", 2024, "--cube", embedded.cube, *extra)
    return run_tessera(*args, in_process=True, check=check)


def test_cli_writes_fields_to_label_as_geojson(embedded, tmp_path):
    import rasterio

    few = np.where(np.isin(embedded.classes, np.unique(embedded.classes)[:3]), embedded.classes, 0)
    few = np.where(np.random.default_rng(0).random(few.shape) < 0.2, few, 0)
    labels = write_label_raster(tmp_path / "few.tif", few, embedded.grid)
    out = tmp_path / "next.geojson"
    r = suggest(embedded, labels, "--fields", embedded.fields, "-n", 4, "-o", out)
    assert "fields to label next" in r.stdout
    got = gpd.read_file(out)
    assert len(got) == 4 and got.crs.to_epsg() == 4326 and list(got["rank"]) == [1, 2, 3, 4]
    assert got.geometry.is_valid.all() and (got.geometry.area > 0).all()
    with rasterio.open(embedded.fields) as f:
        fid = f.read(1)
    labelled_fields = set(np.unique(fid[few > 0]).tolist())
    assert not labelled_fields & set(got["unit"].tolist())  # whole unlabelled fields only
    suggest(embedded, labels, "-n", 3, "-o", tmp_path / "px.geojson")  # without a field layer: pixels
    pixels = json.loads((tmp_path / "px.geojson").read_text())["features"]
    assert len(pixels) == 3 and all(f["properties"]["kind"] == "pixel" for f in pixels)


def test_cli_one_class_label_file_says_so_and_still_suggests(embedded, tmp_path):
    one = np.where(embedded.classes == embedded.classes[0, 0], embedded.classes, 0)
    labels = write_label_raster(tmp_path / "one.tif", one, embedded.grid)
    r = suggest(embedded, labels, "--fields", embedded.fields, "-n", 3, "-o", tmp_path / "n.geojson")
    assert "one class" in r.stdout
    one_line_error(suggest(embedded, labels, "-o", tmp_path / "n.txt", check=False), ".geojson")


def test_a_large_unlabelled_cover_comes_before_a_lone_odd_field():
    """Facility location: one field unlike anything stands for little of the map; the first pick
    is a field of the largest cover the labels never saw, though the odd field is the farthest."""
    rng = np.random.default_rng(3)
    centres = np.array([[0.0] * 6, [4.0] * 6, [-4.0, 4.0] * 3, [12.0] * 6])
    kind = np.array([0] * 8 + [1] * 6 + [2] * 12 + [3])  # twelve fields of cover 2, one odd field
    units = np.repeat(np.arange(len(kind)), 15)
    x = (centres[kind[units]] + 0.4 * rng.normal(size=(len(units), 6))).astype(np.float32)
    lab = np.isin(units, [0, 1])  # two fields of cover 0: one class, so no uncertainty to weigh
    found = rank_units(x[~lab], units[~lab], x[lab], kind[units[lab]], 3, units[lab])
    assert [kind[s.unit] for s in found[:2]] == [2, 1]
    assert found[0].novelty < max(s.novelty for s in rank_units(x[~lab], units[~lab], x[lab], kind[units[lab]], 25))
