"""Filling a small file system (the ``small_disk`` fixture) to a chosen number of free bytes."""

import shutil
from pathlib import Path


def fill(disk: Path, leave: int) -> Path:
    """Take all but ``leave`` bytes of the disk; unlink the returned file to free them."""
    filler = disk / "filler"
    with filler.open("ab") as fh:
        fh.write(b"\0" * max(0, shutil.disk_usage(disk).free - leave))
    return filler
