"""How much memory a whole-region command may use, and its refusal, up front, when a region would
need more: a crash after minutes of reading is the worst way to learn a bbox was too large.

Each command declares its peak as a multiple of the region's float32 array (``PEAK``, measured by
``benchmarks/bench_region_memory.py``); the limit is the memory this process may take now — the
machine's available memory, within its cgroup's limit and its address-space limit.
"""

from __future__ import annotations

import resource
from pathlib import Path

from tessera.errors import AccessError
from tessera.grid import Grid

#: Peak resident memory of each command over its region's float32 array (per year read, for
#: ``change``), measured with benchmarks/bench_region_memory.py at 1024² px and rounded up
#: (export 4.2×, int8 9.7×, pca 3.2×, similar 5.9×, change 4.7× a year). ``predict`` is not
#: measured there yet: the largest of the others' per-year figures stands for it.
PEAK = {
    "read": 1.0,
    "export": 4.5,
    "export-int8": 10.0,
    "pca": 3.5,
    "similar": 6.5,
    "change": 5.0,
    "predict": 6.5,
}
#: Of the memory found usable, what one command may plan to take (the rest: the interpreter,
#: libraries, other processes' growth).
SHARE = 0.8


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _mapped_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def usable_bytes() -> int:
    """Memory this process may still take: MemAvailable, within the cgroup's and RLIMIT_AS."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    cap, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if cap is not None and used is not None:
        limits.append(max(0, cap - used))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:  # address space: what is mapped already counts against it
        limits.append(max(0, soft - _mapped_bytes()))
    return min(limits) if limits else 1 << 62


def check_peak(grid: Grid, dim: int, command: str, years: int = 1) -> None:
    """Refuse a region whose ``command`` would need more memory than is usable, with the figures."""
    region = grid.height * grid.width * dim * 4 * years
    need = region * PEAK[command]
    usable = usable_bytes()
    if need > usable * SHARE:
        raise AccessError(
            f"{command} of a {grid.height:,} × {grid.width:,} px region of {dim} bands"
            + (f" over {years} years" if years > 1 else "")
            + f" needs about {need / 2**30:.1f} GiB at its peak, and {usable / 2**30:.1f} GiB is usable here; "
            + (
                "give a smaller --bbox, or export it in 0.1° tiles with --layout geotessera"
                if command.startswith("export")
                else "give a smaller --bbox"
            )
        )
