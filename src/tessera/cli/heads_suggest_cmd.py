"""``tessera heads suggest``: which fields (or pixels) to label next."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import console
from tessera.cli.heads_common import heads_app, read_region
from tessera.cli.options import BBOX_OPT, COLUMN_OPT, LABELS_OPT, STORE_ARG, YEAR_OPT, check_writable
from tessera.errors import ConfigError


@heads_app.command("suggest")
def suggest_command(
    store: str = STORE_ARG,
    labels: Path = LABELS_OPT,
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="GeoJSON of the suggestions (fields' outlines or pixels)."),
    n: int = typer.Option(20, "-n", help="How many fields (or pixels) to suggest.", min=1),
    fields: Path = typer.Option(
        None, help="Field ids (a raster, or a vector file with --field-column): whole fields are suggested."
    ),
    field_column: str = typer.Option(None, help="Field id column of a vector --fields file."),
    column: str = COLUMN_OPT,
    bbox: str = BBOX_OPT,
    cube: Path = typer.Option(None, help="The region's cube: its grid."),
    seed: int = typer.Option(0, help="Seed of the head and the pixel samples."),
) -> None:
    """Rank unlabelled fields (or pixels, without --fields) to label next by the head's
    uncertainty and their distance from what is labelled; writes them as GeoJSON."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.heads.suggest import suggest, write_suggestions

    if out.suffix.lower() not in (".geojson", ".json"):
        raise ConfigError(f"--out {out} must be a .geojson")
    region = read_region(open_store(store), labels, year, column, bbox, cube, groups=fields, group_column=field_column)
    with console.status("ranking what to label next …"):
        found = suggest(region, n, region.groups, seed)
    write_suggestions(out, found, region.grid, region.groups, region.legend)
    kind = "field" if region.groups is not None else "pixel"
    if found and found[0].uncertainty != found[0].uncertainty:  # NaN: one class labelled
        console.print(
            "[yellow]note:[/] the labels hold one class: no uncertainty to measure; ranked by how much "
            "of the map, away from the labels, each stands for"
        )
    table = Table(title=f"{len(found)} {kind}s to label next")
    for col in ("rank", kind, "pixels", "uncertainty", "novelty", "head's guess"):
        table.add_column(col)
    for s in found:
        unc = "—" if s.uncertainty != s.uncertainty else f"{s.uncertainty:.2f}"
        guess = region.legend.get(s.predicted, "—") if s.predicted >= 0 else "—"
        table.add_row(str(s.rank), str(s.unit), str(s.pixels), unc, f"{s.novelty:.2f}", guess)
    console.print(table)
    console.print(f"wrote [bold]{out}[/]")
