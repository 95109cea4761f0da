"""Open a store for reading: its years, zone groups, and which pixels are recorded.

Only pixels inside blocks listed in the manifest are data. A writer killed between writing a
block and recording it leaves values that nothing vouches for; readers treat them as absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from tessera.errors import InputNotFoundError, TesseraError
from tessera.grid import Window
from tessera.quantize import dequantize
from tessera.store import EmbeddingStore, StoreError, Zone, ZoneGroup, is_store


class AccessError(TesseraError, ValueError):
    """A request the store cannot answer as asked (bad bbox, a year it does not hold, …)."""


@dataclass
class ZoneReader:
    """Read side of one zone group: dequantised windows and points, masked to recorded blocks."""

    group: ZoneGroup

    @cached_property
    def recorded(self) -> dict[tuple[int, int], list[Window]]:
        """Recorded block windows by shard."""
        return {shard: [b.zone_window for b in m.blocks] for shard, m in self.group.manifests().items()}

    def recorded_mask(self, window: Window) -> np.ndarray:
        """(h, w) bool: True where a recorded block covers the pixel."""
        mask = np.zeros((window.height, window.width), bool)
        for wins in self.recorded.values():
            for w in wins:
                inter = w.intersection(window)
                if inter is not None:
                    mask[inter.row - window.row : inter.row - window.row + inter.height,
                         inter.col - window.col : inter.col - window.col + inter.width] = True  # fmt: skip
        return mask

    def read(self, window: Window) -> np.ndarray:
        """(h, w, D) float32 of a zone window; NaN rows for no data and unrecorded pixels."""
        full = Window(0, 0, *self.group.grid.shape)
        inside = window.intersection(full)
        out = np.full((window.height, window.width, self.group.embed_dim), np.nan, np.float32)
        if inside is None:
            return out
        q, scales = self.group.read(inside)
        scales = np.where(self.recorded_mask(inside), scales, np.nan)
        r0, c0 = inside.row - window.row, inside.col - window.col
        out[r0 : r0 + inside.height, c0 : c0 + inside.width] = dequantize(q, scales)
        return out

    def points(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised point read: (N, D) float32 and (N,) recorded flag, one Zarr call per array."""
        h, w = self.group.grid.shape
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        out = np.full((len(rows), self.group.embed_dim), np.nan, np.float32)
        recorded = np.zeros(len(rows), bool)
        if not inside.any():
            return out, recorded
        r, c = rows[inside], cols[inside]
        rec = self._recorded_points(r, c)
        if rec.any():
            bands = np.arange(self.group.embed_dim)[None, :]
            q = self.group.embeddings.vindex[r[rec][:, None], c[rec][:, None], bands]
            s = self.group.scales.vindex[r[rec], c[rec]]
            idx = np.flatnonzero(inside)[rec]
            out[idx] = dequantize(q, s)
            recorded[idx] = True
        return out, recorded

    def _recorded_points(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        s = self.group.layout.shard
        ok = np.zeros(len(rows), bool)
        shard_r, shard_c = rows // s, cols // s
        for key in set(zip(shard_r.tolist(), shard_c.tolist(), strict=True)):
            sel = (shard_r == key[0]) & (shard_c == key[1])
            for win in self.recorded.get(key, []):
                ok[sel] |= ((rows[sel] >= win.row) & (rows[sel] < win.row + win.height)
                            & (cols[sel] >= win.col) & (cols[sel] < win.col + win.width))  # fmt: skip
        return ok


class StoreReader:
    """A store opened for reading. Use :func:`open_store`."""

    def __init__(self, store: EmbeddingStore) -> None:
        self.store = store
        self._zones: dict[tuple[int, Zone], ZoneReader] = {}
        self._groups = store.groups()

    @property
    def location(self) -> str:
        return str(self.store.root)

    @property
    def years(self) -> list[int]:
        return sorted({y for y, _ in self._groups})

    def zones(self, year: int) -> list[Zone]:
        return [z for y, z in self._groups if y == year]

    def check_year(self, year: int) -> None:
        if year not in self.years:
            raise AccessError(f"{self.location} holds no embeddings for {year}; it holds "
                              f"{', '.join(map(str, self.years)) or 'none'}")  # fmt: skip

    def zone(self, year: int, zone: Zone) -> ZoneReader | None:
        """The zone's reader, or None if the store has no such group."""
        if (year, zone) not in self._groups:
            return None
        if (year, zone) not in self._zones:
            self._zones[(year, zone)] = ZoneReader(self.store.group(year, zone))
        return self._zones[(year, zone)]

    # Reads (implemented in ``points`` and ``region``; methods here so a store reads like a dataset).
    def probe(self, lon: float, lat: float, year: int):
        from tessera.access.points import probe

        return probe(self, lon, lat, year)

    def sample_points(self, points, year: int):
        from tessera.access.points import sample_points

        return sample_points(self, points, year)

    def read_region(self, bbox, year: int, crs: str | None = None, resolution: float | None = None):
        from tessera.access.region import read_region

        return read_region(self, bbox, year, crs, resolution)

    def iter_region(self, bbox, year: int, crs: str | None = None, resolution: float | None = None,
                    strip_rows: int = 256):  # fmt: skip
        from tessera.access.region import iter_region

        return iter_region(self, bbox, year, crs, resolution, strip_rows)

    def read_patch(self, lon: float, lat: float, year: int, size_px: int):
        from tessera.access.region import read_patch

        return read_patch(self, lon, lat, year, size_px)

    def coverage(self) -> list[dict]:
        """One row per recorded block: year, zone, zone window, pixel and no-data counts."""
        rows = []
        for year, zone in self._groups:
            for m in self.store.group(year, zone).manifests().values():
                for b in m.blocks:
                    rows.append({"year": year, "zone": zone.name, "window": list(b.window),
                                 "pixels": b.pixels, "nodata": b.nodata})  # fmt: skip
        return rows


def open_store(location: str | os.PathLike) -> StoreReader:
    """Open an embedding store for reading: a local path or a ``file://`` URL.

    >>> store = open_store("embeddings.zarr")        # doctest: +SKIP
    >>> store.years                                   # doctest: +SKIP
    [2024]
    """
    text = os.fspath(location)
    if text.startswith(("http://", "https://", "s3://", "gs://")):
        raise AccessError(f"reading stores over {text.split(':')[0]} is not built yet; copy the store "
                          "locally (e.g. `aws s3 sync`) and open the path")  # fmt: skip
    path = Path(text.removeprefix("file://"))
    if not path.exists():
        raise InputNotFoundError(f"no embedding store at {path}")
    if not is_store(path):
        raise StoreError(f"{path} is not a tessera embedding store (no tessera_store attribute in zarr.json)")
    return StoreReader(EmbeddingStore(path))
