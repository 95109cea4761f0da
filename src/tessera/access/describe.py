"""What a store holds, as one JSON-ready dict (``tessera info``)."""

from __future__ import annotations

from tessera.access.reads import RegionReads
from tessera.access.store_reader import StoreReader
from tessera.errors import AccessError


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
    except AccessError:
        cov = None
    groups = []
    for zone in reader.zones():
        z = reader.zone(zone)
        if z is None:
            continue
        for year in reader.years:
            rows = [r for r in cov if r["zone"] == zone.name and r["year"] == year] if cov is not None else None
            groups.append(
                {
                    "zone": zone.name,
                    "year": year,
                    "grid": f"{z.grid.height}×{z.grid.width}",
                    "blocks": len(rows) if rows is not None else None,
                    "pixels": sum(r["pixels"] for r in rows) if rows is not None else None,
                    "nodata": sum(r["nodata"] for r in rows) if rows is not None else None,
                }
            )
    first = reader.zone(reader.zones()[0]) if reader.zones() else None
    return {
        "store": reader.location,
        "model": reader.attrs.get("geoemb:model"),
        "provenance": reader.attrs.get("tessera:provenance"),
        "depths": reader.available_depths,
        "shard": first.arrays[reader.dims].shard[0] if first else None,
        "groups": groups,
    }
