"""``tessera simulate``: write a synthetic scene (cube + ground-truth rasters)."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import app, console, progress_bar
from tessera.cli.options import check_writable


@app.command("simulate")
def simulate_command(
    out: Path = typer.Argument(..., help="Output directory for the scene."),
    size: int = typer.Option(128, help="Scene height in pixels (10 m each)."),
    width: int = typer.Option(None, help="Scene width in pixels (default: --size)."),
    year: int = typer.Option(2024, help="Year to simulate (sets revisit and weather)."),
    seed: int = typer.Option(0, help="Landscape seed: same seed, same fields."),
    lon: float = typer.Option(0.12, help="Scene centre longitude (sets the UTM zone)."),
    lat: float = typer.Option(52.2, help="Scene centre latitude."),
    field_px: float = typer.Option(22.0, help="Typical field size in pixels."),
    change_fraction: float = typer.Option(0.0, help="Share of fields that change crop this year."),
    varied: bool = typer.Option(
        False,
        help="Draw this scene's regime from --seed: crop calendar ±40 days, "
        "cloudiness, SAR noise, one or two S2 satellites (default: the classic scene).",
    ),
    family: str = typer.Option(
        None,
        help="Make scene --index of a named family instead (pretrain, dev, test: "
        "each scene with its own place, field size and regime); ignores the options above.",
    ),
    index: int = typer.Option(0, help="Which scene of --family."),
    overwrite: bool = typer.Option(False, help="Replace an existing scene at OUT."),
) -> None:
    """Simulate a year of Sentinel-1/2 over a synthetic landscape, with its ground truth."""
    check_writable(out)
    from tessera.simulate import SimulationConfig
    from tessera.simulate.make import make_scene

    config = SimulationConfig(
        height=size,
        width=width or size,
        year=year,
        seed=seed,
        lon=lon,
        lat=lat,
        field_px=field_px,
        change_fraction=change_fraction,
    )
    with progress_bar() as progress:
        scene = make_scene(
            out, config, varied=varied, family=family, index=index, overwrite=overwrite, progress=progress
        )
    config = scene.config
    c = scene.cube
    console.print(
        f"wrote [bold]{out}[/]: {config.height}×{config.width} px, {config.year}, "
        f"{len(c.s2_doy)} S2 dates ({c.s2_mask.mean():.0%} valid), "
        f"{len(c.s1_ascending.doy)} + {len(c.s1_descending.doy)} S1 asc + desc dates"
    )
    console.print(f"cube: {out / 'cube.zarr'}   labels: classes.tif, canopy_height.tif, fields.tif")
