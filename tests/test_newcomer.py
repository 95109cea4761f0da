"""The path a new user walks with their own Sentinel-2 files, offline and without a single
``--bbox``: GeoTIFFs → ``cube import-tif`` → ``embed -c tiny-broad`` → ``info`` (where, in
degrees) → ``pca``, ``similar`` and ``heads curve --cube``."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from tessera.cube import open_cube
from tessera.heads.similar import cosine_map
from tessera.simulate import SimulationConfig, simulate
from tests.cube.tif_stacks import WAVELENGTH, optical_only, write_folder, write_stack
from tests.heads.conftest import write_label_raster
from tests.tessera_cli import run_tessera


def test_from_geotiffs_to_a_map_without_a_bbox(tmp_path):
    scene = simulate(SimulationConfig(height=56, width=56, year=2024, seed=11, field_px=12))
    optical = optical_only(scene.cube)
    # A GEE-style stack (wavelength order, described) and a folder of Theia-style dates in a third
    # order, undescribed: the two routes must give one cube.
    stack = write_stack(optical, tmp_path / "forest_2024.tif", WAVELENGTH)
    other = ("B02", "B03", "B04", "B08", "B05", "B06", "B07", "B8A", "B11", "B12")
    folder = write_folder(optical, tmp_path / "dates", other)
    run_tessera("cube", "import-tif", stack, tmp_path / "a.zarr", check=True, in_process=True)
    run_tessera(
        "cube", "import-tif", folder, tmp_path / "b.zarr", "--bands", ",".join(other), check=True, in_process=True
    )
    cube = open_cube(tmp_path / "a.zarr").read()
    assert cube.equals(open_cube(tmp_path / "b.zarr").read()) and cube.equals(optical)

    store = tmp_path / "store.zarr"
    run_tessera("embed", tmp_path / "a.zarr", "-s", store, "-c", "tiny-broad", check=True, in_process=True)
    info = run_tessera("info", store, check=True, in_process=True).stdout
    w, s, e, n = cube.grid.lonlat_bounds()
    found = re.search(r"written over W,S,E,N ([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+)", info)
    assert found, info
    assert np.allclose([float(v) for v in found.groups()], [w, s, e, n], atol=2e-4)  # a 256 px block's edge at most
    cube_info = run_tessera("cube", "info", tmp_path / "a.zarr", "--json", check=True, in_process=True).stdout
    assert np.allclose(json.loads(cube_info)["lonlat_bounds"], [w, s, e, n], atol=1e-6)

    run_tessera("pca", store, "--year", 2024, "-o", tmp_path / "pca.png", check=True, in_process=True)
    assert (tmp_path / "pca.png").stat().st_size > 2000
    lon, lat = (w + e) / 2, (s + n) / 2
    run_tessera(
        "similar",
        store,
        "--point",
        f"{lon},{lat}",
        "--year",
        2024,
        "-o",
        tmp_path / "sim.tif",
        "--cube",
        tmp_path / "a.zarr",
        check=True,
        in_process=True,
    )
    assert len(list(csv.DictReader((tmp_path / "sim.csv").read_text().splitlines()))) == 10

    labels = write_label_raster(tmp_path / "labels.tif", scene.classes + 1, scene.grid)
    curve = tmp_path / "curve"
    run_tessera(
        "heads",
        "curve",
        store,
        "--labels",
        labels,
        "--year",
        2024,
        "--out",
        curve,
        "--cube",
        tmp_path / "a.zarr",
        "--heads",
        "logistic",
        "--fractions",
        "0.5",
        "--repeats",
        "1",
        check=True,
        in_process=True,
    )
    rows = list(csv.DictReader((curve / "curve.csv").read_text().splitlines()))
    assert rows and all(0 <= float(r["accuracy"]) <= 1 for r in rows)


def test_a_store_that_does_not_say_where_it_is_written_asks_for_a_region():
    from tessera.access.extent import working_grid
    from tessera.errors import AccessError

    class Remote:  # a store served without its fill records
        location = "https://example.org/store.zarr"

        def coverage(self):
            raise AccessError("no fill records")

    with pytest.raises(AccessError, match=r"does not list where 2024 is written.*--bbox W,S,E,N.*--cube"):
        working_grid(Remote(), 2024)


def test_similar_ranks_planted_look_alikes_first_despite_a_common_direction():
    """Real stores share one dominant direction, so every raw cosine is ≈ 0.99 and a map of it
    is one even colour; about the region's mean the planted look-alikes come first and stand out."""
    from tessera.heads.similar import region_mean

    rng = np.random.default_rng(5)
    h, w, d = 40, 40, 64
    common = 10.0 * rng.normal(size=d)
    data = common + rng.normal(size=(h, w, d))
    target = 20.0 * rng.normal(size=d) / np.sqrt(d)
    planted = [(3, 14), (10, 30), (25, 17), (33, 33), (18, 18)]
    for r, c in planted:
        data[r, c] = common + target + 1.5 * rng.normal(size=d)
    q = data[planted[0]]
    raw = cosine_map(data, q)
    assert np.median(raw) > 0.9  # the report's "every cosine ≈ 1"
    sim = cosine_map(data, q, region_mean(data))
    sim[planted[0]] = np.nan
    top = {divmod(int(i), w) for i in np.argsort(np.nan_to_num(sim, nan=-2).ravel())[::-1][:4]}
    assert top == set(planted[1:])
    assert min(sim[r, c] for r, c in planted[1:]) > 0.5 > 0.1 > abs(float(np.nanmedian(sim)))
