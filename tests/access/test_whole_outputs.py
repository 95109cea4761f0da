"""An export is whole or absent: GDAL only warns when a write fails near the end of a file, so a
nearly full disk used to leave a short GeoTIFF renamed into place and "wrote x.tif", exit 0."""

import numpy as np
import pytest
import rasterio
from affine import Affine

from tessera.access.base import Region
from tessera.access.export import export_geotiff, export_npy
from tessera.errors import DiskFullError, TesseraError
from tessera.grid import Grid
from tests.disks import fill
from tests.tessera_cli import one_line_error, run_tessera


@pytest.fixture(scope="module")
def region():
    # Incompressible values: the file's size is known before the disk is filled around it.
    data = np.random.default_rng(0).normal(size=(70, 70, 128)).astype(np.float32)
    return Region(data, Grid("EPSG:32631", Affine(10, 0, 300_000, 0, -10, 5_800_000), 70, 70))


def _written(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != "filler")


def _reads_whole(path):
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8+scales"])
def test_an_export_a_few_kib_short_of_room_fails_and_leaves_nothing(region, tmp_path, small_disk, int8):
    reference = export_geotiff(region, tmp_path / "ref.tif", int8=int8)
    size = sum(p.stat().st_size for p in tmp_path.glob("ref*.tif"))
    # Room for all but the last few KiB: the writer reaches the end of the data before it fails.
    for short in (12_000, 4_000, 1_000):
        filler = fill(small_disk, leave=size - short)
        with pytest.raises(DiskFullError, match="is full"):
            export_geotiff(region, small_disk / "x.tif", int8=int8)
        assert _written(small_disk) == []  # no short file, no lone data file without its scales
        filler.unlink()
    export_geotiff(region, small_disk / "x.tif", int8=int8)
    np.testing.assert_array_equal(_reads_whole(small_disk / "x.tif"), _reads_whole(reference))


def test_npy_and_its_sidecar_appear_together(region, tmp_path, small_disk):
    size = export_npy(region, tmp_path / "ref.npy").stat().st_size
    filler = fill(small_disk, leave=size + 100)  # the array fits, its .json does not
    with pytest.raises(DiskFullError):
        export_npy(region, small_disk / "x.npy")
    assert _written(small_disk) == []
    filler.unlink()


def test_files_that_belong_together_are_renamed_only_when_each_reads_back(tmp_path):
    from tessera.atomic import atomic_outputs
    from tessera.errors import IncompleteWriteError

    def short(path):
        raise ValueError("12 bytes of 40")

    said = r"b\.bin read back short after writing \(12 bytes of 40\)"
    with pytest.raises(IncompleteWriteError, match=said), atomic_outputs() as out:
        out.file(tmp_path / "a.bin").write_bytes(b"a")
        out.file(tmp_path / "b.bin", check=short).write_bytes(b"b")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(IncompleteWriteError, match=r"c\.bin was not written"), atomic_outputs() as out:
        out.file(tmp_path / "a.bin").write_bytes(b"a")
        out.file(tmp_path / "c.bin")
    assert list(tmp_path.iterdir()) == []
    assert issubclass(IncompleteWriteError, TesseraError)


def test_export_cli_short_of_room_says_so_in_one_line(tmp_path, small_disk, store_path):
    from tessera.access import open_store

    bbox = "0.001,52.0,0.015,52.015"
    year = open_store(store_path).years[0]
    argv = ["export", store_path, "--bbox", bbox, "--year", year, "--int8"]
    run_tessera(argv[0], argv[1], tmp_path / "ref.tif", *argv[2:], check=True, in_process=True)
    size = sum(p.stat().st_size for p in tmp_path.glob("ref*.tif"))
    for short in (8_000, 2_000):
        filler = fill(small_disk, leave=size - short)
        one_line_error(run_tessera(argv[0], argv[1], small_disk / "x.tif", *argv[2:], in_process=True), "is full")
        assert _written(small_disk) == []
        filler.unlink()


def test_geotessera_tiles_on_a_full_disk_leave_no_empty_tile_folder(small_disk, store_path):
    fill(small_disk, leave=20_000)
    out = small_disk / "tiles"
    done = run_tessera(
        "export",
        store_path,
        out,
        "--layout",
        "geotessera",
        "--bbox",
        "0.001,52.0,0.015,52.015",
        "--year",
        2024,
        in_process=True,
    )
    one_line_error(done, "is full")
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_dir() and not any(p.iterdir())]


def test_models_and_maps_are_readable_by_others_as_a_plain_file_is(tmp_path):
    import os

    import torch

    from tessera.atomic import FILE_MODE
    from tessera.model import Tessera, preset, save

    torch.manual_seed(0)
    plain = tmp_path / "plain"
    plain.write_text("")
    model = save(Tessera(preset("tiny")), tmp_path / "m.safetensors")
    assert os.stat(model).st_mode & 0o777 == os.stat(plain).st_mode & 0o777 == FILE_MODE
