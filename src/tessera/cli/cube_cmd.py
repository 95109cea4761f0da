"""``tessera cube info`` and ``tessera cube import-npy``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import console, cube_app, progress_bar
from tessera.cli.options import check_writable, cube_path, period_option
from tessera.cube import import_npy, open_cube


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
