"""Every bad input named by the foundation issue gives a clear TesseraError and no output."""

import numpy as np
import pytest
from affine import Affine

from tessera.cube import CubeData, CubeWriter, open_cube, write_cube
from tessera.errors import (
    CubeValidationError,
    GeoreferenceError,
    InputNotFoundError,
    TesseraError,
)
from tessera.grid import Grid, Window

GRID = Grid("EPSG:32630", Affine(10, 0, 500000, 0, -10, 4000000), 4, 3)


def arrays(t=3, ta=2):
    return dict(
        s2_bands=np.full((t, 4, 3, 10), 1000, np.uint16),
        s2_mask=np.ones((t, 4, 3), np.uint8),
        s2_doy=np.array([10, 20, 30][:t]),
        s1_ascending=np.full((ta, 4, 3, 2), 5000, np.int16),
        s1_ascending_doy=np.array([5, 17][:ta]),
    )


def make(**over):
    a = arrays()
    a.update(over)
    return CubeData.from_arrays(GRID, 2024, **a)


def test_good_arrays_make_a_cube():
    c = make()
    assert c.s1_descending.values.shape == (0, 4, 3, 2)


@pytest.mark.parametrize(
    "override, match",
    [
        ({"s2_bands": np.zeros((3, 4, 3, 9))}, "9 bands"),
        ({"s2_doy": np.array([0, 20, 30])}, "outside 1–366"),
        ({"s2_doy": np.array([10, 400, 30])}, "outside 1–366"),
        ({"s2_doy": np.array([30, 20, 10])}, "not sorted"),
        ({"s2_doy": np.array([10, 20, 20])}, "repeats day 20"),
        ({"s1_ascending_doy": np.array([17, 17])}, "repeats day 17"),
        ({"s2_bands": np.where(np.arange(10) == 1, np.inf, 1.0) * np.ones((3, 4, 3, 10))}, "NaN or inf"),
        ({"s1_ascending": np.full((2, 4, 3, 2), np.inf)}, "NaN or inf"),
        ({"s2_mask": np.ones((3, 4, 2))}, "mask shape"),
        ({"s2_mask": np.full((3, 4, 3), 2)}, "only 0"),
        ({"s2_bands": np.where(np.arange(10) == 3, np.nan, 1.0) * np.ones((3, 4, 3, 10))}, "NaN"),
        ({"s2_bands": -np.ones((3, 4, 3, 10))}, "outside uint16"),
        ({"s1_ascending": np.full((2, 4, 3, 2), 30001)}, "outside the int16 encoding"),
        ({"s1_ascending": np.full((2, 4, 3, 2), -5)}, "outside the int16 encoding"),
        ({"s1_ascending": np.full((2, 4, 3, 2), np.nan)}, "NaN"),
        ({"s2_bands": -np.ones((3, 4, 3, 10)) * 0.5}, "fractional"),
        ({"s1_ascending_doy": np.array([5])}, "2 dates but 1 DOY"),
        ({"s2_doy": np.array([10, 20])}, "3 dates but 2 DOY"),
    ],
)
def test_bad_arrays_are_refused_with_a_clear_message(override, match):
    with pytest.raises(CubeValidationError, match=match):
        make(**override)


def test_missing_crs_and_bad_year():
    with pytest.raises(GeoreferenceError, match="no CRS"):
        Grid("", GRID.transform, 4, 3)
    with pytest.raises(CubeValidationError, match="no grid"):
        CubeData.from_arrays(None, 2024, **arrays())
    with pytest.raises(TesseraError, match="year"):
        CubeData.from_arrays(GRID, 1999, **arrays())


def test_missing_path():
    with pytest.raises(InputNotFoundError, match="does not exist"):
        open_cube("/nonexistent/cube.zarr")


def test_cube_without_crs_attribute_is_refused(tmp_path):
    import zarr

    path = write_cube(tmp_path / "c.zarr", make())
    g = zarr.open_group(str(path), mode="r+")
    g.attrs["crs"] = ""
    with pytest.raises(GeoreferenceError, match="no CRS"):
        open_cube(path)


def test_writer_refuses_bad_windows_and_leaves_no_output(tmp_path):
    a = arrays()
    with pytest.raises(TesseraError), CubeWriter(tmp_path / "c.zarr", GRID, 2024, a["s2_doy"], [], []) as w:
        w.write_s2(Window(2, 2, 4, 3), a["s2_bands"], a["s2_mask"])  # outside the grid
    with (
        pytest.raises(CubeValidationError, match="exceed"),
        CubeWriter(tmp_path / "c.zarr", GRID, 2024, a["s2_doy"], [], []) as w,
    ):
        w.write_s2(Window(0, 0, 4, 3), a["s2_bands"], a["s2_mask"], t0=1)
    with pytest.raises(CubeValidationError, match="without their DOY"):
        CubeData.from_arrays(GRID, 2024, **{**a, "s1_ascending_doy": None})
    assert not any(tmp_path.iterdir())


def test_writing_a_nan_cube_leaves_no_output(tmp_path):
    good = make()
    bad = CubeData(
        good.grid,
        2024,
        good.s2_bands.astype(float) * np.nan,
        good.s2_mask,
        good.s2_doy,
        good.s1_ascending,
        good.s1_descending,
    )
    with pytest.raises(CubeValidationError, match="NaN"):
        write_cube(tmp_path / "c.zarr", bad)
    assert not any(tmp_path.iterdir())
