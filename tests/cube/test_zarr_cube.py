import tracemalloc

import numpy as np
import pytest
import zarr
from zarr.storage import LocalStore

from tessera.cube import CubeChunks, CubeWriter, open_cube, write_cube
from tessera.errors import NotACubeError, OutputExistsError
from tessera.grid import Grid, Window


def test_written_cube_reads_back_identical(tmp_path, small_cube):
    path = write_cube(tmp_path / "c.zarr", small_cube)
    cube = open_cube(path)
    assert cube.read().equals(small_cube)
    assert cube.grid == small_cube.grid and cube.year == small_cube.year


def test_window_read_equals_slicing_in_memory(tmp_path, small_cube):
    cube = open_cube(write_cube(tmp_path / "c.zarr", small_cube, chunks=CubeChunks(8, 16)))
    w = Window(5, 7, 20, 13)  # crosses chunk edges on both axes
    got = cube.read(w)
    assert got.equals(small_cube.window(w))
    assert got.grid.transform @ (0, 0) == small_cube.grid.transform @ (7, 5)


class RecordingStore(LocalStore):
    """A LocalStore that remembers which keys were read."""

    def __init__(self, root):
        super().__init__(root, read_only=True)
        self.keys: list[str] = []

    async def get(self, key, prototype=None, byte_range=None):
        self.keys.append(key)
        return await super().get(key, prototype, byte_range)


def test_window_read_touches_only_intersecting_chunks(tmp_path, small_cube):
    write_cube(tmp_path / "c.zarr", small_cube, chunks=CubeChunks(time=16, space=16))
    store = RecordingStore(tmp_path / "c.zarr")
    cube = open_cube(store)
    store.keys.clear()
    cube.read(Window(0, 0, 16, 16))  # exactly the first spatial chunk
    band_chunks = {k for k in store.keys if k.startswith("s2/bands/c/")}
    # Only spatial chunk (0, 0): the key's y and x indices must be 0.
    assert band_chunks and all(k.split("/")[4:6] == ["0", "0"] for k in band_chunks)
    n_time_chunks = -(-len(small_cube.s2_doy) // 16)
    assert len(band_chunks) == n_time_chunks


def test_large_cube_window_read_never_loads_the_cube(tmp_path):
    """A 2000 × 2000 px, 100-date cube (8 GB of S2 raw): a 256² window costs ~ its own size."""
    grid = Grid("EPSG:32630", __import__("affine").Affine(10, 0, 0, 0, -10, 0), 2000, 2000)
    doy = np.arange(1, 301, 3)
    with CubeWriter(tmp_path / "big.zarr", grid, 2024, doy, doy[:10], doy[:10]) as w:
        rng = np.random.default_rng(0)
        win = Window(900, 1100, 256, 256)
        w.write_s2(win, rng.integers(0, 9000, (100, 256, 256, 10)), np.ones((100, 256, 256)))
    cube = open_cube(tmp_path / "big.zarr")
    tracemalloc.start()
    data = cube.read(win)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    window_bytes = data.s2_bands.nbytes + data.s2_mask.nbytes
    full_bytes = 100 * 2000 * 2000 * 11 * 2
    assert data.s2_bands.shape == (100, 256, 256, 10) and data.s2_mask.all()
    assert peak < 4 * window_bytes
    assert peak < full_bytes / 20


def test_refuses_to_overwrite_other_data_and_needs_overwrite_for_a_cube(tmp_path, small_cube):
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(OutputExistsError, match="other data"):
        write_cube(other, small_cube)
    assert (other / "precious.txt").read_text() == "keep me"
    with pytest.raises(OutputExistsError, match="other data"):
        write_cube(other, small_cube, overwrite=True)

    path = write_cube(tmp_path / "c.zarr", small_cube)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_cube(path, small_cube)
    write_cube(path, small_cube, overwrite=True)
    assert open_cube(path).read().equals(small_cube)


def test_failure_mid_write_leaves_nothing(tmp_path, small_cube):
    doy = small_cube.s2_doy
    with pytest.raises(RuntimeError), CubeWriter(tmp_path / "c.zarr", small_cube.grid, 2024, doy, [], []) as w:
        w.write_s2(Window(0, 0, 8, 8), np.ones((len(doy), 8, 8, 10)), np.ones((len(doy), 8, 8)))
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_non_cube_zarr_and_incomplete_cube_are_refused(tmp_path, small_cube):
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w").create_array("x", shape=(2,), dtype="u1")
    with pytest.raises(NotACubeError, match="not a d-pixel cube"):
        open_cube(tmp_path / "plain.zarr")
    (tmp_path / "notzarr").mkdir()
    with pytest.raises(NotACubeError):
        open_cube(tmp_path / "notzarr")
    path = write_cube(tmp_path / "c.zarr", small_cube)
    import shutil

    shutil.rmtree(path / "s1" / "descending")
    with pytest.raises(NotACubeError, match="s1/descending"):
        open_cube(path)


def test_summary_and_iteration(tmp_path, small_cube):
    cube = open_cube(write_cube(tmp_path / "c.zarr", small_cube, chunks=CubeChunks(16, 16)))
    s = cube.summary()
    assert s["s2_dates"]["count"] == len(small_cube.s2_doy)
    assert s["s2_valid_fraction"] == pytest.approx(small_cube.s2_mask.mean(), abs=1e-4)
    windows = list(cube.iter_windows())
    assert sum(w.height * w.width for w in windows) == 48 * 40
