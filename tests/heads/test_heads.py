"""Heads, evaluation and labels on a small simulated scene."""

import json

import numpy as np
import pytest
import rasterio

from tessera.heads import (
    LabelError,
    baseline_features,
    block_split,
    learning_curve,
    rasterize_labels,
    read_label_raster,
)
from tessera.heads.labels import NO_LABEL


@pytest.fixture(scope="module")
def scene_data(small_scene):
    raw = baseline_features(small_scene.cube)
    h, w = small_scene.classes.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    return raw.reshape(h * w, -1), small_scene.classes.ravel().astype(int), rows, cols


def test_baseline_features_are_seasonal_summaries_without_gaps(small_scene):
    raw = baseline_features(small_scene.cube)
    assert raw.shape == (*small_scene.classes.shape, 78) and raw.dtype == np.float32
    assert np.isfinite(raw).mean() > 0.99
    # the annual median band feature equals a direct median of the valid observations
    c = small_scene.cube
    vals = c.s2_bands[:, 5, 7, 3].astype(float)[c.s2_mask[:, 5, 7] == 1]
    assert np.isclose(raw[5, 7, 40 + 10 + 3], np.median(vals))


def test_learning_curve_scores_only_unlabelled_blocks(scene_data):
    x, y, rows, cols = scene_data
    pts = learning_curve(
        {"raw bands": x}, y, rows, cols, heads=("logistic",), fractions=(0.05, 1.0), repeats=2, split="spatial", block=8
    )
    assert len(pts) == 4 and all(0 <= p.metrics["accuracy"] <= 1 for p in pts)
    full = [p for p in pts if p.fraction == 1.0]
    assert all(p.metrics["accuracy"] > 0.5 for p in full)
    assert set(pts[0].metrics) == {"accuracy", "macro_f1", "per_class_f1", "confusion"}
    train_half = block_split(rows, cols, 8, seed=0)
    assert full[0].n_train == train_half.sum()


def test_label_problems_are_clear(scene_data):
    x, y, rows, cols = scene_data
    with pytest.raises(LabelError, match="one class"):
        learning_curve({"raw": x}, np.ones_like(y), rows, cols)
    with pytest.raises(LabelError, match="too few"):
        a, b = np.unique(y)[:2]
        idx = np.array([*np.flatnonzero(y == a)[:2], np.flatnonzero(y == b)[0]])
        learning_curve({"raw": x[idx]}, y[idx], rows[idx], cols[idx], fractions=(0.01,), min_train=5, split="random")


def test_vector_labels_in_wgs84_land_on_the_utm_grid(small_scene, tmp_path):
    from rasterio.warp import transform_bounds

    grid = small_scene.cube.grid
    b = grid.bounds
    w, s, e, n = transform_bounds(grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
    mid = (w + e) / 2
    feats = [
        {
            "type": "Feature",
            "properties": {"crop": name},
            "geometry": {"type": "Polygon", "coordinates": [[[x0, s], [x1, s], [x1, n], [x0, n], [x0, s]]]},
        }
        for name, x0, x1 in (("wheat", w, mid), ("maize", mid, e))
    ]
    (tmp_path / "l.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    labels, legend = rasterize_labels(tmp_path / "l.geojson", grid, "crop")
    assert legend == {"maize": 1, "wheat": 2}  # sorted names → stable ids
    assert (labels[:, : grid.width // 3] == 2).all() and (labels[:, -grid.width // 3 :] == 1).all()
    with pytest.raises(LabelError, match="no column"):
        rasterize_labels(tmp_path / "l.geojson", grid, "class")
    far = [{**f, "geometry": {"type": "Point", "coordinates": [100.0, 10.0]}} for f in feats]
    (tmp_path / "far.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": far}))
    with pytest.raises(LabelError, match="inside the region"):
        rasterize_labels(tmp_path / "far.geojson", grid, "crop")


def test_a_feature_without_a_class_is_unlabelled_not_a_class(small_scene, tmp_path):
    from rasterio.warp import transform_bounds

    grid = small_scene.cube.grid
    b = grid.bounds
    w, s, e, n = transform_bounds(grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
    thirds = np.linspace(w, e, 4)
    feats = [
        {
            "type": "Feature",
            "properties": {"crop": name},
            "geometry": {"type": "Polygon", "coordinates": [[[x0, s], [x1, s], [x1, n], [x0, n], [x0, s]]]},
        }
        for name, x0, x1 in (("wheat", thirds[0], thirds[1]), (None, thirds[1], thirds[2]), ("", thirds[2], thirds[3]))
    ]
    (tmp_path / "l.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    labels, legend = rasterize_labels(tmp_path / "l.geojson", grid, "crop")
    assert legend == {"wheat": 1} and set(np.unique(labels)) == {NO_LABEL, 1}
    blank = [f for f in feats if f["properties"]["crop"] in (None, "")]
    (tmp_path / "blank.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": blank}))
    with pytest.raises(LabelError, match="every one is unlabelled"):
        rasterize_labels(tmp_path / "blank.geojson", grid, "crop")


def test_label_raster_in_another_crs_is_reprojected(small_scene, tmp_path):
    from rasterio.warp import calculate_default_transform, reproject

    grid = small_scene.cube.grid
    src = small_scene.classes.astype(np.uint8)
    t, w, h = calculate_default_transform(
        grid.crs,
        "EPSG:4326",
        grid.width,
        grid.height,
        *[getattr(grid.bounds, k) for k in ("left", "bottom", "right", "top")],
    )
    dst = np.full((h, w), 255, np.uint8)  # 255: the simulator's "no class", so class 0 is a class
    reproject(
        src, dst, src_transform=grid.transform, src_crs=grid.crs, dst_transform=t, dst_crs="EPSG:4326", dst_nodata=255
    )
    with rasterio.open(
        tmp_path / "l.tif",
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="uint8",
        crs="EPSG:4326",
        transform=t,
        nodata=255,
    ) as f:
        f.write(dst[None])
    back = read_label_raster(tmp_path / "l.tif", grid)
    assert back.shape == grid.shape and (back == src).mean() > 0.85 and (back[src == 0] == 0).mean() > 0.85


def test_unet_learns_fields_from_sparse_labels(small_scene):
    from tessera.heads.unet import UNetHead

    x = baseline_features(small_scene.cube)
    from tessera.heads.labels import NO_LABEL

    y = small_scene.classes.astype(int)  # class 0 included: unlabelled is NO_LABEL (-1)
    keep = np.random.default_rng(0).random(y.shape) < 0.03
    head = UNetHead(steps=300, patch=32).fit(x, np.where(keep, y, NO_LABEL))
    pred = head.predict(x)
    assert (pred == y)[~keep].mean() > 0.8
    x[:2, :2] = np.nan
    assert (head.predict(x)[:2, :2] == NO_LABEL).all()  # no data → no class


def test_group_split_never_shares_a_field_between_train_and_test():
    from tessera.heads.evaluate import group_split

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 5000)
    groups[:50] = -1
    y = groups % 3
    rows, cols = np.divmod(np.arange(5000), 100)
    pts = learning_curve(
        {"f": np.eye(3)[y] + rng.normal(0, 0.1, (5000, 3))},
        y,
        rows,
        cols,
        heads=("logistic",),
        fractions=(0.2,),
        repeats=3,
        split="groups",
        groups=groups,
    )
    assert len(pts) == 3 and all(p.split == "groups" for p in pts)
    for seed in range(3):
        pool = group_split(groups, seed)
        assert not set(groups[pool]) & set(groups[~pool & (groups >= 0)])
        assert not pool[:50].any()


def test_monthly_baseline_fills_cloudy_months_between_neighbours():
    import dataclasses

    from tessera.heads.features import monthly_features
    from tessera.simulate import SimulationConfig, simulate

    cube = simulate(SimulationConfig(height=8, width=8, seed=2)).cube
    mask = cube.s2_mask.copy()
    mask[(cube.s2_doy >= 92) & (cube.s2_doy < 122)] = 0  # April all clouded
    cube = dataclasses.replace(cube, s2_mask=mask)
    f = monthly_features(cube).reshape(8, 8, 12, 10)
    assert np.isfinite(f).all()
    march, april, may = f[:, :, 2], f[:, :, 3], f[:, :, 4]
    assert np.all((april >= np.minimum(march, may) - 1e-3) & (april <= np.maximum(march, may) + 1e-3))


def test_the_registry_holds_each_task_and_head_fact_once():
    import numpy as np

    from tessera.errors import ConfigError, LabelError
    from tessera.heads.labels import NO_LABEL
    from tessera.heads.registry import CLASSIFIERS, HEADS, REGRESSORS, head_spec, task_spec

    cls, reg = task_spec("classification"), task_spec("regression")
    assert cls.classes and not reg.classes and (cls.metric, reg.metric) == ("accuracy", "r2")
    assert cls.empty(3).tolist() == [NO_LABEL] * 3 and cls.empty(3).dtype == np.int32
    assert np.isnan(reg.empty(2)).all() and reg.empty(2).dtype == np.float32
    assert cls.labelled(np.array([NO_LABEL, 0, 3])).tolist() == [False, True, True]
    assert reg.labelled(np.array([np.nan, 0.0])).tolist() == [False, True]
    # the UNet is the one head on whole images, saved as safetensors; pixel heads are skops files
    assert [n for n, h in HEADS.items() if h.spatial] == ["unet"] and head_spec("unet").suffix == ".safetensors"
    assert "unet" not in CLASSIFIERS and set(REGRESSORS) == {"ridge", "rf", "mlp"}
    with pytest.raises(ConfigError, match="does classification only"):
        head_spec("unet", "regression")
    with pytest.raises(ConfigError, match="not one of"):
        head_spec("svm")
    with pytest.raises(LabelError, match="must be classification or regression"):
        task_spec("segmentation")
