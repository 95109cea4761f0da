"""The progress bar every long command draws: the library's ``progress(stage, done, total)``
callback, drawn by Rich on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich import progress as bars
from rich.console import Console

from tessera.progress import Progress as ProgressCallback


@contextlib.contextmanager
def progress_bar() -> Iterator[ProgressCallback]:
    """A Rich progress bar exposed as a library ``progress(stage, done, total)`` callback."""
    columns = (
        bars.TextColumn("{task.description:<22}"),
        bars.BarColumn(),
        bars.MofNCompleteColumn(),
        bars.TimeElapsedColumn(),
        bars.TextColumn("eta"),
        bars.TimeRemainingColumn(),
    )
    with bars.Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        tasks: dict[str, bars.TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update
