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
    year: int = typer.Option(None, help="Calendar year of the observations."),
    window: str = typer.Option(
        None, help="…or the last month of any 12-month window: 2025-06 = July 2024 to June 2025."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Cube to write (.zarr)."),
    bbox: str = typer.Option(None, help="W,S,E,N in degrees."),
    roi: Path = typer.Option(None, help="…or a ROI file: a GeoTIFF (its grid is used) or a vector file."),
    mask: Path = typer.Option(
        None,
        help="Area mask (GeoJSON / GeoPackage / GeoTIFF, any CRS): only its pixels are read; the region if no bbox.",
    ),
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
    dry_run: bool = typer.Option(False, "--dry-run", help="List the items and dates it would read; read nothing."),
) -> None:
    """Search S2 L2A + S1 RTC for the ROI and year, mosaic each date onto the ROI's 10 m UTM grid,
    mask clouds with SCL, and write the cube."""
    check_writable(out)
    from tessera.acquire import AcquireConfig, acquire, region_grid, roi_bbox
    from tessera.area_mask import load_mask, lonlat_bounds
    from tessera.period import parse_period

    if (year is None) == (window is None):
        raise ConfigError("give exactly one of --year YYYY or --window YYYY-MM (the window's last month)")
    period = parse_period(year if window is None else window).check_acquirable()
    if (bbox is not None and roi is not None) or (bbox is None and roi is None and mask is None):
        raise ConfigError("give one of --bbox W,S,E,N or --roi FILE (or --mask FILE alone)")
    grid, notes = None, []
    if roi is not None:
        box, grid = roi_bbox(roi)
    else:
        box = parse_bbox(bbox) if bbox is not None else lonlat_bounds(mask)
    aoi = None
    if mask is not None:
        grid = grid or region_grid(box, notes)
        aoi = load_mask(mask, grid)
        console.print(f"mask {mask}: {int(aoi.sum()):,} of {aoi.size:,} px wanted ({aoi.mean():.1%})")
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
    if dry_run:
        from tessera.cli.acquire_plan import print_plan

        print_plan(box, period, cfg)
        return
    with progress_bar() as progress:
        s = acquire(box, period, out, cfg, grid=grid, progress=progress, aoi=aoi)
    table = Table(title=f"cube {out}: {s.grid.height} × {s.grid.width} px, {s.grid.crs}, {period.describe()}")
    for col in ("sensor", "items", "dates kept", "valid (mean)"):
        table.add_column(col)
    table.add_row(
        "Sentinel-2 L2A", str(s.s2_items), f"{s.s2_dates_kept} of {s.s2_dates_found}", f"{s.s2_valid_fraction:.0%}"
    )
    for orbit in ("ascending", "descending"):
        if orbit in s.s1_items:
            table.add_row(f"Sentinel-1 {orbit}", str(s.s1_items[orbit]), str(s.s1_dates[orbit]), "")
    console.print(table)
    if aoi is not None:
        console.print(f"read {s.tiles_read} of {s.tiles_total} tiles of 256 px (the rest lie outside the mask)")
    for note in [*notes, *s.notes]:
        console.print(f"[yellow]note:[/] {note}")
