"""Open a store for reading: its years, zone groups, and which pixels are recorded.

Only pixels inside blocks listed in the manifest are data. A writer killed between writing a
block and recording it leaves values that nothing vouches for; readers treat them as absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tessera.errors import InputNotFoundError, TesseraError
from tessera.grid import Window
from tessera.quantize import dequantize
from tessera.store import EmbeddingStore, StoreError, Zone, ZoneGroup, blocks, is_store, shard_points


class AccessError(TesseraError, ValueError):
    """A request the store cannot answer as asked (bad bbox, a year it does not hold, …)."""


@dataclass
class ZoneReader:
    """Read side of one zone group: dequantised windows and points, masked to recorded blocks.

    ``fetch`` (remote stores) is called with the shards a read needs before it reads them; it
    brings their manifests and verified data files into the local mirror the group lives in.
    """

    group: ZoneGroup
    fetch: Callable[[list[tuple[int, int]]], None] | None = None
    _recorded: dict[tuple[int, int], list[Window]] = field(default_factory=dict)

    @property
    def grid(self):
        return self.group.grid

    @property
    def embed_dim(self) -> int:
        return self.group.embed_dim

    def recorded(self, shards: Iterable[tuple[int, int]]) -> dict[tuple[int, int], list[Window]]:
        """Recorded block windows of the given shards (their manifests read once, then cached)."""
        shards = list(dict.fromkeys(shards))
        missing = [sh for sh in shards if sh not in self._recorded]
        if missing and self.fetch is not None:
            self.fetch(missing)
        for sh in missing:
            self._recorded[sh] = [b.zone_window for b in self.group.manifest(sh).blocks]
        return {sh: self._recorded[sh] for sh in shards}

    def recorded_mask(self, window: Window) -> np.ndarray:
        """(h, w) bool: True where a recorded block covers the pixel."""
        mask = np.zeros((window.height, window.width), bool)
        for wins in self.recorded(sh for sh, _ in blocks(window, self.group.layout)).values():
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
        recorded = self.recorded_mask(inside)  # first: a remote store fetches what it needs here
        q, scales = self.group.read(inside)
        scales = np.where(recorded, scales, np.nan)
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
            q, s = self._read_points(r[rec], c[rec])
            idx = np.flatnonzero(inside)[rec]
            out[idx] = dequantize(q, s)
            recorded[idx] = True
        return out, recorded

    def _read_points(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, D) int8 and (N,) float32 at zone pixels: shard files read directly when their
        layout is the one ``shard_points`` decodes, else Zarr's vectorised indexing."""
        g = self.group
        if not (shard_points.supported(g.embeddings) and shard_points.supported(g.scales)):
            bands = np.arange(g.embed_dim)[None, :]
            return g.embeddings.vindex[rows[:, None], cols[:, None], bands], g.scales.vindex[rows, cols]
        size, chunk = g.layout.shard, g.layout.chunk
        q = np.zeros((len(rows), g.embed_dim), np.int8)
        s = np.full(len(rows), np.nan, np.float32)
        sr, sc = rows // size, cols // size
        order = np.lexsort((sc, sr))
        bounds = np.flatnonzero(np.diff(sr[order]) | np.diff(sc[order])) + 1
        def one_shard(sel: np.ndarray) -> None:
            key = (int(sr[sel[0]]), int(sc[sel[0]]))
            files = g.shard_files(key)
            lr, lc = rows[sel] % size, cols[sel] % size
            q[sel] = shard_points.read_points(files[f"embeddings/c/{key[0]}/{key[1]}/0"], lr, lc, size, chunk,
                                              "int8", (g.embed_dim,), 0)  # fmt: skip
            s[sel] = shard_points.read_points(files[f"scales/c/{key[0]}/{key[1]}"], lr, lc, size, chunk,
                                              "<f4", (), np.nan)  # fmt: skip

        for sel in np.split(order, bounds):
            one_shard(sel)
        return q, s

    def _recorded_points(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        s = self.group.layout.shard
        ok = np.zeros(len(rows), bool)
        shard_r, shard_c = rows // s, cols // s
        recorded = self.recorded(sorted(set(zip(shard_r.tolist(), shard_c.tolist(), strict=True))))
        for key, wins in recorded.items():
            sel = (shard_r == key[0]) & (shard_c == key[1])
            for win in wins:
                ok[sel] |= ((rows[sel] >= win.row) & (rows[sel] < win.row + win.height)
                            & (cols[sel] >= win.col) & (cols[sel] < win.col + win.width))  # fmt: skip
        return ok


class RegionReads:
    """Reads shared by every reader (a store, a geotessera directory); each reader provides
    ``check_year``, ``embed_dim(year)``, ``sources(year, grid)`` and ``sample_points``."""

    def probe(self, lon: float, lat: float, year: int):
        """(vector (D,) float32, status) at one point; status ``valid``, ``nodata`` or ``outside``."""
        s = self.sample_points([[lon, lat]], year)
        return s.values[0], str(s.status[0])

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


class StoreReader(RegionReads):
    """A store opened for reading. Use :func:`open_store`."""

    def __init__(self, store: EmbeddingStore, remote=None) -> None:
        self.store = store
        self.remote = remote  # a RemoteStore whose mirror ``store`` is, or None for a local store
        self._zones: dict[tuple[int, Zone], ZoneReader] = {}
        self._groups = store.groups()

    @property
    def location(self) -> str:
        return self.remote.url if self.remote is not None else str(self.store.root)

    @property
    def years(self) -> list[int]:
        return sorted({y for y, _ in self._groups})

    def zones(self, year: int) -> list[Zone]:
        return [z for y, z in self._groups if y == year]

    def check_year(self, year: int) -> None:
        if year not in self.years:
            raise AccessError(f"{self.location} holds no embeddings for {year}; it holds "
                              f"{', '.join(map(str, self.years)) or 'none'}")  # fmt: skip

    def sources(self, year: int, grid) -> list[ZoneReader]:
        """Zone groups that may cover ``grid``, the grid's own zone first (see ``region``)."""
        from tessera.access.region import candidate_zones

        return candidate_zones(self, year, grid)

    def embed_dim(self, year: int) -> int:
        return self.zone(year, self.zones(year)[0]).group.embed_dim

    def sample_points(self, points, year: int):
        from tessera.access.points import sample_points

        return sample_points(self, points, year)

    def zone(self, year: int, zone: Zone) -> ZoneReader | None:
        """The zone's reader, or None if the store has no such group."""
        if (year, zone) not in self._groups:
            return None
        if (year, zone) not in self._zones:
            fetch = None
            if self.remote is not None:
                name = f"{year}/{zone.name}"
                fetch = lambda shards: self.remote.fetch_shards(name, shards)  # noqa: E731
            self._zones[(year, zone)] = ZoneReader(self.store.group(year, zone), fetch)
        return self._zones[(year, zone)]

    def coverage(self) -> list[dict]:
        """One row per recorded block: year, zone, zone window, pixel and no-data counts."""
        rows = []
        for year, zone in self._groups:
            for m in self.store.group(year, zone).manifests().values():
                for b in m.blocks:
                    rows.append({"year": year, "zone": zone.name, "window": list(b.window),
                                 "pixels": b.pixels, "nodata": b.nodata})  # fmt: skip
        return rows

    def footprints(self) -> list[dict]:
        """Recorded blocks as lon/lat boxes (year, zone, bounds W,S,E,N) — for coverage plots."""
        from rasterio.warp import transform_bounds

        out = []
        for row in self.coverage():
            zone = next(z for z in self.zones(row["year"]) if z.name == row["zone"])
            b = self.zone(row["year"], zone).grid.window(Window(*row["window"])).bounds
            box = transform_bounds(f"EPSG:{zone.epsg}", "EPSG:4326", b.left, b.bottom, b.right, b.top)
            out.append({"year": row["year"], "zone": row["zone"], "bounds": box})
        return out


def open_store(location: str | os.PathLike, cache: str | os.PathLike | None = None) -> RegionReads:
    """Open embeddings for reading: a store (local path, ``file://``, ``http(s)://`` or another
    fsspec URL such as ``s3://`` when its filesystem package is installed) or a
    directory in the geotessera layout (official downloads, or ``tessera export --layout geotessera``).

    Over HTTP, blocks are fetched when a read needs them, verified against the manifest and kept
    in ``cache`` (default ``~/.cache/tessera/<hash of URL>``).

    >>> store = open_store("embeddings.zarr")                  # doctest: +SKIP
    >>> store = open_store("http://127.0.0.1:8000/")           # doctest: +SKIP
    >>> store.years                                             # doctest: +SKIP
    [2024]
    """
    text = os.fspath(location)
    if "://" in text and not text.startswith("file://"):
        from tessera.access.remote import RemoteStore

        remote = RemoteStore(text, cache)
        return StoreReader(EmbeddingStore(remote.open()), remote)
    path = Path(text.removeprefix("file://"))
    if not path.exists():
        raise InputNotFoundError(f"no embedding store at {path}")
    if (path / "global_0.1_degree_representation").is_dir():
        from tessera.access.tiles import GeotesseraReader

        return GeotesseraReader(path)
    if not is_store(path):
        raise StoreError(f"{path} is not a tessera embedding store (no tessera_store attribute in zarr.json)")
    return StoreReader(EmbeddingStore(path))
