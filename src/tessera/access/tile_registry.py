"""Is my area covered, and how well? Answered before reading a pixel: from the Parquet registry the
global store publishes beside itself, or else from the store's own shard listing.

The registry (``<name>.registry/parts/zone=<ZONE>/year=<YEAR>/<run>.parquet``, beside
``<name>.icechunk``) has one row per 2048-px tile and year: its WGS84 box, whether it holds
embeddings, and how many of its pixels the depth rule refused. A zone-year refilled keeps both
runs' parts: the latest ``assembled_at`` per zone, year and tile is the record. Rows of zones 01
and 60 that cross the antimeridian have west > east.

Without a registry, the store's shards of ``scales`` say which 2048-px tiles were written (a
listing: no chunk is read); refused pixels are then not known.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tessera.errors import AccessError, RegistryError
from tessera.grid import check_bbox

#: The registry's columns tessera reads, with the Arrow types its declared schema gives them.
COLUMNS = {
    "tile": "string",
    "assembled_at": "string",
    "embedded": "bool",
    "refused_px": "int64",
    "bbox_west": "double",
    "bbox_south": "double",
    "bbox_east": "double",
    "bbox_north": "double",
}
_PART = re.compile(r"zone=(\d\d)([NS])/year=(\d{4})/[^/]+\.parquet$")


@dataclass(frozen=True)
class TileRow:
    zone: str  # "31N"
    year: int
    tile: str  # "chunk_<shard row>_<shard col>"
    embedded: bool
    refused_px: int | None  # None: not known (no registry, or not measured)
    bbox: tuple[float, float, float, float]  # W, S, E, N; W > E across the antimeridian
    assembled_at: str | None


def registry_beside(location: str) -> str | None:
    """``…/name.registry`` beside ``…/name.icechunk``, where it exists; None otherwise."""
    text = os.fspath(location).rstrip("/")
    if not text.endswith(".icechunk"):
        return None
    candidate = text.removesuffix(".icechunk") + ".registry"
    fs, root = _fs(candidate)
    return candidate if fs.exists(root + "/parts") else None


def _fs(location: str):
    import fsspec

    from tessera.store.sources import _aws_credentials

    options = {"anon": not _aws_credentials()} if location.startswith("s3://") else {}
    return fsspec.core.url_to_fs(location, **options)


def zones_near(west: float, east: float) -> set[int]:
    """UTM zones touching [west, east] (an antimeridian box has west > east), with one zone either
    side: zone grids reach past their 6° band."""
    span = (east - west) % 360 if west > east else east - west
    first = math.floor((west + 180.0) / 6.0) % 60
    count = math.floor(span / 6.0) + 2
    return {(first + i) % 60 + 1 for i in range(-1, count + 1)}


def _crosses(west: float, south: float, east: float, north: float, box: tuple[float, float, float, float]) -> bool:
    w, s, e, n = box
    if not (s <= north and n >= south):
        return False
    lo, hi = (w, e + 360.0) if w > e else (w, e)
    qlo, qhi = (west, east + 360.0) if west > east else (west, east)
    return any(lo <= qhi + k and hi >= qlo + k for k in (-360.0, 0.0, 360.0))


def read_registry(location: str, bbox: Sequence[float], year: int | None = None) -> list[TileRow]:
    """The latest row per zone, year and tile whose box meets ``bbox`` (W, S, E, N; W > E across
    the antimeridian), for one year or every year."""
    import pyarrow.parquet as pq

    west, south, east, north = _bbox(bbox)
    fs, root = _fs(location)
    try:
        found = fs.glob(root.rstrip("/") + "/parts/zone=*/year=*/*.parquet")
    except FileNotFoundError:
        found = []
    if not found:
        raise RegistryError(f"{location} holds no registry parts (parts/zone=…/year=…/*.parquet)")
    zones = zones_near(west, east)
    best: dict[tuple[str, int, str], TileRow] = {}
    for path in sorted(found):
        m = _PART.search(path)
        if m is None:
            continue
        number, hemisphere, part_year = int(m.group(1)), m.group(2), int(m.group(3))
        if (year is not None and part_year != year) or number not in zones:
            continue
        if (hemisphere == "N" and north < -1.0) or (hemisphere == "S" and south > 1.0):
            continue  # groups reach about a shard past the equator, never further
        with fs.open(path, "rb") as f:
            table = pq.read_table(f)
        _check_schema(table.schema, path)
        cols = table.to_pydict()
        for i in range(table.num_rows):
            box = tuple(float(cols[k][i]) for k in ("bbox_west", "bbox_south", "bbox_east", "bbox_north"))
            if any(math.isnan(v) for v in box) or not _crosses(west, south, east, north, box):  # type: ignore[arg-type]
                continue
            row = TileRow(
                f"{number:02d}{hemisphere}",
                part_year,
                str(cols["tile"][i]),
                bool(cols["embedded"][i]),
                None if cols["refused_px"][i] is None else int(cols["refused_px"][i]),
                box,  # type: ignore[arg-type]
                str(cols["assembled_at"][i]),
            )
            key = (row.zone, row.year, row.tile)
            if key not in best or (best[key].assembled_at or "") < (row.assembled_at or ""):
                best[key] = row
    return sorted(best.values(), key=lambda r: (r.year, r.zone, r.tile))


def _check_schema(schema, path: str) -> None:
    missing = [c for c in COLUMNS if c not in schema.names]
    wrong = [
        f"{c} is {schema.field(c).type}, not {t}"
        for c, t in COLUMNS.items()
        if c in schema.names and str(schema.field(c).type) not in (t, "large_string" if t == "string" else t)
    ]
    if missing or wrong:
        said = (
            (f"lacks {', '.join(missing)}" if missing else "") + ("; " if missing and wrong else "") + "; ".join(wrong)
        )
        raise RegistryError(
            f"registry part {path} has another schema ({said}); it is not the global store's tile registry"
        )


def _bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in bbox)
    if west > east:  # an antimeridian box: check each side as a plain box
        check_bbox((west, south, 180.0, north))
        check_bbox((-180.0, south, east, north))
        return west, south, east, north
    return check_bbox((west, south, east, north))


def store_tiles(store: Any, bbox: Sequence[float], year: int) -> list[TileRow]:
    """2048-px tiles of a store's zone grids that hold ``scales`` shards for the year (a listing),
    meeting ``bbox``; refused pixels not known."""
    from rasterio.warp import transform_bounds

    from tessera.access.hemispheres import HemisphereZone

    west, south, east, north = _bbox(bbox)
    store.check_year(year)
    rows: list[TileRow] = []
    for zone in store.zones():
        if zone.number not in zones_near(west, east):
            continue
        reader = store.zone(zone)
        groups = [p.reader for p in reader.parts] if isinstance(reader, HemisphereZone) else [reader]
        for group in groups:
            if not group.complete(year):
                continue
            lister = getattr(group.source, "list_dir", None)
            if lister is None:
                raise AccessError(
                    f"{store.location} cannot be listed (plain HTTP) and has no registry; its coverage is "
                    "known only by reading it"
                )
            t = group.time_index(year)
            scales = group.scales
            sh, sw = scales.shard
            prefix = scales.shard_key(t, 0, 0).rsplit("/", 2)[0]
            for sy_name in lister(prefix + "/"):
                for sx_name in lister(f"{prefix}/{sy_name}/"):
                    if not (sy_name.isdigit() and sx_name.isdigit()):
                        continue
                    sy, sx = int(sy_name), int(sx_name)
                    g = group.grid
                    left = g.transform.c + sx * sw * g.transform.a
                    top = g.transform.f + sy * sh * g.transform.e
                    box = transform_bounds(
                        g.crs,
                        "EPSG:4326",
                        left,
                        top + sh * g.transform.e,
                        left + sw * g.transform.a,
                        top,
                        densify_pts=21,
                    )
                    if _crosses(west, south, east, north, box):
                        rows.append(TileRow(group.name, year, f"chunk_{sy}_{sx}", True, None, box, None))
    return sorted(rows, key=lambda r: (r.zone, r.tile))


def summarise(rows: list[TileRow]) -> dict[str, int | None]:
    known = [r.refused_px for r in rows if r.refused_px is not None]
    return {
        "tiles": len(rows),
        "embedded": sum(r.embedded for r in rows),
        "refused_px": int(np.sum(known)) if known and len(known) == len(rows) else None,
    }
