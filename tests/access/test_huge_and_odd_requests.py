"""Requests a hostile (or hurried) user makes: a whole UTM zone at once, points on the edges of
the globe, boxes across the antimeridian. Each is answered or refused in one line, up front,
never with an out-of-memory kill."""

import numpy as np
import pytest

from tessera.access import open_store
from tessera.errors import AccessError
from tests.tessera_cli import one_line_error, run_tessera

ZONE_31 = "0,0,6,84"  # a whole UTM zone, equator to 84° N: ~62 G pixels
BOX = ["--bbox", ZONE_31, "--year", "2024"]


def test_a_whole_zone_region_is_refused_with_the_memory_it_needs(store_path):
    with pytest.raises(AccessError, match=r"needs \d+\.\d GiB .* iter_region"):
        open_store(store_path).read_region(tuple(map(float, ZONE_31.split(","))), 2024)


def _predict(box: str) -> list[str]:
    return ["heads", "predict", "{store}", "--labels", "{labels}", "--bbox", box, "--year", "2024", "-o", "{tmp}/m.tif"]


@pytest.fixture(scope="module")
def labels(store_path, tmp_path_factory):
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path_factory.mktemp("labels") / "l.tif"
    profile = {"driver": "GTiff", "width": 8, "height": 8, "count": 1, "dtype": "uint8", "crs": "EPSG:32631"}
    with rasterio.open(path, "w", **profile, transform=from_origin(500000, 5770000, 10, 10), nodata=0) as f:
        f.write(np.arange(64, dtype=np.uint8).reshape(1, 8, 8) % 2 + 1)
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["export", "{store}", "{tmp}/x.tif", "--bbox", ZONE_31, "--year", "2024"],
        ["export", "{store}", "{tmp}/x.npy", "--bbox", ZONE_31, "--year", "2024"],
        ["pca", "{store}", "--bbox", ZONE_31, "--year", "2024", "-o", "{tmp}/p.png"],
        ["change", "{store}", "--bbox", ZONE_31, "--from", "2024", "--to", "2023", "-o", "{tmp}/c.tif"],
        _predict(ZONE_31),
        ["heads", "fit", "{store}", "--labels", "{labels}", "--bbox", ZONE_31, "--year", "2024", "-o", "{tmp}/h.skops"],
    ],
    ids=["export-tif", "export-npy", "pca", "change", "heads-predict", "heads-fit"],
)
def test_whole_zone_commands_are_refused_up_front(store_path, labels, tmp_path, command):
    argv = [a.format(store=store_path, tmp=tmp_path, labels=labels) for a in command]
    done = run_tessera(*argv, timeout=120)  # refused before any array of that size exists
    one_line_error(done, "GiB")
    assert not list(tmp_path.iterdir())


MIDDLING = "0,51.5,1,52.5"  # 11 357 × 7 247 px: 3 GiB of 10-band floats, under the array limit


@pytest.mark.parametrize(
    "command",
    [
        ["export", "{store}", "{tmp}/x.tif", "--bbox", MIDDLING, "--year", "2024"],
        ["export", "{store}", "{tmp}/x.tif", "--bbox", MIDDLING, "--year", "2024", "--int8"],
        ["pca", "{store}", "--bbox", MIDDLING, "--year", "2024", "-o", "{tmp}/p.png"],
        ["similar", "{store}", "--point", "0.005,52.005", "--bbox", MIDDLING, "--year", "2024", "-o", "{tmp}/s.tif"],
        ["change", "{store}", "--bbox", MIDDLING, "--from", "2024", "--to", "2023", "-o", "{tmp}/c.tif"],
        _predict(MIDDLING),
    ],
    ids=["export", "export-int8", "pca", "similar", "change", "heads-predict"],
)
def test_a_region_larger_than_the_memory_left_is_refused_with_both_figures(store_path, labels, tmp_path, command):
    """Under a 3 GB address-space limit (``prlimit``), a region that fits the array limit but
    not this process: refused before reading, with what it needs and what is usable."""
    import shutil
    import sys

    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    argv = [a.format(store=store_path, tmp=tmp_path, labels=labels) for a in command]
    import subprocess

    done = subprocess.run(
        ["prlimit", "--as=3000000000", sys.executable, "-m", "tessera", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    one_line_error(done, "at its peak")
    assert "GiB is usable here" in done.stderr and not list(tmp_path.iterdir())


def test_points_on_the_edges_of_the_globe_are_outside_not_errors(store_path):
    edges = [[180, 0], [-180, 0], [0, 90], [0, -90], [179.99999, 52.0], [-180, -90]]
    sample = open_store(store_path).sample_points(edges, 2024)
    assert list(sample.status) == ["outside"] * len(edges) and np.isnan(sample.values).all()
    patch = open_store(store_path).read_patch(0.0, 90.0, 2024, 4)
    assert patch.data.shape[:2] == (4, 4) and np.isnan(patch.data).all()


@pytest.mark.parametrize(
    "points, says",
    [([[float("nan"), 52.0]], "is not a (longitude, latitude)"), ([[181.0, 0.0]], "−180…180"), ([[0, 91]], "−90…90")],
)
def test_impossible_points_are_one_line(store_path, tmp_path, points, says):
    with pytest.raises(AccessError, match=says.replace("(", r"\(").replace(")", r"\)")):
        open_store(store_path).sample_points(points, 2024)
    (tmp_path / "p.csv").write_text("lon,lat\n" + "\n".join(f"{x},{y}" for x, y in points) + "\n")
    one_line_error(
        run_tessera(
            "sample", store_path, tmp_path / "p.csv", "--year", 2024, "-o", tmp_path / "o.csv", in_process=True
        ),
        "",
    )
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    "bbox, says",
    [("170,0,-170,1", "crosses the antimeridian"), ("3,52,2,53", "min lon > max lon"), ("0,52,1,52", "empty")],
)
def test_bad_boxes_are_one_line_on_the_command_line(store_path, tmp_path, bbox, says):
    one_line_error(
        run_tessera("export", store_path, tmp_path / "x.tif", "--bbox", bbox, "--year", 2024, in_process=True), says
    )
