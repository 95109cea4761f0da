"""``tessera audit``: how far a store is from what a checkpoint computes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import app, console
from tessera.cli.options import STORE_ARG, check_writable


@app.command("audit")
def audit_command(
    store: str = STORE_ARG,
    cube: Path = typer.Option(..., help="A cube of an area and year the store holds."),
    checkpoint: str = typer.Option(..., "--checkpoint", "-c", help="The checkpoint the store claims to be made by."),
    png: Path = typer.Option(None, "--png", help="Also draw the per-pixel cosine (.png)."),
    seed: int = typer.Option(None, help="Sampling seed (default: the store's own, where it records one; else 0)."),
) -> None:
    """Re-embed CUBE with the checkpoint and compare with the store at the same pixels: int8
    agreement, cosine, nearest-neighbour overlap, k-means agreement."""
    if png is not None:
        check_writable(png)
    from tessera.access import open_store
    from tessera.audit import audit, write_audit_png

    with console.status("re-embedding the cube with the checkpoint …"):
        report = audit(open_store(store), cube, checkpoint, seed)
    table = Table(title=f"audit of {store} against {checkpoint}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in (
        ("pixels compared", f"{report.pixels:,}"),
        ("within one int8 step", f"{report.within_one_step:.2%}"),
        ("cosine, mean", f"{report.cosine_mean:.5f}"),
        ("cosine, worst", f"{report.cosine_worst:.5f}"),
        ("top-10 neighbour overlap", f"{report.neighbour_overlap:.3f}"),
        ("k-means agreement (ARI)", f"{report.kmeans_ari:.3f}"),
    ):
        table.add_row(name, value)
    console.print(table)
    console.print(("[green]" if report.agrees else "[red]") + report.verdict())
    if png is not None:
        console.print(f"wrote [bold]{write_audit_png(report, png)}[/]")
