"""A simulated store to explore, with two fields of different classes whose pixels are known, and
a way to run ``tessera explore`` / ``tessera tiles`` as a user does: a process on a free port."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tessera.cube import write_cube
from tessera.embed import EmbedConfig, embed_cube
from tessera.grid import Grid
from tessera.pretrained import shipped
from tessera.simulate import SimulationConfig, simulate
from tests.tessera_cli import Serving


@dataclass
class Field:
    cls: int  # the simulator's class id
    rows: slice  # a block of pixels wholly inside the field
    cols: slice

    def corners(self, grid: Grid) -> list[tuple[float, float]]:
        """lon/lat of the block's corners, inset by a quarter pixel (a polygon covers its pixels' centres)."""
        from rasterio.warp import transform

        r0, r1, c0, c1 = self.rows.start + 0.25, self.rows.stop - 0.25, self.cols.start + 0.25, self.cols.stop - 0.25
        xy = [grid.transform @ (c, r) for c, r in ((c0, r0), (c1, r0), (c1, r1), (c0, r1))]
        lons, lats = transform(grid.crs, "EPSG:4326", [p[0] for p in xy], [p[1] for p in xy])
        return list(zip(lons, lats, strict=True))

    def centre(self, grid: Grid) -> tuple[float, float]:
        c = self.corners(grid)
        return float(np.mean([p[0] for p in c])), float(np.mean([p[1] for p in c]))


@dataclass
class Explorable:
    store: Path
    grid: Grid
    classes: np.ndarray  # 2024's
    fields: list[Field]  # two blocks of different classes
    changed: np.ndarray  # (H, W) bool: the class differs between 2023 and 2024


def _block(classes: np.ndarray, field_id: np.ndarray, size: int, taken: set[int]) -> Field | None:
    h, w = classes.shape
    for r in range(2, h - size - 2, 2):
        for c in range(2, w - size - 2, 2):
            ids = field_id[r : r + size, c : c + size]
            cls = classes[r : r + size, c : c + size]
            if (ids == ids[0, 0]).all() and (cls == cls[0, 0]).all() and int(cls[0, 0]) not in taken:
                return Field(int(cls[0, 0]), slice(r, r + size), slice(c, c + size))
    return None


@pytest.fixture(scope="session")
def explorable(tmp_path_factory) -> Explorable:
    root = tmp_path_factory.mktemp("explore")
    scenes = {}
    for year, frac in ((2023, 0.0), (2024, 0.3)):  # the same fields; 30 % change crop in 2024
        scenes[year] = simulate(
            SimulationConfig(height=64, width=64, seed=3, year=year, field_px=20, change_fraction=frac)
        )
        cube = write_cube(root / f"cube{year}.zarr", scenes[year].cube)
        embed_cube(cube, shipped("tiny-broad"), root / "store", EmbedConfig())
    scene = scenes[2024]
    fields: list[Field] = []
    for _ in range(2):
        found = _block(scene.classes, scene.field_id, 8, {f.cls for f in fields})
        assert found is not None, "the scene has no two 8 px blocks of different classes"
        fields.append(found)
    return Explorable(root / "store", scene.grid, scene.classes, fields, scene.classes != scenes[2023].classes)


@pytest.fixture
def serve():
    running: list[Serving] = []

    def start(*args: str) -> Serving:
        running.append(Serving([*args, "--port", "0"]))
        return running[-1]

    yield start
    for r in running:
        r.stop()


@pytest.fixture(scope="session")
def saved_heads(explorable, tmp_path_factory):
    """A logistic head fitted on this store's embeddings, and the same head claiming another model."""
    from sklearn.linear_model import LogisticRegression

    from tessera.access import open_store
    from tessera.access.extent import written_grid
    from tessera.access.region import read_grid
    from tessera.heads.persist import embedding_model, save_head

    root = tmp_path_factory.mktemp("heads")
    reader = open_store(explorable.store)
    grid = written_grid(reader, 2024)
    emb = read_grid(reader, grid, 2024).data.reshape(-1, 128)
    y = np.resize(explorable.classes.ravel(), len(emb)) % 3
    model = LogisticRegression(max_iter=500).fit(emb, y)
    meta = {"head": "logistic", "task": "classification", "year": 2024, "n_labelled": len(y), "embed_dim": 128}
    legend = {"legend": {"0": "a", "1": "b", "2": "c"}}
    ours = save_head(root / "ours.skops", model, {**meta, **legend, "dataset": embedding_model(reader)})
    other = save_head(root / "other.skops", model, {**meta, **legend, "dataset": {"model": "someone-else/v9"}})
    return model, ours, other


@pytest.fixture
def saved_heads_in(saved_heads):
    """Copies of the two saved heads in a folder (a project's): (ours, other)."""
    import shutil

    def put(folder: Path) -> tuple[Path, Path]:
        _, ours, other = saved_heads
        return shutil.copy(ours, folder / "ours.skops"), shutil.copy(other, folder / "other.skops")

    return put
