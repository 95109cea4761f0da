"""A UTM zone of the published global store, joined from its hemisphere groups (``31N``, ``31S``).

Each group is its own grid, snapped outward to whole shards, so both reach past the equator; the
join keeps the rows whose centres lie on the group's own side (north from ``N``, south from
``S``) and presents one grid on the northern CRS, southern northings negative, as the convention
has every zone. The two groups' chunk grids need not line up (in the published store the southern
one is 64 px out of phase), so a read is split at the equator and each part is read on its own
chunk grid by its own ``ZoneReader``: nothing is copied, resampled or re-chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine

from tessera.access.base import OUTSIDE, STATUSES
from tessera.access.zone import ZoneReader
from tessera.errors import StoreError
from tessera.grid import Grid, Window


@dataclass(frozen=True)
class _Part:
    reader: ZoneReader
    row0: int  # joined row of the part's first kept row
    local0: int  # the part's first kept row in its own grid
    rows: int
    col0: int  # joined column of the part's first column

    def window(self, window: Window) -> tuple[Window, Window] | None:
        """(the part's own window, where it lands in ``window``) of their overlap, if any."""
        kept = Window(self.row0, self.col0, self.rows, self.reader.grid.width)
        overlap = window.intersection(kept)
        if overlap is None:
            return None
        own = Window(overlap.row - self.row0 + self.local0, overlap.col - self.col0, overlap.height, overlap.width)
        return own, Window(overlap.row - window.row, overlap.col - window.col, overlap.height, overlap.width)


class HemisphereZone:
    """The zone readers' interface (grid, years, window and point reads) over one or two
    hemisphere groups of the same zone."""

    def __init__(self, readers: list[ZoneReader]) -> None:
        first = readers[0]
        self.zone, self.source, self.dims = first.zone, first.source, first.dims
        self.name = first.zone.name
        px = first.grid.transform.a
        for r in readers:
            t = r.grid.transform
            if (t.a, -t.e) != (px, px) or t.b or t.d:
                raise StoreError(f"zone group {r.name} is not on a north-up {px:g} m grid like {first.name}")
            if r.years != first.years:
                raise StoreError(f"zone group {r.name} holds years {r.years}, {first.name} {first.years}")
        kept = []
        for r in readers:
            top = r.grid.transform.f
            centres = top - (np.arange(r.grid.height) + 0.5) * px
            on_side = np.flatnonzero(centres < 0 if r.hemisphere == "S" else centres > 0)
            if len(on_side):
                kept.append((r, int(on_side[0]), len(on_side)))
        if not kept:
            raise StoreError(f"zone {self.name}'s groups hold no rows on their own side of the equator")
        top = max(r.grid.transform.f - local0 * px for r, local0, _ in kept)
        west = min(r.grid.transform.c for r, _, _ in kept)
        self.parts: list[_Part] = []
        for r, local0, rows in kept:
            row0 = (top - (r.grid.transform.f - local0 * px)) / px
            col0 = (r.grid.transform.c - west) / px
            if abs(row0 - round(row0)) > 1e-6 or abs(col0 - round(col0)) > 1e-6:
                raise StoreError(f"zone group {r.name}'s grid is out of phase with {first.name}'s 10 m lattice")
            self.parts.append(_Part(r, round(row0), local0, rows, round(col0)))
        height = max(p.row0 + p.rows for p in self.parts)
        width = max(p.col0 + p.reader.grid.width for p in self.parts)
        self.grid = Grid(first.grid.crs, Affine(px, 0.0, west, 0.0, -px, top), height, width)
        self.groups = [p.reader.name for p in self.parts]

    # What the rest of access asks of a zone reader, taken from its first group.
    @property
    def years(self) -> list[int]:
        return self.parts[0].reader.years

    @property
    def arrays(self) -> dict[int, Any]:
        return self.parts[0].reader.arrays

    @property
    def scales(self) -> Any:
        return self.parts[0].reader.scales

    @property
    def quality(self) -> dict[str, Any]:
        return self.parts[0].reader.quality

    def embeddings(self, depth: int | None) -> tuple[Any, int]:
        return self.parts[0].reader.embeddings(depth)

    def time_index(self, year: int) -> int:
        return self.parts[0].reader.time_index(year)

    def complete(self, year: int) -> bool:
        """Complete in every group the zone is joined from."""
        return all(p.reader.complete(year) for p in self.parts)

    def incomplete_groups(self, year: int) -> list[str]:
        return [p.reader.name for p in self.parts if not p.reader.complete(year)]

    # -- reads --------------------------------------------------------------------------------
    def read(self, window: Window, year: int, depth: int | None = None) -> np.ndarray:
        return self.read_scaled(window, year, depth)[0]

    def read_scaled(self, window: Window, year: int, depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self._read(window, year, depth, quantized=False)

    def read_quantized(self, window: Window, year: int, depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self._read(window, year, depth, quantized=True)

    def _read(self, window: Window, year: int, depth: int | None, quantized: bool) -> tuple[np.ndarray, np.ndarray]:
        _, depth = self.embeddings(depth)
        h, w = window.height, window.width
        found = [(part, f) for part in self.parts if (f := part.window(window)) is not None]
        if len(found) == 1 and found[0][1][0].height == h and found[0][1][0].width == w:
            # Wholly in one hemisphere (nearly every read): that group's arrays are the answer.
            part, (own, _) = found[0]
            return (part.reader.read_quantized if quantized else part.reader.read_scaled)(own, year, depth)
        values = np.zeros((h, w, depth), np.int8) if quantized else np.full((h, w, depth), np.nan, np.float32)
        scales = np.full((h, w), self.scales.spec.fill, np.float32)
        for part, (own, at) in found:
            read = part.reader.read_quantized if quantized else part.reader.read_scaled
            v, s = read(own, year, depth)
            values[at.row : at.row + at.height, at.col : at.col + at.width] = v
            scales[at.row : at.row + at.height, at.col : at.col + at.width] = s
        return values, scales

    def points(
        self, rows: np.ndarray, cols: np.ndarray, year: int, depth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        _, depth = self.embeddings(depth)
        values = np.full((len(rows), depth), np.nan, np.float32)
        status = np.full(len(rows), OUTSIDE, object)
        for part in self.parts:
            mine = np.flatnonzero(
                (rows >= part.row0)
                & (rows < part.row0 + part.rows)
                & (cols >= part.col0)
                & (cols < part.col0 + part.reader.grid.width)
            )
            if len(mine):
                own_rows = rows[mine] - part.row0 + part.local0
                values[mine], status[mine] = part.reader.points(own_rows, cols[mine] - part.col0, year, depth)
        return values, status.astype(str)

    def quality_window(self, window: Window, year: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for part in self.parts:
            found = part.window(window)
            if found is None:
                continue
            own, at = found
            for name, layer in part.reader.quality_window(own, year).items():
                if name not in out:
                    out[name] = np.full((window.height, window.width, *layer.shape[2:]), np.nan, np.float32)
                out[name][at.row : at.row + at.height, at.col : at.col + at.width] = layer
        return out

    def status_window(self, window: Window, year: int) -> np.ndarray:
        """Statuses over a window (``ZoneReader.status_window``); ``outside`` where no group reaches."""
        out = np.full((window.height, window.width), STATUSES.index(OUTSIDE), np.float32)
        for part in self.parts:
            found = part.window(window)
            if found is not None:
                own, at = found
                out[at.row : at.row + at.height, at.col : at.col + at.width] = part.reader.status_window(own, year)
        return out

    def quality_points(self, rows: np.ndarray, cols: np.ndarray, year: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for part in self.parts:
            own_rows = rows - part.row0 + part.local0
            mine = (rows >= part.row0) & (rows < part.row0 + part.rows)
            got = part.reader.quality_points(np.where(mine, own_rows, -1), cols - part.col0, year)
            for name, layer in got.items():
                if name not in out:
                    out[name] = layer
                else:
                    out[name][mine] = layer[mine]
        return out


#: A zone as a store reader hands it out: one group, or two joined.
AnyZone = ZoneReader | HemisphereZone
