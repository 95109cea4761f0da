"""Point files for `tessera sample`: columns kept, bad files named in one line, nothing written."""

import json

import pytest

from tessera.access import AccessError
from tessera.access.point_table import read_point_table
from tests.tessera_cli import run_tessera


def test_csv_and_vector_points_keep_their_columns(tmp_path):
    (tmp_path / "p.csv").write_text("plot,Longitude,Latitude,crop\n1,0.1,52.2,wheat\n2,0.2,52.3,barley\n")
    lon, lat, table = read_point_table(tmp_path / "p.csv")
    assert list(lon) == [0.1, 0.2] and list(table.columns) == ["plot", "Longitude", "Latitude", "crop"]
    square = [[0.1, 52.2], [0.102, 52.2], [0.102, 52.202], [0.1, 52.202], [0.1, 52.2]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"field": "F1"},
                "geometry": {"type": "Polygon", "coordinates": [square]},
            },
            {
                "type": "Feature",
                "properties": {"field": "F2"},
                "geometry": {"type": "Point", "coordinates": [0.3, 52.1]},
            },
        ],
    }
    (tmp_path / "f.geojson").write_text(json.dumps(doc))
    lon, lat, table = read_point_table(tmp_path / "f.geojson")
    assert 0.1 < lon[0] < 0.102 and 52.2 < lat[0] < 52.202 and (lon[1], lat[1]) == (0.3, 52.1)
    assert list(table["field"]) == ["F1", "F2"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("lon,lat\n0.1,52.2\n0.2,\n", "line 3: lat"),
        ("lon,lat\n", "header but no points"),
        ("name,value\na,1\n", "needs 'lon' and 'lat'"),
        ("", "not a readable CSV"),
    ],
)
def test_bad_csv_points_are_named(tmp_path, text, match):
    (tmp_path / "p.csv").write_text(text)
    with pytest.raises(AccessError, match=match):
        read_point_table(tmp_path / "p.csv")


def test_sample_cli_errors_are_one_line_and_write_nothing(store_path, tmp_path):
    (tmp_path / "p.csv").write_text("lon,lat\n0.005,\n")
    (tmp_path / "ok.csv").write_text("lon,lat\n0.005,52.005\n")
    for points, out, match in (
        (tmp_path / "p.csv", tmp_path / "o.csv", "line 2"),
        (tmp_path / "ok.csv", tmp_path / "no" / "o.csv", "does not exist"),
        (tmp_path / "none.csv", tmp_path / "o.csv", "no points file"),
    ):
        r = run_tessera("sample", store_path, points, "--year", "2024", "-o", out, in_process=True)
        assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    "args, match",
    [
        (["x.npy", "--format", "tif"], "ends in .npy but --format is tif"),
        (["x.tif", "--format", "npy"], "ends in .tif but --format is npy"),
        (["x.png"], "name the output .tif or .npy"),
        (["x.tif", "--crs", "EPSG:999999"], "not a known CRS"),
        (["x.tif", "--resolution", "0"], "must be a positive pixel size"),
        (["missing/x.tif"], "does not exist"),
    ],
)
def test_export_refuses_mismatched_formats_and_bad_grids(store_path, tmp_path, args, match):
    out, *rest = args
    r = run_tessera(
        "export",
        store_path,
        tmp_path / out,
        "--bbox",
        "0.001,52.001,0.005,52.004",
        "--year",
        "2024",
        *rest,
        in_process=True,
    )
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not list(tmp_path.glob("x.*"))


def test_export_takes_the_format_from_the_suffix(store_path, tmp_path):
    import numpy as np

    r = run_tessera(
        "export",
        store_path,
        tmp_path / "x.npy",
        "--bbox",
        "0.001,52.001,0.005,52.004",
        "--year",
        "2024",
        in_process=True,
    )
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "x.npy").ndim == 3
