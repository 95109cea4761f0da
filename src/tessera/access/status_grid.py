"""What a read says of every pixel of a grid (``base.STATUSES``), from the scales alone: valid,
unembedded or water (a NaN scale, as the store defines it), no data, incomplete, outside.

Mosaicked by the embeddings' own code (``region.read_grid``) from pieces whose one "band" is the
status index, so statuses line up with the embeddings pixel for pixel: the same zones, the same
nominal-zone rule, exact copies on a zone's lattice and nearest-neighbour warps elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tessera.access.base import OUTSIDE, STATUSES, Points, PointSample
from tessera.access.quality import BesideEmbeddings
from tessera.access.zone import ZoneYear, keep_nominal
from tessera.grid import Grid, Window


class StatusYear:
    """A zone's statuses at one year, as a mosaic piece (``base.Piece``) of one band."""

    embed_dim = 1

    def __init__(self, piece: ZoneYear) -> None:
        self.piece = piece
        self.grid: Grid = piece.grid

    def read(self, window: Window) -> np.ndarray:
        codes = self.piece.reader.status_window(window, self.piece.year)[..., None]
        return keep_nominal(codes, self.piece, window)


class Statuses(BesideEmbeddings):
    """A store's statuses as a ``base.Reader`` of one band, for ``region.read_grid``."""

    def embed_dim(self, year: int, depth: int | None = None) -> int:
        return 1

    def pieces(self, year: int, grid: Grid, depth: int | None = None) -> Sequence[StatusYear]:
        return [StatusYear(p) for p in self.store.pieces(year, grid)]

    def sample_year(self, points: Points, year: int, depth: int | None = None) -> PointSample:
        got = self.store.sample_year(points, year)
        codes = np.array([STATUSES.index(s) for s in got.status], np.float32)[:, None]
        return PointSample(codes, got.status)


def grid_status(store: Any, grid: Grid, year: int) -> np.ndarray:
    """(H, W) uint8 index into ``STATUSES`` of every pixel of ``grid`` in ``year``."""
    from tessera.access.region import read_grid

    codes = read_grid(Statuses(store), grid, year).data[..., 0]
    return np.where(np.isnan(codes), STATUSES.index(OUTSIDE), codes).astype(np.uint8)
