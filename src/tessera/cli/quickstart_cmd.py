"""``tessera quickstart``."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import app, check_writable, console, progress_bar


@app.command("quickstart")
def quickstart_command(
    out: Path = typer.Option(Path("quickstart-out"), "--out", "-o", help="Directory for everything it makes."),
    minutes: float = typer.Option(4.0, help="Pretraining budget in minutes."),
) -> None:
    """Simulate a region, pretrain briefly, embed, fit heads at several label fractions, report."""
    check_writable(out)
    from tessera.cli.quickstart import QuickstartConfig, run

    with progress_bar() as progress:
        report = run(out, QuickstartConfig(minutes=minutes), progress=progress)
    console.print(f"report: [bold]{report}[/]")
