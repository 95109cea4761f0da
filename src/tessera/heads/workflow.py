"""From a store and a label file to arrays a head can use: the region, its labels, its pixels."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tessera.errors import LabelError
from tessera.grid import BBox, Grid
from tessera.heads.labels import (
    NO_LABEL,
    rasterize_labels,
    rasterize_values,
    read_label_raster,
    read_legend,
    read_value_raster,
)
from tessera.heads.registry import Task, task_spec

if TYPE_CHECKING:
    from tessera.access.reads import RegionReads

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt")


@dataclass(frozen=True)
class LabelledRegion:
    grid: Grid
    embeddings: np.ndarray  # (H, W, D) float32, NaN = no data
    labels: np.ndarray  # (H, W): int class ids, NO_LABEL (-1) = unlabelled; or float targets, NaN = unlabelled
    legend: dict[int, str]
    raw: dict[str, np.ndarray] | None = None  # raw-band baselines by name, (H, W, F), when asked for
    task: Task = "classification"
    groups: np.ndarray | None = None  # (H, W) int group (field) id per pixel, < 0 = none
    screened: dict[str, int] | None = None  # pixels the quality screen counted (and dropped), by reason

    def pixels(
        self, sets: Sequence[str] | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """(features by name, labels, rows, cols) of the labelled pixels that have every feature
        set of ``sets`` (default: the embeddings and every raw baseline, so that they are compared
        on the same pixels); a head fitted on embeddings alone asks for ``("embeddings",)``."""
        h, w = self.labels.shape
        every = {"embeddings": self.embeddings, **(self.raw or {})}
        unknown = set(sets or ()) - set(every)
        if unknown:
            raise LabelError(f"no feature set {sorted(unknown)} in this region; it has {sorted(every)}")
        flat = {k: x.reshape(h * w, -1) for k, x in every.items() if sets is None or k in sets}
        lab = self.labels.ravel()
        keep = task_spec(self.task).labelled(lab)
        for x in flat.values():
            keep &= ~np.isnan(x).any(axis=1)
        if not keep.any():
            raise LabelError(
                f"no labelled pixel has {' and '.join(flat)}; check the labels cover embedded pixels of that year"
            )
        rows, cols = np.divmod(np.flatnonzero(keep), w)
        return {k: v[keep] for k, v in flat.items()}, self.labels.ravel()[keep], rows, cols


def region_grid(
    labels: Path | None = None,
    bbox: BBox | None = None,
    cube: str | os.PathLike | None = None,
    store: Any = None,
    year: int | None = None,
) -> Grid:
    """The grid to work on: the cube's, else the bbox's UTM grid at 10 m, else the label raster's,
    else where ``store`` has ``year`` written. The cube gives only its grid here; raw-band
    baselines are asked for on their own."""
    from tessera.access.extent import working_grid

    if cube is not None or bbox is not None:
        return working_grid(store, year or 0, bbox, cube)
    if labels is not None and labels.suffix.lower() in RASTER_SUFFIXES:
        import rasterio

        with rasterio.open(labels) as src:
            if src.crs is None:
                raise LabelError(f"{labels} has no CRS; labels must be georeferenced")
            return Grid(src.crs.to_string(), src.transform, src.height, src.width)
    if store is None or year is None:
        raise LabelError("say which region to map: --bbox, --cube, or a label raster")
    return working_grid(store, year)


def labelled_region(
    store: RegionReads,
    year: int,
    labels: str | os.PathLike,
    column: str | None = None,
    bbox: BBox | None = None,
    cube: str | os.PathLike | None = None,
    task: Task = "classification",
    depth: int | None = None,
    groups: str | os.PathLike | None = None,
    group_column: str | None = None,
    baselines: str | os.PathLike | None = None,
    min_s2_obs: int | None = None,
    drop_radar_free: bool = False,
    min_reliability: float | None = None,
) -> LabelledRegion:
    """Embeddings and labels on one grid: the cube's (``cube``), the bbox's UTM grid, or the label
    raster's. Labels in another CRS are reprojected (rasters, nearest) or rasterised onto it.
    ``baselines``, a cube on that grid, adds its raw-band baselines (``raw``). Where the store has
    quality layers, pixels below ``min_s2_obs`` optical observations (default: the store's own
    rule) are dropped, and radar-free ones counted (dropped with ``drop_radar_free``), and with
    ``min_reliability`` the pixels less reliable (``embed --reliability``)."""
    from tessera.access.quality import screen
    from tessera.access.region import check_region_size, read_grid

    labels = Path(labels)
    if not labels.exists():
        raise LabelError(f"no label file at {labels}")
    is_raster = labels.suffix.lower() in RASTER_SUFFIXES
    store.check_year(year)
    grid = region_grid(labels, bbox, cube, store, year)
    check_region_size(grid, store.embed_dim(year, depth), "predict")  # before labels are rasterised onto it
    spec = task_spec(task)
    legend: dict[int, str] = {}
    if not spec.classes:
        if is_raster:
            lab = read_value_raster(labels, grid)
        elif column:
            lab = rasterize_values(labels, grid, column)
        else:
            raise LabelError(f"{labels} is a vector file: name its value column with --column")
    elif is_raster:
        lab, legend = read_label_raster(labels, grid), read_legend(labels)
    else:
        if not column:
            raise LabelError(f"{labels} is a vector file: name its class column with --column")
        lab, names = rasterize_labels(labels, grid, column)
        legend = {i: n for n, i in names.items()}
    if spec.classes:  # every class present gets a name, its own or its id
        legend = {int(i): legend.get(int(i), str(i)) for i in np.unique(lab) if i != NO_LABEL}
    emb, screened = screen(
        store, grid, year, read_grid(store, grid, year, depth).data, min_s2_obs, drop_radar_free, min_reliability
    )
    raw = None
    if baselines is not None:
        from tessera.cube import open_cube
        from tessera.heads.features import raw_feature_sets

        raw_cube = open_cube(baselines)
        if raw_cube.grid != grid:
            raise LabelError(
                f"the baselines cube {baselines} lies on {raw_cube.grid.crs} {raw_cube.grid.shape}, not on the "
                f"region's grid ({grid.crs} {grid.shape}); give the same cube as --cube to work on its grid"
            )
        raw = raw_feature_sets(raw_cube.read())
    lab = lab.astype(int) if spec.classes else lab.astype(np.float32)
    return LabelledRegion(
        grid, emb, lab, legend, raw, spec.name, read_groups(groups, grid, group_column), screened or None
    )


def read_groups(path: str | os.PathLike | None, grid: Grid, column: str | None = None) -> np.ndarray | None:
    """(H, W) int group ids on ``grid`` from a raster (its nodata → -1) or a vector file's
    ``column`` (each distinct value one group); None without a path."""
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise LabelError(f"no group file at {path}")
    if path.suffix.lower() in RASTER_SUFFIXES:
        return read_label_raster(path, grid).astype(np.int64)
    if not column:
        raise LabelError(f"{path} is a vector file: name its group column with --group-column")
    ids, _ = rasterize_labels(path, grid, column)
    return ids.astype(np.int64)
