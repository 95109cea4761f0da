"""``tessera embed --reliability``: a per-pixel layer of how far each embedding moves when
observations are withheld, read back by the quality paths and used by the heads."""

import numpy as np
import pytest
import torch

from tessera.access import open_store
from tessera.cube import write_cube
from tessera.embed import EmbedConfig, embed_cube
from tessera.errors import LabelError
from tessera.heads.trust import reliability_auc
from tessera.model import Tessera, preset, save
from tessera.pretrained import locate
from tessera.simulate import SimulationConfig, simulate
from tessera.store import convention as cv
from tests.tessera_cli import one_line_error, run_tessera


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 32² cube: four more embeddings per pixel are the cost of the layer."""
    root = tmp_path_factory.mktemp("reliability")
    data = simulate(SimulationConfig(height=32, width=32, seed=11, field_px=10)).cube
    return root, write_cube(root / "cube.zarr", data), data


@pytest.fixture(scope="module")
def reliable(small):
    root, cube, data = small
    embed_cube(cube, locate("tiny-broad"), root / "store", EmbedConfig(report=False, reliability=True))
    return root / "store", cube, data


def test_the_layer_is_stored_documented_and_read_back(reliable):
    store, _, data = reliable
    reader = open_store(store)
    assert cv.RELIABILITY in reader.quality_layers
    rel = reader.grid_quality(data.grid, 2024)[cv.RELIABILITY]
    known = rel[np.isfinite(rel)]
    assert known.size > 0.9 * rel.size and known.min() >= 0 and known.max() <= 1 and known.std() > 0.01
    import zarr

    attrs = zarr.open_group(str(store), mode="r")["utm31"][cv.RELIABILITY].attrs.asdict()
    assert attrs[cv.RELIABILITY_ATTR]["variants"] == cv.RELIABILITY_DOC["variants"]
    assert reader.attrs["tessera:provenance"]["sampling"]["reliability"] is True
    pts = reader.sample_points([reader_centre(data)], 2024, quality=True)
    assert cv.RELIABILITY in pts.quality and 0 <= float(pts.quality[cv.RELIABILITY][0]) <= 1


def reader_centre(data):
    from rasterio.warp import transform

    b = data.grid.bounds
    xs, ys = transform(data.grid.crs, "EPSG:4326", [(b.left + b.right) / 2], [(b.bottom + b.top) / 2])
    return xs[0], ys[0]


def test_resuming_without_it_is_refused_and_heads_can_screen_by_it(reliable, tmp_path):
    store, cube, data = reliable
    rel = open_store(store).grid_quality(data.grid, 2024)[cv.RELIABILITY]
    cut = round(float(np.nanmedian(rel)), 2)
    r = run_tessera("embed", cube, "-c", "tiny-broad", "-s", store, "--no-report", in_process=True)
    one_line_error(r, "other provenance")
    labels = tmp_path / "labels.tif"
    from tests.heads.conftest import write_label_raster

    classes = np.random.default_rng(0).integers(1, 4, data.grid.shape)
    write_label_raster(labels, classes, data.grid)
    r = run_tessera(
        "heads",
        "predict",
        store,
        "--labels",
        labels,
        "--year",
        2024,
        "--cube",
        cube,
        "--min-reliability",
        cut,
        "-o",
        tmp_path / "m.tif",
        in_process=True,
        check=True,
    )
    assert f"below reliability {cut:g}" in r.stdout
    embed_cube(cube, locate("tiny-broad"), tmp_path / "plain", EmbedConfig(report=False))
    other = run_tessera(
        "heads",
        "predict",
        tmp_path / "plain",
        "--labels",
        labels,
        "--year",
        2024,
        "--cube",
        cube,
        "--min-reliability",
        0.5,
        "-o",
        tmp_path / "m.tif",
        in_process=True,
    )
    one_line_error(other, "no reliability layer")


def test_a_constant_model_has_one_reliability_and_ranks_nothing(small, tmp_path):
    _, cube, data = small
    model = Tessera(preset("tiny"))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.fill_(1.0)
    ckpt = save(model, tmp_path / "constant.safetensors")
    embed_cube(cube, ckpt, tmp_path / "store", EmbedConfig(report=False, reliability=True))
    rel = open_store(tmp_path / "store").grid_quality(data.grid, 2024)[cv.RELIABILITY]
    known = rel[np.isfinite(rel)]
    assert known.size and np.ptp(known) == 0 and known[0] == 1.0
    wrong = np.random.default_rng(0).random(known.shape) < 0.3
    with pytest.raises(LabelError, match="cannot rank"):
        reliability_auc(known, wrong)


def test_auc_ranks_errors():
    trust = np.linspace(0, 1, 100)
    assert reliability_auc(trust, trust < 0.3) == 1.0
    assert reliability_auc(trust, trust > 0.7) == 0.0
    with pytest.raises(LabelError, match="all right or all wrong"):
        reliability_auc(trust, np.zeros(100, bool))


def test_a_v2_student_gets_it_too(tmp_path):
    from tessera.model.student import STUDENT_PRESETS, PixelStudent

    data = simulate(SimulationConfig(height=16, width=16, seed=2, field_px=8)).cube
    cube = write_cube(tmp_path / "c.zarr", data)
    torch.manual_seed(0)
    ckpt = save(PixelStudent(STUDENT_PRESETS["nano"]), tmp_path / "nano.safetensors")
    embed_cube(cube, ckpt, tmp_path / "s", EmbedConfig(report=False, reliability=True))
    rel = open_store(tmp_path / "s").grid_quality(data.grid, 2024)[cv.RELIABILITY]
    assert np.isfinite(rel).all() and np.ptp(rel) > 0
