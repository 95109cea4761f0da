"""``tessera info``, ``verify`` and ``serve``: describing, checking and serving an embedding store."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import app, console, err_console
from tessera.cli.options import check_writable
from tessera.errors import ConfigError


@app.command("info")
def info_command(
    store: str = typer.Argument(..., help="Embedding store: a path, file://, http(s):// or s3:// URL."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
    coverage: Path = typer.Option(None, help="Also plot where the store has embeddings (.png)."),
) -> None:
    """Describe an embedding store: years, UTM zones, depths, model, and written blocks."""
    if coverage is not None:
        if coverage.suffix.lower() != ".png":
            raise ConfigError(f"--coverage {coverage} must name a .png (the plot is a PNG picture)")
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
    for col in ("zone", "year", "complete", "grid (px)", "blocks", "pixels", "no data"):
        table.add_column(col)
    for r in d["groups"]:
        table.add_row(
            r["zone"],
            r.get("period", str(r["year"])),
            r.get("complete", "yes"),
            r["grid"],
            *(f"{r[k]:,}" if isinstance(r[k], int) else "–" for k in ("blocks", "pixels", "nodata")),
        )
    console.print(table)
    for r in d["groups"]:
        if r.get("lonlat"):
            box = ",".join(f"{v:.5f}" for v in r["lonlat"])
            console.print(f"{r['zone']} {r.get('period', r['year'])} written over W,S,E,N [bold]{box}[/] (a --bbox)")
    console.print(f"model {d['model']} · depths {d['depths']} · shard {d['shard']} px")
    if d.get("checkpoint_id") or d.get("quality_layers"):
        console.print(
            f"checkpoint {d.get('checkpoint_id')} · optical rule ≥ {d.get('optical_min_obs')} observations · "
            f"NaN scale = {d.get('nan_scale')} · quality layers: {', '.join(d.get('quality_layers') or []) or 'none'}"
        )


@app.command("verify")
def verify_command(
    store: str = typer.Argument(..., help="A local embedding store directory."),
    repair: bool = typer.Option(
        False, help="Remove damaged shards and their fill records, so an `embed` rerun rewrites them."
    ),
) -> None:
    """Check every shard against its fill record and every chunk's crc32c; name what is damaged."""
    from tessera.store.verify import verify_store

    report = verify_store(store, repair=repair)
    for line in report.problems:
        console.print(f"[red]damaged[/] {line}")
    console.print(
        f"{report.shards} shards, {report.chunks} chunks checked: "
        + ("[green]no damage[/]" if report.ok else f"[red]{len(report.problems)} problems[/]")
    )
    if repair and not report.ok:
        cubes = ", ".join(sorted(report.rerun)) or "the cubes that covered them"
        console.print(
            f"removed {len(report.damaged)} damaged shard(s) ({len(report.removed)} files); "
            f"rerun `tessera embed` on {cubes} into this store to rewrite them"
        )
        return
    if not report.ok:
        raise typer.Exit(1)


@app.command("serve")
def serve_command(
    store: Path = typer.Argument(..., help="Embedding store directory."),
    port: int = typer.Option(8000, help="TCP port (0 picks a free one).", min=0, max=65535),
    host: str = typer.Option("127.0.0.1", help="Address to bind; loopback by default (no authentication)."),
) -> None:
    """Serve a store read-only over HTTP, for open_store('http://HOST:PORT/')."""
    from tessera.access.serve import make_server

    server = make_server(store, host, port)
    if not ipaddress.ip_address(str(server.server_address[0])).is_loopback:
        err_console.print(
            f"[bold yellow]warning:[/] bound to {host}: anyone who can reach this machine can read the store "
            "(no authentication); use the default 127.0.0.1 unless that is meant"
        )
    console.print(f"serving [bold]{store}[/] at http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
