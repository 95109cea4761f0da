"""``tessera sample`` and ``tessera export``: embeddings out of a store, at points or as a region."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from tessera.cli.app import app, console
from tessera.cli.options import (
    DEPTH_OPT,
    PERIOD_HELP,
    QUALITY_OPT,
    STORE_ARG,
    check_writable,
    parse_bbox,
    period_option,
)
from tessera.errors import ConfigError


@app.command("sample")
def sample_command(
    store: str = STORE_ARG,
    points: Path = typer.Argument(..., help="Points: CSV with lon,lat columns, GeoJSON, or a vector file."),
    year: int = typer.Option(..., parser=period_option, help=PERIOD_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output table: .csv or .parquet."),
    depth: int = DEPTH_OPT,
    quality: bool = QUALITY_OPT,
) -> None:
    """Embeddings at points → the points table with status, e0 … e127 appended (NaN where no
    vector); every input column is kept, so results join back to their ids."""
    from tessera.access import open_store, status_counts
    from tessera.access.point_table import check_table_path, read_point_table, sample_table, write_point_table
    from tessera.access.quality import radar_free

    check_table_path(out)
    check_writable(out)
    lon, lat, table = read_point_table(points)
    res = open_store(store).sample_points(np.column_stack([lon, lat]), year, depth=depth, quality=quality)
    write_point_table(out, sample_table(table, lon, lat, res.status, res.values, res.quality))
    counts = status_counts(res.status)
    said = ", ".join(f"{n} {s}" for s, n in counts.items())
    if res.quality is not None:
        said += f"; {radar_free(res.status, res.quality)} of the valid ones radar-free (no S1 observation)"
    console.print(f"wrote [bold]{out}[/]: {len(lon)} points — {said}")


@app.command("export")
def export_command(
    store: str = STORE_ARG,
    out: Path = typer.Argument(..., help="Output file (.tif or .npy), or a directory for --layout geotessera."),
    bbox: str = typer.Option(..., help="W,S,E,N in degrees (EPSG:4326)."),
    year: int = typer.Option(..., parser=period_option, help=PERIOD_HELP),
    fmt: str = typer.Option(None, "--format", help="tif (Cloud-Optimised GeoTIFF) or npy; default: from the suffix."),
    layout: str = typer.Option("zarr", help="zarr (one file for the bbox) or geotessera (0.1° tiles)."),
    crs: str = typer.Option(None, help="Output CRS, e.g. EPSG:4326 (default: the bbox's UTM zone)."),
    resolution: float = typer.Option(None, help="Pixel size in CRS units (default 10 m / ~0.0000898°)."),
    int8: bool = typer.Option(False, help="GeoTIFF as int8 + a _scales.tif companion (4× smaller)."),
    depth: int = DEPTH_OPT,
    quality: bool = QUALITY_OPT,
) -> None:
    """Export a region's embeddings, mosaicked across blocks and zones."""
    from tessera.access import open_store
    from tessera.access.export import (
        check_output_grid,
        export_format,
        export_geotiff,
        export_npy,
        export_quality,
        provenance_tags,
    )
    from tessera.access.region import check_region_size
    from tessera.atomic import atomic_outputs
    from tessera.grid import target_grid

    if layout == "geotessera":
        from tessera.access.geotessera import export_tiles

        if fmt not in (None, "npy"):
            raise ConfigError("--layout geotessera writes .npy tiles; drop --format or give --format npy")
        if depth is not None:
            raise ConfigError("--layout geotessera writes full-depth tiles, as published; drop --depth")
        records = export_tiles(open_store(store), parse_bbox(bbox), year, out)
        console.print(
            f"wrote [bold]{out}[/]: {len(records)} tiles of 0.1° with data, registry.parquet, landmasks.parquet"
        )
        return
    if layout != "zarr":
        raise ConfigError(f"--layout {layout!r} must be zarr or geotessera")
    fmt = export_format(out, fmt)
    check_output_grid(crs, resolution)
    check_writable(out)
    s = open_store(store)
    s.check_year(year)
    check_region_size(
        target_grid(parse_bbox(bbox), crs, resolution), s.embed_dim(year, depth), "export-int8" if int8 else "export"
    )
    region = s.read_region(parse_bbox(bbox), year, crs=crs, resolution=resolution, depth=depth, quality=quality)
    tags = provenance_tags(s, year)
    with atomic_outputs() as outputs:  # the data, its scales and its quality layers: together or not at all
        if fmt == "tif":
            export_geotiff(region, out, tags, int8=int8, outputs=outputs)
        else:
            export_npy(region, out, tags, outputs=outputs)
        extra = export_quality(region, out, fmt, tags, outputs) if quality else None
    if extra is not None:
        console.print(f"wrote [bold]{extra}[/]: the quality layers")
    valid = float((~np.isnan(region.data).any(-1)).mean())
    console.print(
        f"wrote [bold]{out}[/]: {region.grid.height} × {region.grid.width} px in {region.crs}, {valid:.1%} with data"
    )
