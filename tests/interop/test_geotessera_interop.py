"""Interoperability, proven by running the official client (geotessera 0.11) in both directions:
it reads our stores bit for bit, and a store its own writer built reads back exactly in ours."""

import json
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from tessera.access import NODATA, OUTSIDE, VALID, WATER, open_store
from tessera.access.serve import make_server
from tessera.grid import Window, lonlat_to
from tessera.store import Provenance, StoreLayout, Zone, blocks, open_for_write

PROV = Provenance({"preset": "test", "checkpoint_sha256": "c" * 64, "config": {}}, {"seed": 0}, "test")
# Two zones, one south of the equator; each window crosses shard boundaries (64 px shards).
PLACES = {31: (3.05, 52.05), 23: (-47.95, -15.75)}
YEARS = (2024, 2023)


def encoded(zone: int, year: int, win: Window, rng) -> tuple[np.ndarray, np.ndarray]:
    """int8 (h, w, 128) whose first bands spell zone, year, row, col; random below; scales > 0."""
    r = np.arange(win.row, win.row + win.height)[:, None] + np.zeros(win.width, int)
    c = np.arange(win.col, win.col + win.width)[None, :] + np.zeros((win.height, 1), int)
    head = [
        np.full_like(r, zone),
        np.full_like(r, year % 100),
        r % 100,
        r // 100 % 100,
        r // 10**4 % 100,
        r // 10**6,
        c % 100,
        c // 100 % 100,
        c // 10**4,
    ]
    q = rng.integers(-127, 128, (win.height, win.width, 128)).astype(np.int8)
    q[..., : len(head)] = np.stack(head, -1)
    scales = rng.uniform(0.001, 0.05, (win.height, win.width)).astype(np.float32)
    scales[::17, ::13] = np.inf  # embedded without a valid observation: no data
    return q, scales


def zone_window(zone: Zone, lon: float, lat: float, h: int = 90, w: int = 110) -> Window:
    rows, cols = zone.grid().pixel_of(*lonlat_to(zone.epsg, np.array([lon]), np.array([lat])))
    return Window(int(rows[0]) - h // 2, int(cols[0]) - w // 2, h, w)


@pytest.fixture(scope="module")
def our_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("interop") / "ours.zarr"
    rng = np.random.default_rng(0)
    store = open_for_write(root, PROV, 128, StoreLayout(shard=64))
    for year in YEARS:
        for number, (lon, lat) in PLACES.items():
            writer = store.ensure(year, Zone(number), PROV, 128)
            win = zone_window(Zone(number), lon, lat)
            for shard, piece in blocks(win, writer.layout):
                writer.write_block(shard, piece, *encoded(number, year, piece, rng), "test")
    return root


def run_official(python: str, store, request: dict, tmp_path: Path) -> dict:
    (tmp_path / "req.json").write_text(json.dumps(request))
    script = Path(__file__).with_name("official_client.py")
    r = subprocess.run(
        [python, str(script), str(store), str(tmp_path / "req.json"), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return dict(np.load(tmp_path / "out.npz"))


@pytest.fixture(params=["path", "http"])
def our_location(request, our_store):
    """Our store as the official client meets it: a local path, or ``tessera serve`` over HTTP."""
    if request.param == "path":
        yield str(our_store)
        return
    server = make_server(our_store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_official_client_reads_our_store_bit_for_bit(our_store, our_location, official_python, tmp_path):
    rng = np.random.default_rng(1)
    points = [[lon + dx, lat + dy] for lon, lat in PLACES.values() for dx, dy in rng.uniform(-0.004, 0.004, (40, 2))]
    points += [[3.3, 52.3], [10.0, 45.0]]  # in zone 31 but never embedded; a zone the store lacks
    bboxes = [[lon - 0.003, lat - 0.002, lon + 0.003, lat + 0.002] for lon, lat in PLACES.values()]
    zone_boxes = {}
    for number, (lon, lat) in PLACES.items():
        x, y = lonlat_to(Zone(number).epsg, np.array([lon]), np.array([lat]))
        zone_boxes[str(number)] = [float(x[0]) - 200, float(y[0]) - 150, float(x[0]) + 200, float(y[0]) + 150]
    request = {
        "years": list(YEARS),
        "points": points,
        "bboxes": bboxes,
        "patches": list(PLACES.values()),
        "zone_boxes": zone_boxes,
    }
    got = run_official(official_python, our_location, request, tmp_path)
    ours = open_store(our_store)
    assert list(got["years"]) == list(YEARS) == ours.years

    def ours_on(transform, shape, crs, year):
        zone = Zone.from_epsg(int(str(crs).split(":")[1]))
        reader = ours.zone(zone)
        t, z = Affine(*transform), reader.grid.transform
        win = Window(round((z.f - t.f) / 10), round((t.c - z.c) / 10), shape[0], shape[1])
        return reader.read(win, year)

    for year in YEARS:
        s = ours.sample_points(points, year)
        assert np.array_equal(got[f"points_{year}"], s.values, equal_nan=True)
        assert (s.status == VALID).sum() > 60 and list(s.status[-2:]) == [NODATA, OUTSIDE]
        for i in range(len(bboxes)):
            data = got[f"region_{year}_{i}"]
            assert np.isfinite(data).any()
            assert np.array_equal(
                data,
                ours_on(got[f"region_t_{year}_{i}"], data.shape, got[f"region_crs_{year}_{i}"], year),
                equal_nan=True,
            )
            patch = got[f"patch_{year}_{i}"]
            assert patch.shape == (24, 24, 128) and np.isfinite(patch).any()
            assert np.array_equal(
                patch,
                ours_on(got[f"patch_t_{year}_{i}"], patch.shape, got[f"patch_crs_{year}_{i}"], year),
                equal_nan=True,
            )
        for number in PLACES:
            data = got[f"zone_{number}_{year}"]
            assert np.array_equal(
                data,
                ours_on(got[f"zone_t_{number}_{year}"], data.shape, f"EPSG:{32600 + number}", year),
                equal_nan=True,
            )


def _official_tiles(out: Path) -> dict:
    """Small 128-d tiles in the geotessera layout (landmask GeoTIFFs in each tile's own UTM code,
    southern ones in EPSG:327NN), values spelling zone, year, row and col; water rows; and the
    registries ``zarr-init`` needs. Returns what each tile holds, for checking."""
    import rasterio

    from tessera.access.geotessera import (
        EMBEDDINGS_DIR,
        LANDMASKS_DIR,
        TileRecord,
        tile_grid,
        tile_name,
        write_registries,
    )
    from tessera.grid import utm_epsg
    from tessera.store import lattice_window

    rng = np.random.default_rng(2)
    records, truth = [], {}
    for number, (lon, lat) in PLACES.items():
        epsg = utm_epsg(lon, lat)
        zone = Zone(number)
        grid = tile_grid(lon, lat)  # the whole 0.1° box, as the official writer expects
        win = lattice_window(grid, zone.grid())
        south = 10_000_000 if epsg > 32700 else 0
        g = grid.transform
        t = Affine(10, 0, g.c, 0, -10, g.f + south)
        name = tile_name(lon, lat)
        land = np.ones((win.height, win.width), np.uint8)
        land[:5] = 0  # water along the top
        with rasterio.open(
            out / LANDMASKS_DIR / f"{name}.tiff",
            "w",
            driver="GTiff",
            width=win.width,
            height=win.height,
            count=1,
            dtype="uint8",
            crs=f"EPSG:{epsg}",
            transform=t,
        ) as dst:
            dst.write(land[None])
        for year in YEARS[:1]:  # one year: full tiles are ~100 MB each
            q, scales = encoded(number, year, win, rng)
            scales = np.where(np.isfinite(scales), scales, np.float32(0.01))
            folder = out / EMBEDDINGS_DIR / str(year) / name
            folder.mkdir(parents=True)
            np.save(folder / f"{name}.npy", q)
            np.save(folder / f"{name}_scales.npy", scales)
            truth[(number, year)] = (win, q, scales, land)
            records.append(TileRecord(year, lon, lat, "0", 0, "0", 0, "0", 0))
    write_registries(out, records)
    return truth


def test_a_store_built_by_the_official_writer_reads_back_exactly(official_python, tmp_path):
    tiles = tmp_path / "tiles"
    (tiles / "global_0.1_degree_tiff_all").mkdir(parents=True)
    truth = _official_tiles(tiles)
    registry = Path(official_python).with_name("geotessera-registry")
    store = tmp_path / "official.zarr"
    for args in (
        ["zarr-init", tiles, "--years", str(YEARS[0]), "--output", store],
        ["zarr-fill", tiles, store, "--year", str(YEARS[0])],
    ):
        r = subprocess.run([str(registry), *map(str, args)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0 and "failed" not in r.stdout, (r.stdout + r.stderr)[-3000:]
    ours = open_store(store)
    assert ours.years == [YEARS[0]] and [z.number for z in ours.zones()] == sorted(PLACES)
    for (number, year), (win, q, scales, land) in truth.items():
        reader = ours.zone(Zone(number))
        zg, rg = Zone(number).grid().transform, reader.grid.transform
        # The official writer sizes its grid to the tiles: same lattice, another origin.
        local = Window(win.row + round((rg.f - zg.f) / 10), win.col + round((zg.c - rg.c) / 10), win.height, win.width)
        got, stored = reader.read_scaled(local, year)
        expect = q.astype(np.float32) * scales[..., None]
        # The official writer clips a tile to its own idea of the 0.1° box (a few edge rows may
        # stay unfilled, +inf): wherever it did write, every value is exactly the tile's.
        filled = (land == 1) & np.isfinite(stored)
        assert filled.sum() > 0.9 * (land == 1).sum()
        assert np.array_equal(got[filled], expect[filled])
        assert np.isnan(stored[land == 0]).mean() > 0.9 and not np.isfinite(stored[land == 0]).any()
        assert np.isnan(got[land == 0]).all()
        ii, jj = np.mgrid[: win.height : 7, : win.width : 9]
        vals, status = reader.points(local.row + ii.ravel(), local.col + jj.ravel(), year)
        f = filled[ii, jj].ravel()
        assert (
            set(status[f]) == {VALID} and WATER in status and set(status[land[ii, jj].ravel() == 0]) <= {WATER, NODATA}
        )
        assert set(status[(land[ii, jj].ravel() == 1) & ~f]) <= {NODATA}
        assert np.array_equal(vals[f], expect[ii, jj].reshape(-1, 128)[f])
    lon, lat = PLACES[31]
    assert ours.probe(lon + 0.2, lat, 2024)[1] == NODATA  # inside the zone group, never written: its fill
    assert ours.probe(10.0, 45.0, 2024)[1] == OUTSIDE


def test_official_client_reads_our_matryoshka_prefixes(official_python, tmp_path):
    """A v2 student's store with 4/16/32/64 prefix arrays (the official v2 stores publish d4 and
    d16): the official client lists the depths and reads each prefix equal to the first bands of ours."""
    import torch

    from tessera.embed import EmbedConfig, embed_cube
    from tessera.model import save
    from tessera.model.student import STUDENT_PRESETS, PixelStudent
    from tessera.simulate import SimulationConfig, simulate, write_scene

    scene = write_scene(simulate(SimulationConfig(height=40, width=40, seed=8)), tmp_path / "scene")
    torch.manual_seed(0)
    ckpt = save(PixelStudent(STUDENT_PRESETS["nano"]), tmp_path / "nano.safetensors")
    embed_cube(scene / "cube.zarr", ckpt, tmp_path / "v2.zarr", EmbedConfig(depths=(4, 16, 32, 64)))
    ours = open_store(tmp_path / "v2.zarr")
    from pyproj import Transformer

    from tessera.cube import open_cube

    grid = open_cube(scene / "cube.zarr").grid
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform
    w, n = to_lonlat(*(grid.transform * (5, 5)))
    e, s = to_lonlat(*(grid.transform * (35, 35)))
    rng = np.random.default_rng(3)
    points = [[w + dx * (e - w), s + dy * (n - s)] for dx, dy in rng.uniform(0, 1, (30, 2))]
    got = run_official(
        official_python,
        tmp_path / "v2.zarr",
        {
            "years": [2024],
            "points": points,
            "bboxes": [[w, s, e, n]],
            "patches": [],
            "zone_boxes": {},
            "depths": [4, 16, 32, 64],
        },
        tmp_path,
    )
    assert got["depths"].tolist() == [4, 16, 32, 64, 128]
    full = ours.sample_points(points, 2024).values
    assert np.isfinite(full).any()
    for d in (4, 16, 32, 64):
        assert np.array_equal(got[f"points_2024_d{d}"], full[:, :d], equal_nan=True), d
        assert np.array_equal(
            got[f"points_2024_d{d}"], ours.sample_points(points, 2024, depth=d).values, equal_nan=True
        )
        region, t = got[f"region_2024_d{d}"], Affine(*got[f"region_t_2024_d{d}"])
        assert region.shape[-1] == d and np.isfinite(region).any()
        reader = ours.zone(Zone(31))
        z = reader.grid.transform
        win = Window(round((z.f - t.f) / 10), round((t.c - z.c) / 10), *region.shape[:2])
        assert np.array_equal(region, reader.read(win, 2024, depth=d), equal_nan=True)
        assert np.array_equal(region, reader.read(win, 2024)[..., :d], equal_nan=True)
