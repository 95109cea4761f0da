"""``--depth``: every reader of the CLI reads Matryoshka prefixes of a v2 store, and heads record
the depth they were fitted on."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio

from tests.heads.conftest import sparse, write_label_raster
from tests.tessera_cli import run_tessera


def test_sample_and_export_read_a_prefix(embedded_v2, tmp_path):
    from pyproj import Transformer

    t = Transformer.from_crs(embedded_v2.grid.crs, "EPSG:4326", always_xy=True)
    xs, ys = embedded_v2.grid.transform * (np.array([10.5, 30.5]), np.array([12.5, 40.5]))
    lon, lat = t.transform(xs, ys)
    pd.DataFrame({"id": ["a", "b"], "lon": lon, "lat": lat}).to_csv(tmp_path / "p.csv", index=False)
    run_tessera(
        "sample",
        embedded_v2.store,
        tmp_path / "p.csv",
        "--year",
        2024,
        "-o",
        tmp_path / "full.csv",
        in_process=True,
        check=True,
    )
    run_tessera(
        "sample",
        embedded_v2.store,
        tmp_path / "p.csv",
        "--year",
        2024,
        "-o",
        tmp_path / "d16.csv",
        "--depth",
        16,
        in_process=True,
        check=True,
    )
    full, d16 = pd.read_csv(tmp_path / "full.csv"), pd.read_csv(tmp_path / "d16.csv")
    assert [c for c in d16.columns if c.startswith("e")] == [f"e{i}" for i in range(16)]
    assert (d16.status == "valid").all()
    np.testing.assert_array_equal(
        d16[[f"e{i}" for i in range(16)]].to_numpy(), full[[f"e{i}" for i in range(16)]].to_numpy()
    )
    w, s = t.transform(*(embedded_v2.grid.transform * (8, 30)))
    e, n = t.transform(*(embedded_v2.grid.transform * (30, 8)))
    run_tessera(
        "export",
        embedded_v2.store,
        tmp_path / "d16.npy",
        "--bbox",
        f"{w},{s},{e},{n}",
        "--year",
        2024,
        "--depth",
        16,
        in_process=True,
        check=True,
    )
    run_tessera(
        "export",
        embedded_v2.store,
        tmp_path / "full.npy",
        "--bbox",
        f"{w},{s},{e},{n}",
        "--year",
        2024,
        in_process=True,
        check=True,
    )
    a16, a = np.load(tmp_path / "d16.npy"), np.load(tmp_path / "full.npy")
    assert a16.shape[-1] == 16 and np.array_equal(a16, a[..., :16], equal_nan=True)


def test_curve_compares_depths_and_heads_keep_theirs(embedded_v2, tmp_path):
    out = tmp_path / "curve"
    run_tessera(
        "heads",
        "curve",
        embedded_v2.store,
        "--labels",
        embedded_v2.labels,
        "--year",
        2024,
        "--out",
        out,
        "--heads",
        "logistic",
        "--fractions",
        "0.1,1",
        "--repeats",
        "1",
        "--depth",
        "16,32,64,128",
        in_process=True,
        check=True,
    )
    rows = list(csv.DictReader(Path(out / "curve.csv").read_text().splitlines()))
    assert {r["features"] for r in rows} == {f"embeddings d{d}" for d in (16, 32, 64, 128)}
    labels = write_label_raster(tmp_path / "few.tif", sparse(embedded_v2.classes, 0.3), embedded_v2.grid)
    run_tessera(
        "heads",
        "fit",
        embedded_v2.store,
        "--labels",
        labels,
        "--year",
        2024,
        "--out",
        tmp_path / "h.skops",
        "--head",
        "logistic",
        "--depth",
        16,
        in_process=True,
        check=True,
    )
    run_tessera(
        "heads",
        "predict",
        embedded_v2.store,
        "--model",
        tmp_path / "h.skops",
        "--year",
        2024,
        "--cube",
        embedded_v2.cube,
        "--out",
        tmp_path / "map.tif",
        in_process=True,
        check=True,
    )
    with rasterio.open(tmp_path / "map.tif") as src:
        assert (src.read(1) >= 0).mean() > 0.9
