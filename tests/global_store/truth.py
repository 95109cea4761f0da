"""What a replica of the global store holds (``replica.py`` writes it): its blocks and their values,
and the lon/lat of their pixels. No pytest here: the scripts the Python 3.12 environment runs use it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pyproj import Transformer


class Truth:
    """What the replica holds: its blocks (group, year, first row and column, size) and values."""

    def __init__(self, root: Path) -> None:
        doc = json.loads((root / "truth.json").read_text())
        self.blocks, self.top = doc["blocks"], doc["top"]
        self.arrays = dict(np.load(root / "truth.npz"))

    def lonlat(self, i: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(N, 2) lon/lat of pixel centres at rows/cols inside block ``i``."""
        b = self.blocks[i]
        epsg = (32600 if b["group"].endswith("N") else 32700) + b["zone"]
        e = 163_840.0 + (b["col"] + np.asarray(cols) + 0.5) * 10
        n = self.top[b["group"]] - (b["row"] + np.asarray(rows) + 0.5) * 10
        lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(e, n)
        return np.stack([lon, lat], axis=1)

    def vectors(self, i: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        q = self.arrays[f"{i}/embeddings"][rows, cols].astype(np.float32)
        s = self.arrays[f"{i}/scales"][rows, cols]
        return q * np.where(np.isfinite(s), s, np.nan)[:, None]

    def layer(self, i: int, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.arrays[f"{i}/{name}"][rows, cols]
