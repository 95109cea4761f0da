import json

import numpy as np
import pytest

from tessera.cube import export_npy, open_cube
from tessera.simulate import read_labels
from tests.tessera_cli import run_tessera


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "scene"
    result = run_tessera("simulate", str(out), "--size", "32", "--width", "24", "--seed", "3", in_process=True)
    assert result.returncode == 0, result.stdout
    return out


def test_simulate_writes_cube_and_labels_on_one_grid(scene_dir):
    cube = open_cube(scene_dir / "cube.zarr")
    labels = read_labels(scene_dir)
    assert cube.shape == (32, 24) == labels["classes"].shape == labels["canopy_height"].shape
    import rasterio

    with rasterio.open(scene_dir / "classes.tif") as src:
        assert src.transform == cube.grid.transform and src.crs.to_epsg() == cube.grid.epsg
    legend = json.loads((scene_dir / "legend.json").read_text())
    assert {c["id"] for c in legend} >= set(np.unique(labels["classes"]).tolist())


def test_cube_info_table_and_json(scene_dir):
    result = run_tessera("cube", "info", str(scene_dir), in_process=True)
    assert result.returncode == 0 and "S2 dates" in result.stdout and "EPSG:32631" in result.stdout
    result = run_tessera("cube", "info", str(scene_dir / "cube.zarr"), "--json", in_process=True)
    info = json.loads(result.stdout)
    assert info["size"] == [32, 24] and info["year"] == 2024


def test_import_npy_command(scene_dir, tmp_path):
    data = open_cube(scene_dir / "cube.zarr").read()
    stack = export_npy(data, tmp_path / "stack")
    result = run_tessera("cube", "import-npy", str(stack), str(tmp_path / "c.zarr"), "--year", "2024", in_process=True)
    assert result.returncode == 0, result.stdout
    assert open_cube(tmp_path / "c.zarr").read().equals(data)


def test_user_errors_are_one_line_without_traceback(tmp_path, scene_dir):
    r = run_tessera("cube", "info", tmp_path / "missing.zarr")
    assert r.returncode == 2
    assert "error:" in r.stderr and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = run_tessera("simulate", scene_dir, "--size", "16")
    assert r.returncode == 2 and "--overwrite" in r.stderr and "Traceback" not in r.stderr
    r = run_tessera("simulate", tmp_path / "x", "--change-fraction", "3")
    assert r.returncode == 2 and "change_fraction" in r.stderr
    assert not (tmp_path / "x").exists()
    r = run_tessera("cube", "import-npy", tmp_path, tmp_path / "out.zarr", "--year", "2024")
    assert r.returncode == 2 and "bands.npy" in r.stderr


def test_version():
    r = run_tessera("--version", in_process=True)
    assert r.returncode == 0 and r.stdout.startswith("tessera ")


def test_embed_errors_are_one_line_without_traceback(scene_dir, tmp_path):
    import torch

    from tessera.model import Tessera, preset, save

    torch.manual_seed(0)
    ckpt = save(Tessera(preset("tiny")), tmp_path / "tiny.safetensors")
    (tmp_path / "file").write_text("x")
    r = run_tessera("embed", scene_dir, "-c", ckpt, "-s", tmp_path / "file")
    assert r.returncode == 2 and "is a file" in r.stderr and "Traceback" not in r.stderr
    r = run_tessera("embed", scene_dir, "-c", ckpt, "-s", tmp_path / "store", "--shard", "32", "--no-report")
    assert r.returncode == 0, r.stderr
    assert "768" in r.stdout and "computed" in r.stdout  # 32 × 24 px


def test_progress_off_a_terminal_is_plain_lines_with_an_eta():
    """A log or a pipe (``make quickstart 2>&1 | cat``) gets lines, not a silent run."""
    import io

    from tessera.cli.progress_bar import LINE_EVERY_S, plain_lines

    now = [0.0]
    out = io.StringIO()
    update = plain_lines(out, clock=lambda: now[0])
    update("learning curves", 0, 1)  # announced: shown at once
    for done in range(1, 101):
        now[0] += LINE_EVERY_S / 4
        update("pixels", done, 100)
    update("pixels", 100, 100)  # the end is shown once
    lines = out.getvalue().splitlines()
    assert lines[0] == "learning curves: 0/1 (0%) elapsed 0:00"
    pixels = lines[1:]
    assert len(pixels) == 25 and pixels[-1] == "pixels: 100/100 (100%) elapsed 4:08"  # every 10 s, then the end
    assert pixels[0] == "pixels: 5/100 (5%) elapsed 0:10 eta 3:10"
