"""`--cube` gives a region its grid and nothing else; `--baselines` adds raw-band baselines, which
drop the columns of a sensor the cube lacks instead of leaving no pixel complete."""

import numpy as np
import pytest

from tessera.access import open_store
from tessera.cube import CubeData, open_cube, write_cube
from tessera.errors import LabelError
from tessera.heads.curves import region_curve
from tessera.heads.features import baseline_features, raw_feature_sets
from tessera.heads.mapping import fit_head
from tessera.heads.workflow import labelled_region


@pytest.fixture(scope="module")
def s2_only(embedded, tmp_path_factory):
    c = open_cube(embedded.cube).read()
    return write_cube(
        tmp_path_factory.mktemp("s2only") / "cube.zarr",
        CubeData.from_arrays(c.grid, c.year, c.s2_bands, c.s2_mask, c.s2_doy),
    )


def test_a_cube_without_s1_has_no_s1_baseline_columns(embedded, s2_only):
    both, s2 = baseline_features(open_cube(embedded.cube).read()), baseline_features(open_cube(s2_only).read())
    assert both.shape[-1] == 78 and s2.shape[-1] == 70
    assert np.array_equal(both[..., :70], s2, equal_nan=True)  # the S2 columns are the same numbers


def test_the_cube_gives_the_grid_only(embedded):
    store = open_store(embedded.store)
    by_cube = labelled_region(store, 2024, embedded.labels, cube=embedded.cube)
    assert by_cube.raw is None and by_cube.grid == embedded.grid
    labelled = int((embedded.classes > 0).sum())
    _, y, _, _ = by_cube.pixels()
    has = ~np.isnan(by_cube.embeddings).any(-1) & (embedded.classes > 0)
    assert len(y) == int(has.sum()) and len(y) > 0.9 * labelled  # every labelled embedded pixel


def test_fit_is_not_thinned_by_baselines(embedded):
    """A head on embeddings trains on every labelled embedded pixel, baselines read or not."""
    store = open_store(embedded.store)
    plain = labelled_region(store, 2024, embedded.labels, cube=embedded.cube)
    with_raw = labelled_region(store, 2024, embedded.labels, cube=embedded.cube, baselines=embedded.cube)
    assert fit_head(with_raw, "logistic").n_labelled == fit_head(plain, "logistic").n_labelled


def test_s2_only_cube_curves_and_fits(embedded, s2_only):
    store = open_store(embedded.store)
    region = labelled_region(store, 2024, embedded.labels, cube=s2_only, baselines=s2_only)
    assert region.raw is not None and region.raw["raw seasonal"].shape[-1] == 70
    points, n = region_curve(region, ["logistic"], [0.5], "random", 1, ())
    assert n > 0.5 * (embedded.classes > 0).sum()
    assert {p.features for p in points} == {"embeddings", "raw seasonal", "raw monthly"}
    assert fit_head(region, "logistic").n_labelled >= n


def test_baselines_on_another_grid_are_refused(embedded):
    store = open_store(embedded.store)
    with pytest.raises(LabelError, match="not on the region's grid"):
        labelled_region(store, 2024, embedded.labels, bbox=_far_bbox(embedded), baselines=embedded.cube)


def _far_bbox(embedded):
    from rasterio.warp import transform_bounds

    b = embedded.grid.bounds
    w, s, e, n = transform_bounds(embedded.grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
    return (w, s, e - (e - w) / 2, n)  # half the scene: another grid


def test_raw_feature_sets_name_both_baselines(embedded):
    assert set(raw_feature_sets(open_cube(embedded.cube).read())) == {"raw seasonal", "raw monthly"}
