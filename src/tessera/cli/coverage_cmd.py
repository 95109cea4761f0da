"""``tessera coverage``: is my area covered, and how well — before reading a pixel."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import app, console
from tessera.cli.options import STORE_ARG, check_writable, parse_bbox


@app.command("coverage")
def coverage_command(
    store: str = STORE_ARG,
    bbox: str = typer.Option(..., help="W,S,E,N in degrees (EPSG:4326); W > E crosses the antimeridian."),
    year: int = typer.Option(None, help="One year (default: every year the registry has)."),
    registry: str = typer.Option(None, help="The tile registry (default: NAME.registry beside NAME.icechunk)."),
    png: Path = typer.Option(None, "--png", help="Also draw the tiles (.png)."),
) -> None:
    """Tiles of 2048 px meeting a box, per year: embedded or not and pixels refused, from the
    store's Parquet registry, else (one year) from its shard listing."""
    from tessera.access.tile_registry import read_registry, registry_beside, store_tiles, summarise

    if png is not None:
        check_writable(png)
    box = parse_bbox(bbox)
    where = registry or registry_beside(store)
    if where is not None:
        rows, source = read_registry(where, box, year), f"registry {where}"
    else:
        from tessera.access import open_store
        from tessera.errors import ConfigError

        if year is None:
            raise ConfigError(f"{store} has no tile registry beside it: give --year to list its shards")
        rows, source = store_tiles(open_store(store), box, year), "the store's shard listing"
    table = Table(title=f"coverage of {bbox} from {source}")
    for col in ("year", "zone", "tiles", "embedded", "refused px"):
        table.add_column(col)
    for key in sorted({(r.year, r.zone) for r in rows}):
        s = summarise([r for r in rows if (r.year, r.zone) == key])
        refused = "–" if s["refused_px"] is None else f"{s['refused_px']:,}"
        table.add_row(str(key[0]), key[1], str(s["tiles"]), str(s["embedded"]), refused)
    console.print(table)
    total = summarise(rows)
    console.print(f"{total['tiles']} tiles, {total['embedded']} embedded")
    if png is not None:
        from tessera.viz.geo import plot_tile_coverage

        plot_tile_coverage(rows, box, png, f"coverage from {source}")
        console.print(f"wrote [bold]{png}[/]")
