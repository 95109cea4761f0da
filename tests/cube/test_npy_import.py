import numpy as np
import pytest
import rasterio

from tessera.cube import CubeChunks, export_npy, import_npy, open_cube
from tessera.errors import CubeValidationError, GeoreferenceError, InputNotFoundError, OutputExistsError


def test_official_layout_round_trips(tmp_path, small_cube):
    stack = export_npy(small_cube, tmp_path / "stack")
    assert sorted(p.name for p in stack.iterdir()) == sorted(
        [
            "bands.npy",
            "masks.npy",
            "doys.npy",
            "sar_ascending.npy",
            "sar_ascending_doy.npy",
            "sar_descending.npy",
            "sar_descending_doy.npy",
            "roi.tif",
        ]
    )
    out = import_npy(
        stack, tmp_path / "c.zarr", roi=stack / "roi.tif", year=2024, chunks=CubeChunks(8, 16)
    )  # strips smaller than the cube
    assert open_cube(out).read().equals(small_cube)


def test_stacker_masks_nonzero_means_valid(tmp_path, small_cube):
    stack = export_npy(small_cube, tmp_path / "stack")
    np.save(stack / "masks.npy", small_cube.s2_mask * 255)
    out = import_npy(stack, tmp_path / "c.zarr", roi=stack / "roi.tif", year=2024)
    assert np.array_equal(open_cube(out).read().s2_mask, small_cube.s2_mask)


def test_import_failures_are_clear_and_leave_nothing(tmp_path, small_cube):
    stack = export_npy(small_cube, tmp_path / "stack")
    roi = stack / "roi.tif"
    out = tmp_path / "c.zarr"
    with pytest.raises(InputNotFoundError, match="no stacker directory"):
        import_npy(tmp_path / "missing", out, roi=roi, year=2024)
    (stack / "sar_descending_doy.npy").rename(tmp_path / "moved.npy")
    with pytest.raises(InputNotFoundError, match=r"sar_descending_doy.npy"):
        import_npy(stack, out, roi=roi, year=2024)
    (tmp_path / "moved.npy").rename(stack / "sar_descending_doy.npy")

    np.save(stack / "bands.npy", small_cube.s2_bands[..., :9])
    with pytest.raises(CubeValidationError, match="9 bands"):
        import_npy(stack, out, roi=roi, year=2024)
    np.save(stack / "bands.npy", small_cube.s2_bands)

    (stack / "doys.npy").write_bytes(b"not an npy file")
    with pytest.raises(CubeValidationError, match="not a readable"):
        import_npy(stack, out, roi=roi, year=2024)
    np.save(stack / "doys.npy", small_cube.s2_doy)

    small_roi = tmp_path / "small.tif"
    with rasterio.open(
        small_roi,
        "w",
        driver="GTiff",
        height=5,
        width=5,
        count=1,
        dtype="uint8",
        crs="EPSG:32631",
        transform=small_cube.grid.transform,
    ) as dst:
        dst.write(np.ones((1, 5, 5), np.uint8))
    with pytest.raises(GeoreferenceError, match="ROI raster"):
        import_npy(stack, out, roi=small_roi, year=2024)

    no_crs = tmp_path / "nocrs.tif"
    with rasterio.open(no_crs, "w", driver="GTiff", height=48, width=40, count=1, dtype="uint8") as dst:
        dst.write(np.ones((1, 48, 40), np.uint8))
    with pytest.raises(GeoreferenceError, match="no CRS"):
        import_npy(stack, out, roi=no_crs, year=2024)

    assert not out.exists()
    out.mkdir()
    (out / "x").write_text("x")
    with pytest.raises(OutputExistsError):
        import_npy(stack, out, roi=roi, year=2024)


def test_float_reflectance_is_refused_with_the_scaling_hint(tmp_path, small_cube):
    stack = export_npy(small_cube, tmp_path / "stack")
    np.save(stack / "bands.npy", (small_cube.s2_bands / 10000).astype(np.float32))  # reflectance 0–1
    with pytest.raises(CubeValidationError, match="reflectance × 10000"):
        import_npy(stack, tmp_path / "c.zarr", roi=stack / "roi.tif", year=2024)
    assert not (tmp_path / "c.zarr").exists()
    np.save(stack / "bands.npy", small_cube.s2_bands.astype(np.float32))  # whole DNs as floats: fine
    out = import_npy(stack, tmp_path / "c.zarr", roi=stack / "roi.tif", year=2024)
    assert np.array_equal(open_cube(out).read().s2_bands, small_cube.s2_bands)


@pytest.mark.parametrize(("scale", "dtype"), [(100, np.uint16), (40, np.uint8)], ids=["percent", "8-bit"])
def test_integer_reflectance_at_another_scale_is_refused(tmp_path, small_cube, scale, dtype):
    stack = export_npy(small_cube, tmp_path / "stack")
    np.save(stack / "bands.npy", (small_cube.s2_bands // scale).astype(dtype))
    with pytest.raises(CubeValidationError, match="looks like reflectance in percent or 8-bit"):
        import_npy(stack, tmp_path / "c.zarr", roi=stack / "roi.tif", year=2024)
    assert not (tmp_path / "c.zarr").exists()


def test_the_stackers_roi_tiff_is_found_without_naming_it(tmp_path, small_cube):
    stack = export_npy(small_cube, tmp_path / "stack")
    (stack / "roi.tif").rename(stack / "roi.tiff")  # the official stacker's name
    assert open_cube(import_npy(stack, tmp_path / "c.zarr", year=2024)).read().equals(small_cube)
    (stack / "roi.tiff").unlink()
    with pytest.raises(InputNotFoundError, match=r"roi.tiff and roi.tif"):
        import_npy(stack, tmp_path / "d.zarr", year=2024)


@pytest.mark.parametrize(
    "file, change, says",
    [
        ("doys.npy", lambda d: np.r_[d[:1], d[:1], d[2:]], "repeats day"),
        ("doys.npy", lambda d: d[::-1], "not sorted"),
        ("bands.npy", lambda b: np.where(np.arange(b.shape[-1]) == 0, np.nan, b.astype(np.float32)), "NaN or inf"),
        ("bands.npy", lambda b: -b.astype(np.float32) - 1, "outside uint16"),
        ("sar_ascending.npy", lambda s: np.full(s.shape, np.inf, np.float32), "NaN or inf"),
    ],
    ids=["duplicate-days", "unsorted-days", "nan-reflectance", "negative-reflectance", "inf-sar"],
)
def test_bad_stacks_are_one_line_on_the_command_line(tmp_path, small_cube, file, change, says):
    from tests.tessera_cli import one_line_error, run_tessera

    stack = export_npy(small_cube, tmp_path / "stack")
    np.save(stack / file, change(np.load(stack / file)))
    done = run_tessera("cube", "import-npy", stack, tmp_path / "c.zarr", "--year", 2024, in_process=True)
    one_line_error(done, says)
    assert not (tmp_path / "c.zarr").exists()
