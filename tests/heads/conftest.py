"""A small simulated scene embedded into a store, with its class raster as labels."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from tessera.cube import write_cube
from tessera.embed import EmbedConfig, embed_cube
from tessera.grid import Grid
from tessera.model import Tessera, preset, save
from tessera.simulate import SimulationConfig, simulate
from tessera.store import StoreLayout


@dataclass
class Embedded:
    root: Path
    cube: Path
    store: Path
    labels: Path  # GeoTIFF on the cube grid: class id + 1, so 0 stays "unlabelled"
    classes: np.ndarray
    grid: Grid
    fields: Path | None = None  # int32 field id raster on the cube grid


def write_label_raster(path, labels, grid, crs=None, transform=None):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=labels.shape[1],
        height=labels.shape[0],
        count=1,
        dtype="uint8",
        crs=crs or grid.crs,
        transform=transform or grid.transform,
        nodata=0,
    ) as f:
        f.write(labels.astype(np.uint8)[None])
    return path


def write_embeddings(store, year, emb, grid, prov, dims):
    """Write (H, W, D) float embeddings on ``grid`` into ``store`` (``open_for_write``) as ``year``."""
    from tessera.store import blocks, place

    zone, win = place(grid)
    writer = store.ensure(year, zone, prov, dims)
    for shard, piece in blocks(win, writer.layout):
        part = emb[
            piece.row - win.row : piece.row - win.row + piece.height,
            piece.col - win.col : piece.col - win.col + piece.width,
        ]
        scale = np.abs(part).max(-1) / 127
        writer.write_block(
            shard, piece, np.rint(part / scale[..., None]).astype(np.int8), scale.astype(np.float32), "sim"
        )


def sparse(classes, fraction, seed=0):
    """``classes`` with all but a random ``fraction`` of pixels unlabelled (0)."""
    keep = np.random.default_rng(seed).random(classes.shape) < fraction
    return np.where(keep, classes, 0)


@pytest.fixture(scope="session")
def embedded(tmp_path_factory):
    root = tmp_path_factory.mktemp("heads")
    scene = simulate(SimulationConfig(height=48, width=48, seed=11, field_px=12))
    cube = write_cube(root / "cube.zarr", scene.cube)
    torch.manual_seed(0)
    ckpt = save(Tessera(preset("tiny")), root / "tiny.safetensors")
    embed_cube(cube, ckpt, root / "store", EmbedConfig(layout=StoreLayout(shard=32)))
    classes = scene.classes.astype(int) + 1
    labels = write_label_raster(root / "labels.tif", classes, scene.cube.grid)
    g = scene.cube.grid
    with rasterio.open(
        root / "fields.tif",
        "w",
        driver="GTiff",
        width=g.width,
        height=g.height,
        count=1,
        dtype="int32",
        crs=g.crs,
        transform=g.transform,
    ) as f:
        f.write(scene.field_id.astype(np.int32)[None])
    return Embedded(root, cube, root / "store", labels, classes, scene.cube.grid, root / "fields.tif")


@pytest.fixture(scope="session")
def embedded_v2(tmp_path_factory, embedded):
    """The same scene embedded by a (random-weight) v2 student, with Matryoshka prefix arrays."""
    from tessera.model.student import STUDENT_PRESETS, PixelStudent

    root = tmp_path_factory.mktemp("heads_v2")
    torch.manual_seed(0)
    ckpt = save(PixelStudent(STUDENT_PRESETS["nano"]), root / "nano.safetensors")
    embed_cube(embedded.cube, ckpt, root / "store", EmbedConfig(layout=StoreLayout(shard=32), depths=(16, 32, 64)))
    return Embedded(root, embedded.cube, root / "store", embedded.labels, embedded.classes, embedded.grid)
