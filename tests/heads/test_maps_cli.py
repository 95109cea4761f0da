"""`tessera similar`, `tessera pca` and `info --coverage`: the pictures and maps made straight from
a store."""

import csv
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.tessera_cli import one_line_error, run_tessera


def test_similar_finds_the_query_and_lists_distinct_places(embedded, tmp_path):
    from rasterio.warp import transform

    g = embedded.grid
    x, y = g.transform * (20.5, 24.5)
    (lon,), (lat,) = transform(g.crs, "EPSG:4326", [x], [y])
    run_tessera(
        "similar",
        embedded.store,
        "--point",
        f"{lon},{lat}",
        "--year",
        2024,
        "--out",
        tmp_path / "sim.tif",
        "--size",
        64,
        "--top-k",
        5,
        "--separation",
        6,
        in_process=True,
        check=True,
    )
    with rasterio.open(tmp_path / "sim.tif") as src:
        sim = src.read(1)
        r, c = src.index(x, y)
    assert sim[r, c] == pytest.approx(1.0, abs=1e-5) and np.nanmax(sim) <= 1 + 1e-5
    top = list(csv.DictReader(Path(tmp_path / "sim.csv").read_text().splitlines()))
    assert len(top) == 5 and [float(t["similarity"]) for t in top] == sorted(
        (float(t["similarity"]) for t in top), reverse=True
    )
    one_line_error(
        run_tessera(
            "similar",
            embedded.store,
            "--point",
            "10.0,10.0",
            "--year",
            2024,
            "--out",
            tmp_path / "s.tif",
            in_process=True,
        ),
        "no embedding",
    )


def test_info_plots_coverage(embedded, tmp_path):
    run_tessera("info", embedded.store, "--coverage", tmp_path / "cov.png", in_process=True, check=True)
    assert (tmp_path / "cov.png").stat().st_size > 3000
    from tessera.access import open_store

    s = open_store(embedded.store)
    boxes, blocks = s.footprints(), s.coverage()
    assert len(boxes) == len(blocks) > 1 and sum(b["pixels"] + b["nodata"] for b in blocks) == 48 * 48
    # the boxes are lon/lat and tile the scene's footprint: their areas add up to it (± projection)
    from rasterio.warp import transform_bounds

    b = embedded.grid.bounds
    w, s_, e, n = transform_bounds(embedded.grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in (f["bounds"] for f in boxes))
    assert area == pytest.approx((e - w) * (n - s_), rel=0.05)


def test_pca_picture_in_three_formats(embedded, tmp_path):
    from rasterio.warp import transform_bounds

    b = embedded.grid.bounds
    bbox = ",".join(map(str, transform_bounds(embedded.grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)))
    for name in ("pca.png", "pca.tif", "pca.html"):
        run_tessera(
            "pca", embedded.store, "--bbox", bbox, "--year", 2024, "--out", tmp_path / name, in_process=True, check=True
        )
    with rasterio.open(tmp_path / "pca.tif") as src:
        rgba = src.read()
        assert src.count == 4 and src.crs.to_string() == embedded.grid.crs
    assert rgba[3].mean() > 200 and rgba[:3].std() > 10  # mostly opaque, not one flat colour
    html = (tmp_path / "pca.html").read_text()
    assert "data:image/png;base64," in html and "imperial: false" in html  # a scale bar in metres only
    one_line_error(
        run_tessera(
            "pca", embedded.store, "--bbox", bbox, "--year", 2024, "--out", tmp_path / "pca.jpg", in_process=True
        ),
        "must end in",
    )
