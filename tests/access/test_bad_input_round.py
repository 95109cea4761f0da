"""The bad-input round's findings (issue #30 items 11 and 16): each was a traceback or accepted
silently; each is now one line naming the problem, before anything is written."""

import json

import numpy as np
import pytest
import torch

from tessera.model import Tessera, preset, save
from tessera.simulate import SimulationConfig, simulate
from tests.tessera_cli import one_line_error, run_tessera


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, store_path):
    import rasterio
    from rasterio.transform import from_origin

    from tessera.cube import write_cube

    root = tmp_path_factory.mktemp("bad")
    cube = write_cube(root / "cube.zarr", simulate(SimulationConfig(height=16, width=16, seed=2)).cube)
    torch.manual_seed(0)
    ckpt = save(Tessera(preset("tiny")), root / "tiny.safetensors")
    ring = [[0.001, 52.001], [0.004, 52.001], [0.004, 52.004]]
    for name, coords in (("unclosed", [ring]), ("two-point", [ring[:2]])):
        feature = {
            "type": "Feature",
            "properties": {"class": "a"},
            "geometry": {"type": "Polygon", "coordinates": coords},
        }
        (root / f"{name}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    (root / "not-json.geojson").write_text("{ this is not json")
    profile = {"driver": "GTiff", "width": 8, "height": 8, "count": 2, "dtype": "uint8", "crs": "EPSG:32631"}
    with rasterio.open(root / "two-band.tif", "w", **profile, transform=from_origin(500000, 5770000, 10, 10)) as f:
        f.write(np.ones((2, 8, 8), np.uint8))
    return {"root": root, "cube": cube, "ckpt": ckpt, "store": store_path}


BOX = "0.001,52.001,0.009,52.009"
LABELLED = "--year 2024 --bbox " + BOX  # the region of the heads commands below
# Command lines as the shell splits them (no path here holds a space), and what the error says.
CASES = {
    "embed --device foo": ("embed {cube} -c {ckpt} -s {root}/s --device foo", "not a device"),
    "adapt --steps -1": ("adapt {cube} --init {ckpt} -o {root}/a --steps -1", "--steps -1"),
    "quickstart --minutes -1": ("quickstart -o {root}/q --minutes -1", "--minutes -1.0"),
    "change --k nan": (f"change {{store}} --from 2024 --to 2023 --bbox {BOX} --k nan -o {{root}}/c.tif", "--k nan"),
    "heads curve --repeats 0": (
        "heads curve {store} --labels {root}/two-band.tif --year 2024 --repeats 0 -o {root}/cu",
        "--repeats",
    ),
    "info --coverage x.txt": ("info {store} --coverage {root}/x.txt", "must name a .png"),
    "a two-band label raster": (
        f"heads fit {{store}} --labels {{root}}/two-band.tif {LABELLED} -o {{root}}/h.skops",
        "has 2 bands",
    ),
    "heads predict --html x.txt": (
        f"heads predict {{store}} --labels {{root}}/two-band.tif {LABELLED} --html {{root}}/m.txt -o {{root}}/m.tif",
        "must name an .html file",
    ),
    "a bbox beyond 84° N": ("export {store} {root}/n.tif --bbox 0,85,0.01,85.01 --year 2024", "beyond UTM"),
    **{
        f"heads with a {name} GeoJSON": (
            f"heads fit {{store}} --labels {{root}}/{name}.geojson --column class {LABELLED} -o {{root}}/h.skops",
            "is not a readable vector file",
        )
        for name in ("unclosed", "two-point", "not-json")
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_writes_nothing(inputs, case):
    line, says = CASES[case]
    before = sorted(p.name for p in inputs["root"].iterdir())
    done = run_tessera(*line.format(**inputs).split(), in_process=True)
    one_line_error(done, says)
    assert sorted(p.name for p in inputs["root"].iterdir()) == before


def test_train_with_a_negative_learning_rate_is_one_line(inputs):
    shards = inputs["root"] / "shards"
    run_tessera("shards", inputs["cube"], "-o", shards, in_process=True, check=True)
    for lr in ("-1", "nan", "0"):
        one_line_error(
            run_tessera("train", "--shards", shards, "--out", inputs["root"] / "t", "--lr", lr, in_process=True), "--lr"
        )
    assert not (inputs["root"] / "t").exists()
