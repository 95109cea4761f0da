"""``tessera change``: where the embeddings of a region moved between two years, or when (the
year of each pixel's strongest break over many years, with a calibrated false-alarm rate)."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import app, console
from tessera.cli.options import STORE_ARG, check_writable, optional_region
from tessera.errors import ConfigError


@app.command("change")
def change_command(
    store: str = STORE_ARG,
    bbox: str = typer.Option(None, help="W,S,E,N in degrees (default: where the last year is written)."),
    cube: Path = typer.Option(None, help="…or a cube: its grid is the region."),
    out: Path = typer.Option(..., "--out", "-o", help="Map (.tif); .png and patches .csv beside it."),
    year_from: int = typer.Option(None, "--from", help="The earlier year (two-year distance)."),
    year_to: int = typer.Option(None, "--to", help="The later year (two-year distance)."),
    years: str = typer.Option(
        None, help="Date breaks over these years instead, e.g. 2017:2025 (at least 4: two either side)."
    ),
    false_alarm: float = typer.Option(0.01, "--false-alarm", help="With --years: share of unchanged pixels flagged."),
    threshold: float = typer.Option(None, help="Distance above which a pixel changed (default: median + k·MAD)."),
    k: float = typer.Option(4.0, help="MADs above the median for the default threshold."),
    min_pixels: int = typer.Option(4, "--min-pixels", help="Smallest patch listed, in pixels.", min=1),
    top_k: int = typer.Option(20, "--top-k", help="How many patches to list.", min=1),
) -> None:
    """Per-pixel cosine distance between two years (--from/--to), or the year, size and
    significance of each pixel's strongest break (--years), with the changed patches."""
    check_writable(out)
    from tessera.access import open_store

    for name, value, lowest in (("--k", k, 0.0), ("--threshold", threshold, 0.0), ("--false-alarm", false_alarm, 0.0)):
        if value is not None and not (math.isfinite(value) and value > lowest):
            raise ConfigError(f"{name} {value} must be a positive number")
    if not false_alarm < 1:
        raise ConfigError(f"--false-alarm {false_alarm} must be below 1 (a share of unchanged pixels, e.g. 0.01)")

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"--out {out} must be a .tif")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: the directory {out.parent} does not exist")
    if (years is None) == (year_from is None or year_to is None):
        raise ConfigError("give either --years A:B (dating) or both --from and --to (two-year distance)")
    region = optional_region(bbox, cube)
    reader = open_store(store)
    if region is None:
        from tessera.access.extent import working_grid
        from tessera.heads.dating import parse_years

        last = (parse_years(years) or (None,))[-1] if years is not None else year_to
        if last is None:
            raise ConfigError(f"--years {years}: that range holds no year; give it earliest first, e.g. 2017:2025")
        reader.check_year(last)
        region = working_grid(reader, last)
    if years is not None:
        _dating(reader, region, years, false_alarm, out, min_pixels, top_k)
        return
    from tessera.heads.change import change_map, write_change

    result = change_map(reader, region, year_from, year_to, threshold, k, min_pixels, top_k)
    write_change(out, result, year_from, year_to)
    table = Table(title=f"largest changes {year_from} → {year_to} (threshold {result.threshold:.4f})")
    for col in ("rank", "lon", "lat", "hectares", "mean distance"):
        table.add_column(col)
    for i, p in enumerate(result.patches, 1):
        table.add_row(str(i), f"{p.lon:.5f}", f"{p.lat:.5f}", f"{p.hectares:.2f}", f"{p.mean_distance:.3f}")
    console.print(table)
    console.print(f"wrote [bold]{out}[/] (+ .png, .csv)")


def _dating(reader, region, years: str, false_alarm: float, out: Path, min_pixels: int, top_k: int) -> None:
    from tessera.heads.dating import date_changes, parse_years, write_dating

    with console.status("dating breaks …"):
        result = date_changes(reader, region, parse_years(years), false_alarm)
        patches = write_dating(out, result, min_pixels)
    span = f"{result.years[0]}–{result.years[-1]}"
    table = Table(title=f"changed patches {span} (false-alarm rate {false_alarm:g})")
    for col in ("rank", "year", "lon", "lat", "hectares", "magnitude"):
        table.add_column(col)
    for i, p in enumerate(patches[:top_k], 1):
        table.add_row(
            str(i), str(p.year), f"{p.lon:.5f}", f"{p.lat:.5f}", f"{p.hectares:.2f}", f"{p.mean_magnitude:.3f}"
        )
    console.print(table)
    share = float(result.changed.mean())
    console.print(f"{share:.1%} of pixels changed; wrote [bold]{out}[/] (year, magnitude, p-value; + .png, .csv)")
