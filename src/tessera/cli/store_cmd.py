"""``tessera info``, ``tessera sample`` and ``tessera export``: reading an embedding store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from tessera.cli.app import DEPTH_OPT, STORE_ARG, app, check_writable, console, parse_bbox
from tessera.errors import ConfigError


@app.command("info")
def info_command(
    store: str = typer.Argument(..., help="Embedding store: a path, file://, http(s):// or s3:// URL."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    coverage: Path = typer.Option(None, help="Also plot where the store has embeddings (.png)."),
) -> None:
    """Describe an embedding store: years, UTM zones, depths, model, and written blocks."""
    if coverage is not None:
        check_writable(coverage)
    from tessera.access import open_store
    from tessera.access.describe import describe

    s = open_store(store)
    if coverage is not None:
        from tessera.viz.geo import plot_coverage

        plot_coverage(s.footprints(), coverage, f"embedding coverage of {s.location}")
        console.print(f"wrote [bold]{coverage}[/]")
    d = describe(s)
    if as_json:
        console.print_json(json.dumps(d))
        return
    table = Table(title=f"embedding store {d['store']}")
    for col in ("zone", "year", "grid (px)", "blocks", "pixels", "no data"):
        table.add_column(col)
    for r in d["groups"]:
        table.add_row(r["zone"], str(r["year"]), r["grid"], *(f"{r[k]:,}" if isinstance(r[k], int) else "–"
                                                             for k in ("blocks", "pixels", "nodata")))  # fmt: skip
    console.print(table)
    console.print(f"model {d['model']} · depths {d['depths']} · shard {d['shard']} px")


@app.command("verify")
def verify_command(
    store: str = typer.Argument(..., help="A local embedding store directory."),
) -> None:
    """Check every shard against its fill record and every chunk's crc32c; name what is damaged."""
    from tessera.store.verify import verify_store

    report = verify_store(store)
    for line in report.problems:
        console.print(f"[red]damaged[/] {line}")
    console.print(f"{report.shards} shards, {report.chunks} chunks checked: "
                  + ("[green]no damage[/]" if report.ok else f"[red]{len(report.problems)} problems[/]"))  # fmt: skip
    if not report.ok:
        raise typer.Exit(1)


@app.command("sample")
def sample_command(
    store: str = STORE_ARG,
    points: Path = typer.Argument(..., help="Points: CSV with lon,lat columns, GeoJSON, or a vector file."),
    year: int = typer.Option(..., help="Year to sample."),
    out: Path = typer.Option(..., "--out", "-o", help="Output table: .csv or .parquet."),
    depth: int = DEPTH_OPT,
) -> None:
    """Embeddings at points → the points table with status, e0 … e127 appended (NaN where no
    vector); every input column is kept, so results join back to their ids."""
    from tessera.access import open_store
    from tessera.access.point_table import read_point_table, sample_table
    from tessera.atomic import atomic_file

    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"--out {out} must end in .csv or .parquet")
    check_writable(out)
    lon, lat, table = read_point_table(points)
    res = open_store(store).sample_points(np.column_stack([lon, lat]), year, depth=depth)
    result = sample_table(table, lon, lat, res.status, res.values)
    with atomic_file(out) as tmp:
        if suffix == ".parquet":
            try:
                result.to_parquet(tmp, index=False)
            except ImportError as exc:
                raise ConfigError("writing .parquet needs pyarrow (`pip install pyarrow`); or use .csv") from exc
        else:
            result.to_csv(tmp, index=False)  # floats written in full (shortest round-trip repr)
    counts = {k: int((res.status == k).sum()) for k in ("valid", "nodata", "outside")}
    console.print(f"wrote [bold]{out}[/]: {len(lon)} points — {counts['valid']} valid, "
                  f"{counts['nodata']} no data, {counts['outside']} outside coverage")  # fmt: skip


def _export_format(out: Path, fmt: str | None) -> str:
    """The format a file will hold: its suffix's, and an explicit --format must agree with it."""
    by_suffix = {".tif": "tif", ".tiff": "tif", ".npy": "npy"}.get(out.suffix.lower())
    if fmt is not None and fmt not in ("tif", "npy"):
        raise ConfigError(f"--format {fmt!r} must be tif or npy")
    if by_suffix is None:
        raise ConfigError(f"{out}: name the output .tif or .npy (or use --layout geotessera for a folder)")
    if fmt is not None and fmt != by_suffix:
        raise ConfigError(f"{out} ends in {out.suffix} but --format is {fmt}; make them agree")
    return by_suffix


def _check_crs_resolution(crs: str | None, resolution: float | None) -> None:
    if resolution is not None and not resolution > 0:
        raise ConfigError(f"--resolution {resolution} must be a positive pixel size in CRS units")
    if crs is not None:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(crs)
        except CRSError as exc:
            raise ConfigError(f"--crs {crs!r} is not a known CRS (e.g. EPSG:4326, EPSG:32631)") from exc


@app.command("export")
def export_command(
    store: str = STORE_ARG,
    out: Path = typer.Argument(..., help="Output file (.tif or .npy), or a directory for --layout geotessera."),
    bbox: str = typer.Option(..., help="W,S,E,N in degrees (EPSG:4326)."),
    year: int = typer.Option(..., help="Year to export."),
    fmt: str = typer.Option(None, "--format", help="tif (Cloud-Optimised GeoTIFF) or npy; default: from the suffix."),
    layout: str = typer.Option("zarr", help="zarr (one file for the bbox) or geotessera (0.1° tiles)."),
    crs: str = typer.Option(None, help="Output CRS, e.g. EPSG:4326 (default: the bbox's UTM zone)."),
    resolution: float = typer.Option(None, help="Pixel size in CRS units (default 10 m / ~0.0000898°)."),
    int8: bool = typer.Option(False, help="GeoTIFF as int8 + a _scales.tif companion (4× smaller)."),
    depth: int = DEPTH_OPT,
) -> None:
    """Export a region's embeddings, mosaicked across blocks and zones."""
    from tessera.access import open_store
    from tessera.access.export import export_geotiff, export_npy, provenance_tags

    if layout == "geotessera":
        from tessera.access.geotessera import export_tiles

        if fmt not in (None, "npy"):
            raise ConfigError("--layout geotessera writes .npy tiles; drop --format or give --format npy")
        if depth is not None:
            raise ConfigError("--layout geotessera writes full-depth tiles, as published; drop --depth")
        records = export_tiles(open_store(store), parse_bbox(bbox), year, out)
        console.print(f"wrote [bold]{out}[/]: {len(records)} tiles of 0.1° with data, registry.parquet, "
                      "landmasks.parquet")  # fmt: skip
        return
    if layout != "zarr":
        raise ConfigError(f"--layout {layout!r} must be zarr or geotessera")
    fmt = _export_format(out, fmt)
    _check_crs_resolution(crs, resolution)
    check_writable(out)
    s = open_store(store)
    region = s.read_region(parse_bbox(bbox), year, crs=crs, resolution=resolution, depth=depth)
    tags = provenance_tags(s, year)
    if fmt == "tif":
        export_geotiff(region, out, tags, int8=int8)
    else:
        export_npy(region, out, tags)
    valid = float((~np.isnan(region.data).any(-1)).mean())
    console.print(f"wrote [bold]{out}[/]: {region.grid.height} × {region.grid.width} px in {region.crs}, "
                  f"{valid:.1%} with data")  # fmt: skip


@app.command("serve")
def serve_command(
    store: Path = typer.Argument(..., help="Embedding store directory."),
    port: int = typer.Option(8000, help="TCP port (0 picks a free one).", min=0, max=65535),
    host: str = typer.Option("127.0.0.1", help="Address to bind; loopback by default (no authentication)."),
) -> None:
    """Serve a store read-only over HTTP, for open_store('http://HOST:PORT/')."""
    from tessera.access.serve import make_server

    server = make_server(store, host, port)
    console.print(f"serving [bold]{store}[/] at http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
