"""``tessera acquire``: a region and a year → a d-pixel cube from a STAC catalogue."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import app, console, progress_bar
from tessera.cli.options import check_writable, parse_bbox
from tessera.errors import ConfigError


@app.command("acquire")
def acquire_command(
    year: int = typer.Option(..., help="Year of the observations."),
    out: Path = typer.Option(..., "--out", "-o", help="Cube to write (.zarr)."),
    bbox: str = typer.Option(None, help="W,S,E,N in degrees."),
    roi: Path = typer.Option(None, help="…or a ROI file: a GeoTIFF (its grid is used) or a vector file."),
    stac_url: str = typer.Option(
        "planetary-computer",
        help="planetary-computer, earth-search, a STAC API URL, or a static catalog (catalog.json path or URL).",
    ),
    max_cloud: float = typer.Option(90.0, help="Skip S2 items with eo:cloud_cover above this (%)."),
    min_valid: float = typer.Option(0.05, help="Skip S2 dates with less valid coverage of the ROI."),
    s2_collection: str = typer.Option(None, help="S2 L2A collection id (default: the catalogue's)."),
    s1_collection: str = typer.Option(None, help="S1 RTC collection id (default: the catalogue's)."),
    s1_values: str = typer.Option(None, help="What the S1 assets hold: power, amplitude or db."),
    date_chunk: int = typer.Option(
        None, help="S2 dates of bands held in memory at once (default: 16, fewer where that would pass 2 GiB)."
    ),
    overwrite: bool = typer.Option(False, help="Replace an existing cube at OUT."),
) -> None:
    """Search S2 L2A + S1 RTC for the ROI and year, mosaic each date onto the ROI's 10 m UTM grid,
    mask clouds with SCL, and write the cube."""
    check_writable(out)
    from tessera.acquire import AcquireConfig, acquire, roi_bbox

    if (bbox is None) == (roi is None):
        raise ConfigError("give exactly one of --bbox W,S,E,N or --roi FILE")
    grid = None
    if roi is not None:
        box, grid = roi_bbox(roi)
    else:
        box = parse_bbox(bbox)
    cfg = AcquireConfig(
        catalog=stac_url,
        s2_collection=s2_collection,
        s1_collection=s1_collection,
        s1_values=s1_values,
        max_cloud=max_cloud,
        min_valid=min_valid,
        overwrite=overwrite,
        date_chunk=date_chunk,
    )
    with progress_bar() as progress:
        s = acquire(box, year, out, cfg, grid=grid, progress=progress)
    table = Table(title=f"cube {out}: {s.grid.height} × {s.grid.width} px, {s.grid.crs}, {year}")
    for col in ("sensor", "items", "dates kept", "valid (mean)"):
        table.add_column(col)
    table.add_row(
        "Sentinel-2 L2A", str(s.s2_items), f"{s.s2_dates_kept} of {s.s2_dates_found}", f"{s.s2_valid_fraction:.0%}"
    )
    for orbit in ("ascending", "descending"):
        if orbit in s.s1_items:
            table.add_row(f"Sentinel-1 {orbit}", str(s.s1_items[orbit]), str(s.s1_dates[orbit]), "")
    console.print(table)
    for note in s.notes:
        console.print(f"[yellow]note:[/] {note}")
