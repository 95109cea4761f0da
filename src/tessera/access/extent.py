"""Where a store's year is written, and the grid a command works on when the user names no
region: the one place that rule lives (``pca``, ``similar``, ``heads``, ``change``, the explorer)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from tessera.errors import AccessError
from tessera.grid import BBox, Grid, Window, target_grid

# A store covering more than this (a zone, the globe) is not a default region: it is a mistake.
MOST_DEFAULT_PIXELS = 20_000 * 20_000


def written_grid(reader: Any, year: int) -> Grid | None:
    """The grid of a year's written blocks on their zone's lattice (the zone most of them are
    in), from a store's fill records; None where the store keeps none."""
    from tessera.store import Zone

    try:
        rows = [r for r in getattr(reader, "coverage", list)() if r.get("year") == year]
    except AccessError:
        return None  # a remote store without fill records
    if not rows:
        return None
    zone = Counter(r["zone"] for r in rows).most_common(1)[0][0]
    wins = [Window(*r["window"]) for r in rows if r["zone"] == zone]
    r0, c0 = min(w.row for w in wins), min(w.col for w in wins)
    r1, c1 = max(w.row + w.height for w in wins), max(w.col + w.width for w in wins)
    found = reader.zone(Zone.from_name(zone))
    return None if found is None else found.grid.window(Window(r0, c0, r1 - r0, c1 - c0))


def written_bounds(reader: Any, year: int) -> BBox | None:
    """The lon/lat box (W, S, E, N) of a year's written blocks; None where the store does not
    list them."""
    try:
        boxes = [f["bounds"] for f in reader.footprints() if f.get("year") == year]
    except (AccessError, NotImplementedError):
        return None
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def working_grid(
    reader: Any, year: int, bbox: BBox | None = None, cube: str | os.PathLike | None = None, what: str = "map"
) -> Grid:
    """The grid to read: ``cube``'s, else ``bbox``'s UTM grid at 10 m, else where ``year`` is
    written (refused where the store does not say, or where that is larger than a region)."""
    if cube is not None:
        from tessera.cube import open_cube

        return open_cube(cube).grid
    if bbox is not None:
        return target_grid(bbox)
    grid = written_grid(reader, year)
    if grid is None:
        raise AccessError(
            f"{reader.location} does not list where {year} is written; say which region to {what} "
            "with --bbox W,S,E,N (degrees) or --cube CUBE"
        )
    if grid.height * grid.width > MOST_DEFAULT_PIXELS:
        raise AccessError(
            f"{year} is written over {grid.height:,} × {grid.width:,} px, too large to {what} at once; "
            "say which region with --bbox W,S,E,N (degrees) or --cube CUBE"
        )
    return grid
