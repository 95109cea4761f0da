"""``tessera quickstart``."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import app, console, progress_bar
from tessera.cli.options import check_writable


@app.command("quickstart")
def quickstart_command(
    out: Path = typer.Option(Path("quickstart-out"), "--out", "-o", help="Directory for everything it makes."),
    minutes: float = typer.Option(None, help="Stop adapting after this many minutes (default: all 200 steps)."),
) -> None:
    """Simulate a region, adapt the shipped model to it without labels, embed, fit heads at several
    label fractions under field hold-out against raw-band baselines, report."""
    check_writable(out)
    from tessera.quickstart import QuickstartConfig, run

    with progress_bar() as progress:
        report = run(out, QuickstartConfig(minutes=minutes), progress=progress)
    console.print(f"report: [bold]{report}[/]")
