"""``cube import-tif``: Sentinel-2 GeoTIFF time series, as GEE, Theia, FORCE and SNAP hand them,
into the same cube the stacker's ``.npy`` route gives; band orders named and checked."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from tessera.cube import CubeChunks, export_npy, import_npy, open_cube
from tessera.cube.tif_import import import_tif
from tessera.errors import CubeValidationError
from tessera.sensors import S2_BANDS
from tests.cube.tif_stacks import WAVELENGTH, dates_of, optical_only, write_folder, write_stack
from tests.tessera_cli import one_line_error, run_tessera


@pytest.fixture(scope="module")
def optical(small_cube):
    return optical_only(small_cube)


def _npy_route(cube, tmp_path):
    """The S2-only stacker layout (no sar_*.npy) through import-npy: the reference."""
    stack = export_npy(cube, tmp_path / "stack")
    for name in ("sar_ascending", "sar_ascending_doy", "sar_descending", "sar_descending_doy"):
        (stack / f"{name}.npy").unlink()
    return open_cube(import_npy(stack, tmp_path / "npy.zarr", year=cube.year)).read()


def test_one_multiband_file_gives_the_npy_routes_cube(tmp_path, optical):
    stack = write_stack(optical, tmp_path / "gee.tif", WAVELENGTH)
    plan = import_tif(stack, tmp_path / "c.zarr", chunks=CubeChunks(8, 16))
    got = open_cube(tmp_path / "c.zarr").read()
    assert got.equals(_npy_route(optical, tmp_path))
    assert plan.period.code == 2024 and [layer.date for layer in plan.layers] == dates_of(optical)


def test_a_folder_in_another_order_named_by_option(tmp_path, optical):
    order = ("B8A", "B02", "B03", "B04", "B08", "B05", "B06", "B07", "B12", "B11")
    folder = write_folder(optical, tmp_path / "dates", order)
    import_tif(folder, tmp_path / "c.zarr", bands=order)
    assert open_cube(tmp_path / "c.zarr").read().equals(_npy_route(optical, tmp_path))


def test_band_descriptions_name_the_order(tmp_path, optical):
    folder = write_folder(optical, tmp_path / "dates", S2_BANDS[::-1], describe=True)
    import_tif(folder, tmp_path / "c.zarr")
    assert open_cube(tmp_path / "c.zarr").read().equals(_npy_route(optical, tmp_path))


def test_bands_tessera_does_not_read_are_skipped_by_name(tmp_path, optical):
    every = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
    folder = write_folder(optical, tmp_path / "dates", every, describe=True)
    import_tif(folder, tmp_path / "c.zarr")
    assert open_cube(tmp_path / "c.zarr").read().equals(_npy_route(optical, tmp_path))


def test_a_wrong_order_is_refused_by_the_reflectance(tmp_path, optical):
    stack = write_stack(optical, tmp_path / "gee.tif", WAVELENGTH, describe=False)
    days = dates_of(optical)
    with pytest.raises(CubeValidationError, match=r"fits the wavelength .* --bands B02,B03,B04,B05"):
        import_tif(stack, tmp_path / "c.zarr", bands=S2_BANDS, dates=days)
    assert not (tmp_path / "c.zarr").exists()
    import_tif(stack, tmp_path / "c.zarr", bands=S2_BANDS, dates=days, check_bands=False)  # the user insists


def test_what_no_file_says_is_asked_for(tmp_path, optical):
    stack = write_stack(optical, tmp_path / "plain.tif", WAVELENGTH, describe=False)
    with pytest.raises(CubeValidationError, match="--bands"):
        import_tif(stack, tmp_path / "c.zarr")
    with pytest.raises(CubeValidationError, match=r"has no date .* --dates"):
        import_tif(stack, tmp_path / "c.zarr", bands=WAVELENGTH)
    import_tif(stack, tmp_path / "c.zarr", bands=WAVELENGTH, dates=dates_of(optical))
    assert open_cube(tmp_path / "c.zarr").read().equals(_npy_route(optical, tmp_path))
    with pytest.raises(CubeValidationError, match=r"--dates gives 3 dates but .* holds \d+ date blocks"):
        import_tif(stack, tmp_path / "d.zarr", bands=WAVELENGTH, dates=dates_of(optical)[:3])
    with pytest.raises(CubeValidationError, match="fall outside"):
        import_tif(stack, tmp_path / "d.zarr", bands=WAVELENGTH, dates=dates_of(optical), year=2023)


def _rescaled(optical, tmp_path, factor: float, dtype: str):
    src = write_stack(optical, tmp_path / "dn.tif", WAVELENGTH)
    out = tmp_path / f"x{factor}.tif"
    with rasterio.open(src) as a:
        profile = a.profile | {"dtype": dtype}
        with rasterio.open(out, "w", **profile) as b:
            b.write((a.read().astype(np.float64) * factor).astype(dtype))
            b.descriptions = a.descriptions
    return out


def test_reflectance_scales_are_found_or_refused(tmp_path, optical):
    floats = _rescaled(optical, tmp_path, 1e-4, "float32")
    plan = import_tif(floats, tmp_path / "f.zarr")
    assert plan.scale == 1e4 and "reflectance 0–1" in plan.notes[0]
    got, want = open_cube(tmp_path / "f.zarr").read(), _npy_route(optical, tmp_path)
    assert np.abs(got.s2_bands.astype(int) - want.s2_bands).max() <= 1  # float32 rounding
    assert np.array_equal(got.s2_mask, want.s2_mask)
    percent = _rescaled(optical, tmp_path, 1e-2, "float32")
    with pytest.raises(CubeValidationError, match="percent or 8-bit"):
        import_tif(percent, tmp_path / "p.zarr")
    import_tif(percent, tmp_path / "p.zarr", scale=100)
    import_tif(percent, tmp_path / "dark.zarr", scale=1)  # the user's word stands (a dark scene)


def test_the_command_line(tmp_path, optical):
    stack = write_stack(optical, tmp_path / "gee.tif", WAVELENGTH, describe=False)
    done = run_tessera("cube", "import-tif", stack, tmp_path / "c.zarr", in_process=True)
    one_line_error(done, "--bands")
    done = run_tessera(
        "cube", "import-tif", stack, tmp_path / "c.zarr", "--bands", "B2,B3,B4,B5,B6,B7,B8,B8A,B11", in_process=True
    )
    one_line_error(done, "missing B12")
    days = ",".join(f"{d}" for d in dates_of(optical))
    bands = "B2,B3,B4,B5,B6,B7,B8,B8A,B11,B12"
    done = run_tessera(
        "cube", "import-tif", stack, tmp_path / "c.zarr", "--bands", bands, "--dates", days, check=True, in_process=True
    )
    assert "no Sentinel-1" in done.stdout and open_cube(tmp_path / "c.zarr").read().equals(
        _npy_route(optical, tmp_path)
    )
    assert "rows: 48/48 (100%)" in done.stderr  # not a terminal: progress as plain lines
