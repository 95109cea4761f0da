"""The per-pixel quality layers of the published global store, read beside the embeddings:
usable observations per sensor (``s2_obs_count``, ``s1_asc_obs_count``, ``s1_desc_obs_count``)
and the months that held any (``*_month_covered``, 12 per pixel).

A region's layers are mosaicked by the same code as its embeddings (``region.read_grid``), from
pieces whose "bands" are the layers' channels: the same zones, the same nominal-zone rule, the same
exact copy on a zone's lattice and nearest-neighbour warp elsewhere, so every layer lines up with
the embedding it describes. Values are float32 (counts are exact in it); NaN: not known (no group,
or a year not complete).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tessera.access.base import VALID, Points, PointSample, Region
from tessera.access.zone import ZoneYear, keep_nominal
from tessera.errors import AccessError
from tessera.grid import Grid, Window


def radar_free_mask(status: np.ndarray, quality: dict[str, np.ndarray]) -> np.ndarray:
    """Pixels embedded with no radar at all: a vector, and no usable S1 observation on either pass
    (the published store has no radar rule: about a quarter of the land in 2022–2024)."""
    asc, desc = quality.get("s1_asc_obs_count"), quality.get("s1_desc_obs_count")
    if asc is None or desc is None:
        return np.zeros(status.shape, bool)
    return (status == VALID) & (asc == 0) & (desc == 0)


def radar_free(status: np.ndarray, quality: dict[str, np.ndarray]) -> int:
    return int(radar_free_mask(status, quality).sum())


def screen(
    store: Any,
    grid: Grid,
    year: int,
    embeddings: np.ndarray,
    min_s2_obs: int | None,
    drop_radar_free: bool = False,
    min_reliability: float | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Embeddings on ``grid`` with pixels below ``min_s2_obs`` usable optical observations (and,
    with ``drop_radar_free``, pixels embedded without any radar) set to NaN, and how many of each
    there were among the pixels with vectors. ``min_s2_obs`` None: the store's own
    ``optical_min_obs`` where it declares one; a store without quality layers is not screened
    unless asked to be (then: an error naming it). ``min_reliability`` drops pixels whose
    ``reliability`` (``embed --reliability``) is below it."""
    if min_reliability is not None:
        embeddings, dropped = _reliable(store, grid, year, embeddings, min_reliability)
        rest, counts = screen(store, grid, year, embeddings, min_s2_obs, drop_radar_free)
        return rest, {f"below reliability {min_reliability:g}": dropped, **counts}
    attrs = getattr(store, "attrs", {}) or {}
    if min_s2_obs is None and not drop_radar_free:
        declared = attrs.get("optical_min_obs")
        if declared is None or not getattr(store, "quality_layers", None):
            return embeddings, {}
        min_s2_obs = int(declared)
    layers = store.grid_quality(grid, year)
    has = ~np.isnan(embeddings).any(axis=-1)
    out, counts = embeddings, {}
    if min_s2_obs is not None:
        below = has & (np.nan_to_num(layers["s2_obs_count"], nan=0.0) < min_s2_obs)
        counts[f"below {min_s2_obs} optical observations"] = int(below.sum())
        out = np.where(below[..., None], np.nan, out)
    status = np.where(has, VALID, "")
    free = radar_free_mask(status, layers)
    counts["radar-free" + (" (dropped)" if drop_radar_free else " (kept)")] = int(free.sum())
    if drop_radar_free:
        out = np.where(free[..., None], np.nan, out)
    return out.astype(np.float32, copy=False), counts


def _reliable(store: Any, grid: Grid, year: int, embeddings: np.ndarray, minimum: float) -> tuple[np.ndarray, int]:
    from tessera.store import convention as cv

    if not 0 <= minimum <= 1:
        raise AccessError(f"--min-reliability {minimum} must lie in [0, 1]")
    if cv.RELIABILITY not in (getattr(store, "quality_layers", None) or {}):
        raise AccessError("--min-reliability: this store has no reliability layer; embed with --reliability")
    rel = store.grid_quality(grid, year)[cv.RELIABILITY]
    has = ~np.isnan(embeddings).any(axis=-1)
    below = has & ~(np.nan_to_num(rel, nan=-1.0) >= minimum)
    return np.where(below[..., None], np.nan, embeddings).astype(np.float32, copy=False), int(below.sum())


def channels(layers: dict[str, tuple[int, ...]]) -> list[tuple[str, int]]:
    """(layer, channel count) in a fixed order."""
    return [(name, int(np.prod(extra)) if extra else 1) for name, extra in layers.items()]


def split(stacked: np.ndarray, layout: list[tuple[str, int]]) -> dict[str, np.ndarray]:
    """(…, C) channels → {layer: (…) or (…, months)}."""
    out, at = {}, 0
    for name, n in layout:
        part = stacked[..., at : at + n]
        out[name] = part if n > 1 else part[..., 0]
        at += n
    return out


class QualityYear:
    """A zone's quality layers at one year, as a mosaic piece (``base.Piece``)."""

    def __init__(self, piece: ZoneYear, layout: list[tuple[str, int]]) -> None:
        self.piece, self.layout = piece, layout
        self.grid: Grid = piece.grid
        self.embed_dim = sum(n for _, n in layout)

    def read(self, window: Window) -> np.ndarray:
        got = self.piece.reader.quality_window(window, self.piece.year)
        stacked = np.full((window.height, window.width, self.embed_dim), np.nan, np.float32)
        at = 0
        for name, n in self.layout:
            if name in got:
                stacked[..., at : at + n] = got[name].reshape(window.height, window.width, n)
            at += n
        return keep_nominal(stacked, self.piece, window)


class BesideEmbeddings:
    """What a ``base.Reader`` of arrays kept beside a store's embeddings (quality layers,
    statuses) takes from the store itself: where it is, its years, its footprints."""

    def __init__(self, store: Any) -> None:
        self.store = store

    @property
    def location(self) -> str:
        return self.store.location

    @property
    def years(self) -> list[int]:
        return self.store.years

    def check_year(self, year: int) -> None:
        self.store.check_year(year)

    def check_depth(self, depth: int | None) -> None:
        return None

    def footprints(self) -> list[dict]:
        return self.store.footprints()


class QualityLayers(BesideEmbeddings):
    """A store's quality layers as a ``base.Reader`` of "bands", for ``region.read_grid``."""

    def __init__(self, store: Any, layers: dict[str, tuple[int, ...]]) -> None:
        if not layers:
            raise AccessError(
                f"{store.location} has no quality layers (observation counts, month coverage); the "
                "published global TESSERA store has them"
            )
        super().__init__(store)
        self.layout = channels(layers)

    def embed_dim(self, year: int, depth: int | None = None) -> int:
        return sum(n for _, n in self.layout)

    def pieces(self, year: int, grid: Grid, depth: int | None = None) -> Sequence[QualityYear]:
        return [QualityYear(p, self.layout) for p in self.store.pieces(year, grid)]

    def sample_year(self, points: Points, year: int, depth: int | None = None) -> PointSample:
        """The layers' channels at points, as a sample's values; statuses as the embeddings'."""
        got = self.store.sample_year(points, year)
        layers = self.store.sample_quality(points, year)
        values = np.concatenate([layers[n].reshape(len(got.status), -1) for n, _ in self.layout], axis=1)
        return PointSample(values, got.status)

    def region(self, grid: Grid, year: int) -> dict[str, np.ndarray]:
        from tessera.access.region import read_grid

        stacked: Region = read_grid(self, grid, year)
        return split(stacked.data, self.layout)
