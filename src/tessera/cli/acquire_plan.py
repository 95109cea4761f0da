"""``tessera acquire --dry-run``: the dates and items an acquisition would read, as a table."""

from __future__ import annotations

from rich.table import Table

from tessera.acquire.run import AcquireConfig
from tessera.cli.app import console
from tessera.period import Period


def print_plan(box: tuple[float, float, float, float], period: Period, cfg: AcquireConfig) -> None:
    from tessera.acquire.plan import plan_acquire

    with console.status(f"searching {cfg.catalog} …"):
        plan = plan_acquire(box, period, cfg)
    table = Table(title=f"would read, {period.describe()}, from {plan.location}")
    for col in ("sensor", "date", "DOY", "items", "cloud %"):
        table.add_column(col)
    for d in plan.s2:
        cloud = f"{d.cloud:.0f}" if d.cloud is not None else "–"
        table.add_row("Sentinel-2 L2A", str(d.day), str(d.doy), ", ".join(d.items), cloud)
    for orbit, dates in plan.s1.items():
        for d in dates:
            table.add_row(f"Sentinel-1 {orbit}", str(d.day), str(d.doy), ", ".join(d.items), "")
    console.print(table)
    s1 = " + ".join(f"{len(v)} {k}" for k, v in plan.s1.items()) or "no"
    console.print(
        f"{len(plan.s2)} Sentinel-2 dates (dates under --min-valid {cfg.min_valid:.0%} clear are dropped when read), "
        f"{s1} Sentinel-1 dates; nothing was read or written"
    )
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}")
