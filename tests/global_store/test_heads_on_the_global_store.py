"""Heads on the global store: pixels screened by its quality layers (and counted), and a head
fitted on one dataset refused on another's embeddings."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np

from tessera.access import open_store
from tessera.grid import Grid
from tests.heads.conftest import write_label_raster
from tests.tessera_cli import one_line_error, run_tessera

COPY = "v1.1-dclimate"


def _labels(replica, truth, tmp_path):
    """A label raster over the blocks either side of the equator: class by the sign of e0."""
    north = truth.lonlat(0, np.array([0]), np.array([0]))[0]
    south = truth.lonlat(1, np.array([87]), np.array([95]))[0]
    region = open_store(replica / COPY).read_region((north[0], south[1], south[0], north[1]), 2024, quality=True)
    classes = np.where(np.isnan(region.data[..., 0]), 0, np.where(region.data[..., 0] > 0, 1, 2))
    classes[np.random.default_rng(0).random(classes.shape) < 0.7] = 0  # a sparse labelling: quick fits
    path = write_label_raster(tmp_path / "labels.tif", classes, region.grid)
    return path, region, classes


def _fit(replica, labels, out, *extra: str):
    """``tessera heads fit`` of a kNN head (quick to fit) on the copy."""
    args = ("heads", "fit", replica / COPY, "--labels", labels, "--year", 2024, "-o", out, "--head", "knn", *extra)
    return run_tessera(*args, check=True, in_process=True)


def test_the_quality_screen_drops_and_counts(replica, truth, tmp_path):
    path, region, classes = _labels(replica, truth, tmp_path)
    s2 = region.quality["s2_obs_count"]
    labelled, embedded = classes > 0, ~np.isnan(region.data).any(axis=-1)
    below = int((embedded & (s2 < 40)).sum())  # counted over every pixel with a vector
    asc, desc = region.quality["s1_asc_obs_count"], region.quality["s1_desc_obs_count"]
    free = int((embedded & (asc == 0) & (desc == 0)).sum())
    assert below > 100 and free > 100
    done = _fit(replica, path, tmp_path / "h.skops", "--min-s2-obs", "40", "--drop-radar-free")
    said = re.search(
        r"quality screen: ([\d,]+) below 40 optical observations, ([\d,]+) radar-free \(dropped\)", done.stdout
    )
    assert said is not None, done.stdout
    assert int(said.group(1).replace(",", "")) == below and int(said.group(2).replace(",", "")) == free
    kept = int((labelled & (s2 >= 40) & ~((asc == 0) & (desc == 0))).sum())
    assert f"on {kept:,} labelled pixels" in done.stdout
    # By default the store's own rule (15): every embedded pixel of the published store meets it.
    done = _fit(replica, path, tmp_path / "d.skops")
    assert "quality screen: 0 below 15 optical observations" in done.stdout


def test_a_head_refuses_another_datasets_embeddings(replica, truth, tmp_path):
    path, region, _ = _labels(replica, truth, tmp_path)
    _fit(replica, path, tmp_path / "h.skops")
    other = tmp_path / "other"
    shutil.copytree(replica / COPY, other)
    doc = json.loads((other / "zarr.json").read_text())
    doc["attributes"]["checkpoint_id"] = "tessera_v1_1_original"
    (other / "zarr.json").write_text(json.dumps(doc))
    bbox = ",".join(str(v) for v in _bbox_of(region.grid))
    args = ["heads", "predict", str(other), "--year", "2024", "--model", str(tmp_path / "h.skops"), "--bbox", bbox]
    done = run_tessera(*args, "-o", str(tmp_path / "m.tif"), in_process=True)
    one_line_error(done, "checkpoint tessera_v1_1_aws_encoder")
    assert "tessera_v1_1_original" in done.stderr + done.stdout
    done = run_tessera(*args, "-o", str(tmp_path / "m.tif"), "--allow-other-model", check=True, in_process=True)
    assert (tmp_path / "m.tif").exists()


def _bbox_of(grid: Grid) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds

    b = grid.bounds
    w, s, e, n = transform_bounds(grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
    return w + 1e-5, s + 1e-5, e - 1e-5, n - 1e-5


def test_heads_on_the_icechunk_repository_in_python_312(replica, truth, reader312, tmp_path):
    """The reader and heads need no PyTorch: on Python 3.12 with Icechunk 2 a head fits on the
    repository and maps it, pixels screened by its quality layers."""
    path, region, _ = _labels(replica, truth, tmp_path)
    repo = replica / "dclimate.icechunk"
    fit = ["heads", "fit", repo, "--labels", path, "--year", 2024, "-o", tmp_path / "h.skops", "--head", "knn"]
    done = run_tessera(*fit, "--min-s2-obs", "40", check=True, python=reader312)
    assert "below 40 optical observations" in done.stdout
    bbox = ",".join(str(v) for v in _bbox_of(region.grid))
    args = ["heads", "predict", repo, "--year", 2024, "--model", tmp_path / "h.skops", "--bbox", bbox]
    run_tessera(*args, "-o", tmp_path / "m.tif", check=True, python=reader312)
    import rasterio

    with rasterio.open(tmp_path / "m.tif") as f:
        mapped = f.read(1)
    assert (mapped > 0).mean() > 0.5
