"""``tessera cube import-tif``: Sentinel-2 GeoTIFFs as users hold them into a cube."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import console, cube_app, progress_bar
from tessera.cli.options import check_writable, period_option
from tessera.errors import ConfigError


@cube_app.command("import-tif")
def import_tif_command(
    source: Path = typer.Argument(..., help="A multi-band GeoTIFF holding every date, or a folder of one per date."),
    out: Path = typer.Argument(..., help="Cube to write (.zarr)."),
    year: int = typer.Option(
        None,
        parser=period_option,
        help="Year (2024) or 12-month window (2025-06) the dates cover (default: their calendar year).",
    ),
    dates: str = typer.Option(
        None,
        help="One date per date block (multi-band file) or per file (folder, in name order): "
        "2024-03-01,2024-03-16,… or @dates.txt (default: from band descriptions, tags or file names).",
    ),
    bands: str = typer.Option(
        None,
        help="The order of each date's ten bands in the files, e.g. B2,B3,B4,B5,B6,B7,B8,B8A,B11,B12 "
        "(default: from the band descriptions).",
    ),
    scale: float = typer.Option(
        None, help="Multiply values by this to get L2A DN (default: 1 for integers, 10000 for reflectance 0–1)."
    ),
    band_check: bool = typer.Option(
        True, "--band-check/--no-band-check", help="Check the band order against reflectance statistics."
    ),
    overwrite: bool = typer.Option(False, help="Replace an existing cube at OUT."),
) -> None:
    """Import Sentinel-2 GeoTIFFs (GEE, Theia, FORCE, SNAP exports) into a d-pixel cube, S2 only."""
    check_writable(out)
    from tessera.cube.band_order import parse_order
    from tessera.cube.tif_import import import_tif, parse_dates

    if scale is not None and not scale > 0:
        raise ConfigError(f"--scale {scale} must be a positive number")
    with progress_bar() as progress:
        plan = import_tif(
            source,
            out,
            year=year,
            dates=parse_dates(dates) if dates else None,
            bands=parse_order(bands) if bands else None,
            scale=scale,
            check_bands=band_check,
            overwrite=overwrite,
            progress=progress,
        )
    for note in plan.notes:
        console.print(f"note: {note}")
    first, last = plan.layers[0].date, plan.layers[-1].date
    h, w = plan.grid.shape
    console.print(
        f"wrote [bold]{out}[/]: {h} × {w} px, {len(plan.layers)} Sentinel-2 dates "
        f"({min(first, last)} … {max(first, last)}, {plan.period.label}), no Sentinel-1"
    )
