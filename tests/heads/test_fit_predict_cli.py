"""`tessera heads fit` and `tessera heads predict`: saved heads, maps, labels in any CRS or layout,
regression, and the bad labels and foreign files a user can hand them."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tessera.errors import TesseraError
from tests.heads.conftest import sparse, write_label_raster
from tests.tessera_cli import one_line_error, run_tessera


def labels_read(path):
    with rasterio.open(path) as f:
        return f.read(1)


def test_fit_then_predict_maps_the_region(embedded, tmp_path):
    labels = write_label_raster(tmp_path / "few.tif", sparse(embedded.classes, 0.2), embedded.grid)
    run_tessera(
        "heads",
        "fit",
        embedded.store,
        "--labels",
        labels,
        "--year",
        2024,
        "--out",
        tmp_path / "rf.skops",
        in_process=True,
        check=True,
    )
    run_tessera(
        "heads",
        "predict",
        embedded.store,
        "--model",
        tmp_path / "rf.skops",
        "--year",
        2024,
        "--cube",
        embedded.cube,
        "--out",
        tmp_path / "map.tif",
        "--html",
        tmp_path / "map.html",
        in_process=True,
        check=True,
    )
    with rasterio.open(tmp_path / "map.tif") as src:
        pred = src.read(1)
        assert src.crs.to_string() == embedded.grid.crs and src.transform == embedded.grid.transform
        assert src.tags()["head"] == "rf"
    unseen = labels_read(labels) == 0
    assert (pred[unseen] == embedded.classes[unseen]).mean() > 0.5  # a random-init model, still well above chance
    with rasterio.open(tmp_path / "map.confidence.tif") as src:  # how sure the head is, pixel by pixel
        conf = src.read(1)
        assert src.transform == embedded.grid.transform
    mapped = pred != -1
    assert np.isnan(conf[~mapped]).all() and np.isfinite(conf[mapped]).all()
    assert conf[mapped].min() >= 1 / len(np.unique(embedded.classes)) - 1e-6 and conf[mapped].max() <= 1
    wrong = unseen & mapped & (pred != embedded.classes)
    right = unseen & mapped & (pred == embedded.classes)
    assert conf[wrong].mean() < conf[right].mean()  # its doubt falls where it is wrong
    assert set(json.loads((tmp_path / "map.json").read_text())) <= {str(c) for c in np.unique(embedded.classes)}
    html = (tmp_path / "map.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "embeddings (PCA)" in html  # + the area of applicability
    assert "outside the area of applicability" in html
    assert (tmp_path / "map.png").stat().st_size > 1000


def test_predict_fits_on_labels_in_another_crs(embedded, tmp_path):
    from rasterio.warp import calculate_default_transform, reproject

    g = embedded.grid
    b = g.bounds
    t, w, h = calculate_default_transform(g.crs, "EPSG:4326", g.width, g.height, b.left, b.bottom, b.right, b.top)
    dst = np.zeros((h, w), np.uint8)
    reproject(
        sparse(embedded.classes, 0.3).astype(np.uint8),
        dst,
        src_transform=g.transform,
        src_crs=g.crs,
        dst_transform=t,
        dst_crs="EPSG:4326",
    )
    labels = write_label_raster(tmp_path / "wgs84.tif", dst, g, crs="EPSG:4326", transform=t)
    run_tessera(
        "heads",
        "predict",
        embedded.store,
        "--labels",
        labels,
        "--year",
        2024,
        "--cube",
        embedded.cube,
        "--head",
        "logistic",
        "--out",
        tmp_path / "map.tif",
        in_process=True,
        check=True,
    )
    with rasterio.open(tmp_path / "map.tif") as src:
        assert src.shape == g.shape and src.crs.to_string() == g.crs  # mapped on the cube's UTM grid


def test_unet_head_round_trips_through_safetensors(embedded, tmp_path, monkeypatch):
    from functools import partialmethod

    from tessera.heads.unet import UNetHead

    # What is tested is the file, not the learning (test_unet_learns_fields_from_sparse_labels).
    monkeypatch.setattr(UNetHead, "__init__", partialmethod(UNetHead.__init__, steps=20))
    labels = write_label_raster(tmp_path / "few.tif", sparse(embedded.classes, 0.1), embedded.grid)
    run_tessera(
        "heads",
        "fit",
        embedded.store,
        "--labels",
        labels,
        "--year",
        2024,
        "--head",
        "unet",
        "--out",
        tmp_path / "unet.safetensors",
        in_process=True,
        check=True,
    )
    from tessera.heads.persist import load_head

    _model, meta = load_head(tmp_path / "unet.safetensors")
    assert meta["head"] == "unet" and meta["embed_dim"] == 128
    assert meta["arrays"]["aoa_train"].shape[1] == 128  # the area of applicability travels with it
    run_tessera(
        "heads",
        "predict",
        embedded.store,
        "--model",
        tmp_path / "unet.safetensors",
        "--year",
        2024,
        "--cube",
        embedded.cube,
        "--out",
        tmp_path / "map.tif",
        in_process=True,
        check=True,
    )
    pred = labels_read(tmp_path / "map.tif")
    assert set(np.unique(pred)) <= set(np.unique(embedded.classes))
    assert (tmp_path / "map.aoa.tif").is_file()
    with rasterio.open(tmp_path / "map.confidence.tif") as src:  # the softmax of the class it maps
        conf = src.read(1)
    assert np.isnan(conf[pred == -1]).all() and (conf[pred != -1] > 0).all() and (conf[pred != -1] <= 1).all()


def test_heads_read_the_geotessera_layout(embedded, tmp_path):
    from rasterio.warp import transform_bounds

    from tessera.access import open_store
    from tessera.access.geotessera import export_tiles

    g = embedded.grid
    b = g.bounds
    bbox = transform_bounds(g.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
    export_tiles(open_store(embedded.store), bbox, 2024, tmp_path / "gt")
    for store, name in ((embedded.store, "zarr"), (tmp_path / "gt", "gt")):
        run_tessera(
            "heads",
            "predict",
            store,
            "--labels",
            embedded.labels,
            "--year",
            2024,
            "--cube",
            embedded.cube,
            "--head",
            "logistic",
            "--out",
            tmp_path / f"{name}.tif",
            in_process=True,
            check=True,
        )
    # the tiles hold the store's int8 values on the same UTM lattice: the same embeddings, the same map
    assert (labels_read(tmp_path / "zarr.tif") == labels_read(tmp_path / "gt.tif")).all()


def test_bad_labels_are_one_line_errors(embedded, tmp_path):
    one = write_label_raster(tmp_path / "one.tif", np.where(embedded.classes > 0, 1, 0), embedded.grid)
    one_line_error(
        run_tessera(
            "heads",
            "fit",
            embedded.store,
            "--labels",
            one,
            "--year",
            2024,
            "--out",
            tmp_path / "m.skops",
            in_process=True,
        ),
        "one class",
    )
    one_line_error(
        run_tessera(
            "heads", "curve", embedded.store, "--labels", one, "--year", 2024, "--out", tmp_path / "c", in_process=True
        ),
        "one class",
    )
    far = rasterio.transform.from_origin(500000, 100000, 10, 10)  # same CRS, hundreds of km away
    outside = write_label_raster(tmp_path / "far.tif", embedded.classes, embedded.grid, transform=far)
    one_line_error(
        run_tessera(
            "heads",
            "curve",
            embedded.store,
            "--labels",
            outside,
            "--year",
            2024,
            "--out",
            tmp_path / "c",
            "--cube",
            embedded.cube,
            in_process=True,
        ),
        "no labels inside the region",
    )
    few = np.zeros_like(embedded.classes)
    few[0, 0], few[-1, -1], few[0, -1] = 1, 2, 2
    few_path = write_label_raster(tmp_path / "few.tif", few, embedded.grid)
    one_line_error(
        run_tessera(
            "heads",
            "curve",
            embedded.store,
            "--labels",
            few_path,
            "--year",
            2024,
            "--out",
            tmp_path / "c",
            "--fractions",
            "0.01",
            "--split",
            "random",
            in_process=True,
        ),
        "too few",
    )
    one_line_error(
        run_tessera("heads", "predict", embedded.store, "--year", 2024, "--out", tmp_path / "m.tif", in_process=True),
        "exactly one of --model",
    )
    # and the console (a fresh interpreter, as a shell runs it) shows it as one line, no traceback
    r = run_tessera("heads", "fit", embedded.store, "--labels", one, "--year", "2024", "--out", tmp_path / "m.skops")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "one class" in r.stderr
    assert not (tmp_path / "m.skops").exists()


def test_saved_heads_with_foreign_types_are_refused(tmp_path):
    import os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    from tessera.heads.persist import HeadFileError, load_head

    sio.dump({"model": FunctionTransformer(os.system), "meta": {}}, tmp_path / "evil.skops")
    with pytest.raises(HeadFileError, match="types no tessera head uses"):
        load_head(tmp_path / "evil.skops")
    (tmp_path / "junk.skops").write_bytes(b"not a zip")
    with pytest.raises(HeadFileError, match="not a readable head file"):
        load_head(tmp_path / "junk.skops")


def test_regression_curve_fit_and_value_map(embedded, tmp_path):
    # a continuous target that follows the land cover (say, biomass), -9999 = not measured
    rng = np.random.default_rng(3)
    target = (embedded.classes * 1.5 + rng.normal(0, 0.2, embedded.classes.shape)).astype(np.float32)
    measured = rng.random(target.shape) < 0.3
    g = embedded.grid
    with rasterio.open(
        tmp_path / "biomass.tif",
        "w",
        driver="GTiff",
        width=g.width,
        height=g.height,
        count=1,
        dtype="float32",
        crs=g.crs,
        transform=g.transform,
        nodata=-9999,
    ) as f:
        f.write(np.where(measured, target, -9999)[None])
    run_tessera(
        "heads",
        "curve",
        embedded.store,
        "--labels",
        tmp_path / "biomass.tif",
        "--year",
        2024,
        "--task",
        "regression",
        "--heads",
        "ridge",
        "--fractions",
        "0.2,1",
        "--repeats",
        "1",
        "--out",
        tmp_path / "c",
        in_process=True,
        check=True,
    )
    rows = list(csv.DictReader(Path(tmp_path / "c" / "curve.csv").read_text().splitlines()))
    assert len(rows) == 2 and {"rmse", "mae", "r2"} <= set(rows[0])
    run_tessera(
        "heads",
        "fit",
        embedded.store,
        "--labels",
        tmp_path / "biomass.tif",
        "--year",
        2024,
        "--task",
        "regression",
        "--head",
        "ridge",
        "--out",
        tmp_path / "ridge.skops",
        in_process=True,
        check=True,
    )
    run_tessera(
        "heads",
        "predict",
        embedded.store,
        "--model",
        tmp_path / "ridge.skops",
        "--year",
        2024,
        "--cube",
        embedded.cube,
        "--out",
        tmp_path / "biomass_map.tif",
        "--html",
        tmp_path / "b.html",
        in_process=True,
        check=True,
    )
    with rasterio.open(tmp_path / "biomass_map.tif") as src:
        pred = src.read(1)
        assert src.dtypes[0] == "float32" and src.tags()["task"] == "regression"
    assert not (tmp_path / "biomass_map.confidence.tif").exists()  # a value has no class probability
    unseen = ~measured & np.isfinite(pred)
    resid = pred[unseen] - target[unseen]
    assert 1 - resid.var() / target[unseen].var() > 0.3  # R² on unmeasured pixels, random-init model
    one_line_error(
        run_tessera(
            "heads",
            "fit",
            embedded.store,
            "--labels",
            tmp_path / "biomass.tif",
            "--year",
            2024,
            "--task",
            "regression",
            "--head",
            "unet",
            "--out",
            tmp_path / "u.safetensors",
            in_process=True,
        ),
        "classification only",
    )


def test_class_zero_and_the_scene_legend_are_honoured(embedded, tmp_path):
    """The simulator's classes.tif (ids 0–9, nodata 255, names in legend.json) used as labels:
    class 0 is trained, predicted and named; unmapped pixels are -1, not a class."""
    from tessera.simulate import SimulationConfig, simulate, write_scene

    scene_dir = tmp_path / "scene"
    scene = simulate(SimulationConfig(height=48, width=48, seed=11, field_px=12))
    write_scene(scene, scene_dir)
    assert (scene.classes == 0).any()
    run_tessera(
        "heads",
        "predict",
        embedded.store,
        "--labels",
        scene_dir / "classes.tif",
        "--year",
        2024,
        "--head",
        "logistic",
        "--cube",
        embedded.cube,
        "--out",
        tmp_path / "map.tif",
        in_process=True,
        check=True,
    )
    legend = json.loads((tmp_path / "map.json").read_text())
    names = {c["id"]: c["name"] for c in json.loads((scene_dir / "legend.json").read_text())}
    assert legend["0"] == names[0] == "winter_cereal" and all(legend[k] == names[int(k)] for k in legend)
    # QGIS opens map.tif with map.qml: a paletted style naming every class, in the PNG's colours
    import xml.etree.ElementTree as ET

    from tessera.viz.qgis import class_colours

    entries = ET.parse(tmp_path / "map.qml").getroot().findall("./pipe/rasterrenderer/colorPalette/paletteEntry")
    assert {e.get("value"): e.get("label") for e in entries} == legend
    top = max(int(k) for k in legend)
    assert all(e.get("color") == class_colours([int(e.get("value"))], top)[int(e.get("value"))] for e in entries)
    with rasterio.open(tmp_path / "map.tif") as src:
        pred = src.read(1)
        assert src.nodata == -1
    assert (pred == 0).any() and ((pred == 0) == (scene.classes == 0)).mean() > 0.8


def test_a_labels_raster_without_nodata_treats_zero_as_unlabelled(embedded, tmp_path):
    from tessera.heads.labels import NO_LABEL, read_label_raster

    path = tmp_path / "plain.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=48,
        height=48,
        count=1,
        dtype="uint8",
        crs=embedded.grid.crs,
        transform=embedded.grid.transform,
    ) as f:
        f.write(sparse(embedded.classes, 0.3).astype(np.uint8)[None])
    got = read_label_raster(path, embedded.grid)
    assert (got == NO_LABEL).sum() == (sparse(embedded.classes, 0.3) == 0).sum() and (got != 0).all()
    float_path = tmp_path / "float.tif"
    with rasterio.open(
        float_path,
        "w",
        driver="GTiff",
        width=48,
        height=48,
        count=1,
        dtype="float32",
        crs=embedded.grid.crs,
        transform=embedded.grid.transform,
    ) as f:
        f.write(np.ones((1, 48, 48), np.float32))
    with pytest.raises(TesseraError, match="class labels must be integers"):
        read_label_raster(float_path, embedded.grid)


def test_a_head_refuses_embeddings_of_another_model(embedded, tmp_path):
    import shutil

    labels = write_label_raster(tmp_path / "few.tif", sparse(embedded.classes, 0.2), embedded.grid)
    run_tessera(
        "heads",
        "fit",
        embedded.store,
        "--labels",
        labels,
        "--year",
        2024,
        "--head",
        "logistic",
        "-o",
        tmp_path / "h.skops",
        in_process=True,
        check=True,
    )
    other = tmp_path / "other"
    shutil.copytree(embedded.store, other)
    doc = json.loads((other / "zarr.json").read_text())
    doc["attributes"]["geoemb:model"] = "urn:tessera:model:small:sha256:" + "9" * 64
    (other / "zarr.json").write_text(json.dumps(doc))
    args = ["heads", "predict", other, "--model", tmp_path / "h.skops", "--year", 2024, "--cube", embedded.cube]
    r = run_tessera(*args, "-o", tmp_path / "m.tif", in_process=True)
    one_line_error(r, "fitted on embeddings of")
    assert not (tmp_path / "m.tif").exists()
    run_tessera(*args, "-o", tmp_path / "m.tif", "--allow-other-model", check=True, in_process=True)


def test_a_skops_file_holding_no_model_is_refused(tmp_path):
    import skops.io as sio

    from tessera.heads.persist import load_head

    sio.dump({"model": "not a model", "meta": {"head": "rf"}}, tmp_path / "s.skops")
    with pytest.raises(TesseraError, match="holds a str where a fitted head should be"):
        load_head(tmp_path / "s.skops")
