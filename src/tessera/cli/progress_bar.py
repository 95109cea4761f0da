"""The progress every long command shows: the library's ``progress(stage, done, total)``
callback, drawn by Rich on stderr when it is a terminal, else written as plain lines (a log, a
pipe, a notebook cell, CI) so a run that takes minutes is never silent."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from rich import progress as bars
from rich.console import Console

from tessera.progress import Progress as ProgressCallback

LINE_EVERY_S = 10.0  # a running stage's plain line at most this often (a log stays readable)


@contextlib.contextmanager
def progress_bar() -> Iterator[ProgressCallback]:
    """A progress display exposed as a library ``progress(stage, done, total)`` callback."""
    err = Console(stderr=True)
    if not err.is_terminal:
        yield plain_lines(sys.stderr)
        return
    columns = (
        bars.TextColumn("{task.description:<22}"),
        bars.BarColumn(),
        bars.MofNCompleteColumn(),
        bars.TimeElapsedColumn(),
        bars.TextColumn("eta"),
        bars.TimeRemainingColumn(),
    )
    with bars.Progress(*columns, console=err, transient=False) as bar:
        tasks: dict[str, bars.TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def plain_lines(out: TextIO, clock: Callable[[], float] = time.monotonic) -> ProgressCallback:
    """``stage: done/total (pct) elapsed … eta …`` lines: at a stage announced with 0 done,
    every ``LINE_EVERY_S`` seconds while it runs, and once at its end (a quick stage: one line)."""
    started: dict[str, float] = {}
    shown: dict[str, float] = {}  # stage -> time of its last line
    ended: set[str] = set()

    def update(stage: str, done: int, total: int) -> None:
        now = clock()
        t0 = started.setdefault(stage, now)
        finished = total > 0 and done >= total
        starting = done == 0 and stage not in shown
        if stage in ended or (not finished and not starting and now - shown.get(stage, t0) < LINE_EVERY_S):
            return
        shown[stage] = now
        if finished:
            ended.add(stage)
        elapsed = now - t0
        line = f"{stage}: {done:,}/{total:,}" if total > 0 else f"{stage}: {done:,}"
        if total > 0:
            line += f" ({done / total:.0%}) elapsed {_duration(elapsed)}"
            if 0 < done < total:
                line += f" eta {_duration(elapsed * (total - done) / done)}"
        print(line, file=out, flush=True)

    return update


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def show_log(name: str, fmt: str = "%(message)s", datefmt: str | None = None) -> None:
    """A library logger's INFO lines (resuming, the limit reached, a server's requests) on stderr,
    once per process however often a command asks."""
    import logging

    log = logging.getLogger(name)
    if not any(getattr(h, "_tessera_cli", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(fmt, datefmt))
        handler._tessera_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.setLevel(logging.INFO)
