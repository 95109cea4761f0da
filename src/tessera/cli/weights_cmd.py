"""``tessera weights``: the published checkpoints, and a checked local copy of one."""

from __future__ import annotations

import typer
from rich.table import Table

from tessera.cli.app import app, console, progress_bar


@app.command("weights")
def weights_command(
    name: str = typer.Argument(None, help="A published checkpoint to download (see --list)."),
    sha256: str = typer.Option(None, "--sha256", help="Its SHA-256, for a name that has none recorded."),
    list_: bool = typer.Option(False, "--list", help="List the published checkpoints and what is cached."),
) -> None:
    """Download a published TESSERA checkpoint into the cache, checked against its SHA-256; its name
    then works wherever a checkpoint is taken (embed -c v2-medium)."""
    from tessera.pretrained import SHIPPED
    from tessera.pretrained.published import PUBLISHED, cache_dir, cached, fetch

    if list_ or name is None:
        table = Table(title=f"published checkpoints (cache: {cache_dir()})")
        for col in ("name", "MB", "what", "where", "cached"):
            table.add_column(col)
        for p in PUBLISHED.values():
            where = f"{p.repo} {p.file}"
            table.add_row(p.name, str(p.size_mb or "?"), p.about, where, "yes" if cached(p.name).is_file() else "")
        for shipped_name in SHIPPED:
            table.add_row(shipped_name, "0.8", "shipped with tessera (simulator-trained)", "the package", "yes")
        console.print(table)
        return
    with progress_bar() as progress:
        path = fetch(name, sha256, progress=progress)
    console.print(f"[bold]{name}[/] is at {path} (SHA-256 checked); use it with -c {name}")
