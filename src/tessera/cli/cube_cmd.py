"""``tessera cube info``, ``import-npy`` and ``import-tif``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import console, cube_app, progress_bar
from tessera.cli.options import check_writable, cube_path, period_option
from tessera.cube import import_npy, open_cube
from tessera.errors import ConfigError


@cube_app.command("info")
def info_command(
    path: Path = typer.Argument(..., help="A cube (.zarr) or a simulated scene directory."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Describe a d-pixel cube: grid, dates per sensor, valid fraction."""
    summary = open_cube(cube_path(path)).summary()
    if as_json:
        console.print_json(json.dumps(summary))
        return
    table = Table(title=f"d-pixel cube {summary['path']}", show_header=False)
    b = summary["bounds"]
    rows = [
        ("year", str(summary["year"])),
        ("CRS", summary["crs"]),
        ("size (H × W)", "{} × {} px".format(*summary["size"])),
        ("resolution", "{} × {} m".format(*summary["resolution_m"])),
        ("bounds", f"{b[0]:.1f}, {b[1]:.1f}, {b[2]:.1f}, {b[3]:.1f}"),
        ("lon/lat W,S,E,N", ",".join(f"{v:.5f}" for v in summary["lonlat_bounds"])),
    ]
    for key, label in (
        ("s2_dates", "S2 dates"),
        ("s1_ascending_dates", "S1 ascending"),
        ("s1_descending_dates", "S1 descending"),
    ):
        d = summary[key]
        span = f" (DOY {d['first_doy']}–{d['last_doy']})" if d["count"] else ""
        rows.append((label, f"{d['count']}{span}"))
    rows.append(("S2 valid fraction", f"{summary['s2_valid_fraction']:.1%}"))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


@cube_app.command("import-npy")
def import_npy_command(
    directory: Path = typer.Argument(..., help="The official stacker's output directory."),
    out: Path = typer.Argument(..., help="Cube to write (.zarr)."),
    year: int = typer.Option(
        ..., parser=period_option, help="Year of the observations, or a window 2025-06 (the .npy files do not say)."
    ),
    roi: Path = typer.Option(
        None,
        help="ROI GeoTIFF giving CRS and transform (default: DIRECTORY/roi.tiff, as the stacker writes, or roi.tif).",
    ),
    overwrite: bool = typer.Option(False, help="Replace an existing cube at OUT."),
) -> None:
    """Import bands.npy, masks.npy, doys.npy and sar_*.npy into a d-pixel cube."""
    check_writable(out)
    with progress_bar() as progress:
        import_npy(directory, out, roi=roi, year=year, overwrite=overwrite, progress=progress)
    console.print(f"wrote [bold]{out}[/]")


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
