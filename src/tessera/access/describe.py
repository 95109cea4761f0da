"""What a store holds, as one JSON-ready dict (``tessera info``)."""

from __future__ import annotations

from tessera.access.hemispheres import AnyZone, HemisphereZone
from tessera.access.reads import RegionReads
from tessera.access.store_reader import StoreReader
from tessera.errors import AccessError


def _period(code: int) -> str:
    """What a time entry covers (``2025-06 (01 Jul 2024 – 30 Jun 2025)``); the code where it is
    not a period tessera knows."""
    from tessera.errors import ConfigError
    from tessera.period import parse_period

    try:
        period = parse_period(code)
        return period.label if period.calendar else period.describe()
    except ConfigError:
        return str(code)


def describe(reader: RegionReads) -> dict:
    """Store location, model, depths, shard size, and one row per zone × year (with block and
    pixel counts where fill records exist: local stores tessera wrote)."""
    if not isinstance(reader, StoreReader):
        return {
            "store": reader.location,
            "model": "geotessera tiles",
            "depths": [128],
            "shard": None,
            "groups": [
                {"zone": "tiles", "year": y, "grid": "0.1° tiles", "blocks": None, "pixels": None, "nodata": None}
                for y in reader.years
            ],
        }
    try:
        cov = reader.coverage()
        prints = reader.footprints()
    except AccessError:
        cov, prints = None, []
    groups = []
    for zone in reader.zones():
        z = reader.zone(zone)
        if z is None:
            continue
        for year in reader.years:
            rows = [r for r in cov if r["zone"] == zone.name and r["year"] == year] if cov is not None else None
            groups.append(
                {
                    "zone": "+".join(getattr(z, "groups", [zone.name])),
                    "year": year,
                    "period": _period(year),
                    "complete": _completeness(z, year),
                    "grid": f"{z.grid.height}×{z.grid.width}",
                    "blocks": len(rows) if rows is not None else None,
                    "pixels": sum(r["pixels"] for r in rows) if rows is not None else None,
                    "nodata": sum(r["nodata"] for r in rows) if rows is not None else None,
                    "lonlat": _union([p["bounds"] for p in prints if p["zone"] == zone.name and p["year"] == year]),
                }
            )
    first = reader.zone(reader.zones()[0]) if reader.zones() else None
    return {
        "store": reader.location,
        "model": reader.attrs.get("geoemb:model"),
        "provenance": reader.attrs.get("tessera:provenance"),
        "depths": reader.available_depths,
        "shard": first.arrays[reader.dims].shard[0] if first else None,
        "checkpoint_id": reader.attrs.get("checkpoint_id"),
        "optical_min_obs": reader.attrs.get("optical_min_obs"),
        "nan_scale": reader.nan_status,
        "quality_layers": sorted(reader.quality_layers),
        "groups": groups,
    }


def _completeness(zone: AnyZone, year: int) -> str:
    """``yes``; ``no`` (not in ``years_complete``: a gap in the publication); or, for a zone joined
    from hemisphere groups, which of them are not complete."""
    if isinstance(zone, HemisphereZone):
        missing = zone.incomplete_groups(year)
        if missing and len(missing) < len(zone.groups):
            return "no in " + ", ".join(missing)
    return "yes" if zone.complete(year) else "no"


def _union(boxes: list) -> list[float] | None:
    """The W, S, E, N box around lon/lat boxes (rounded to 10 m or so); None for none."""
    if not boxes:
        return None
    w, s, e, n = zip(*boxes, strict=True)
    return [round(min(w), 5), round(min(s), 5), round(max(e), 5), round(max(n), 5)]
