"""Peak memory of each whole-region command, as a multiple of the region's float32 array.

The commands that read a region at once (``export``, ``pca``, ``similar --bbox``, ``change``,
``heads predict``) refuse up front a region whose estimated peak passes the memory this process
may use (``tessera.access.budget``); the estimate is the region's float32 size times the peak
factor each command declares. This measures the real peaks, so the factors can be checked:

    python benchmarks/bench_region_memory.py --size 1024

prints, per command, the peak RSS over a baseline run on a tiny region, divided by the region's
float32 bytes (per year read, for ``change``), beside the factor the command declares. A
measured ratio above its factor means the refusal comes too late.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_access import ZONE, build_store, lonlat_box  # noqa: E402

from tessera.access.budget import PEAK  # noqa: E402
from tessera.store import Provenance, blocks, open_for_write  # noqa: E402

WRAP = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "sys.stderr.write(r.stderr[-2000:] if r.returncode else ''); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)"
)


def peak_bytes(*argv: str) -> int:
    """Peak RSS of ``tessera ARGV`` in a process of its own."""
    out = subprocess.run(
        [sys.executable, "-c", WRAP, sys.executable, "-m", "tessera", *argv], capture_output=True, text=True, check=True
    )
    if out.stderr:
        raise SystemExit(f"tessera {' '.join(argv)} failed:\n{out.stderr}")
    return int(out.stdout.strip().splitlines()[-1])


def second_year(root: Path, size_win) -> None:
    """2023 with the same values, so ``change`` has two years to read."""
    prov = Provenance({"checkpoint_sha256": "bench"}, {"seed": 0}, "bench")
    writer = open_for_write(root, prov, 128).ensure(2023, ZONE, prov, 128)
    rng = np.random.default_rng(1)
    for sh, piece in blocks(size_win, writer.layout):
        q = rng.integers(-126, 127, (piece.height, piece.width, 128), dtype=np.int8)
        q[..., 0] = 127
        s = rng.uniform(0.001, 0.01, (piece.height, piece.width)).astype(np.float32)
        writer.write_block(sh, piece, q, s, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024, help="region side in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store = work / "store"
        win = build_store(store, args.size, 256)
        second_year(store, win)
        box = ",".join(f"{v:.6f}" for v in lonlat_box(win, margin_m=5))
        tiny = ",".join(f"{v:.6f}" for v in lonlat_box(type(win)(win.row, win.col, 40, 40), margin_m=5))
        w, south, e, n = (float(v) for v in tiny.split(","))
        point = f"{(w + e) / 2:.6f},{(south + n) / 2:.6f}"  # inside both regions
        region_bytes = (args.size - 1) ** 2 * 128 * 4
        commands = {
            "export": lambda b: ("export", str(store), str(work / "x.tif"), "--bbox", b, "--year", "2024"),
            "export --int8": lambda b: (
                "export",
                str(store),
                str(work / "x.tif"),
                "--bbox",
                b,
                "--year",
                "2024",
                "--int8",
            ),
            "pca": lambda b: ("pca", str(store), "--bbox", b, "--year", "2024", "-o", str(work / "p.png")),
            "similar": lambda b: (
                "similar",
                str(store),
                "--point",
                point,
                "--bbox",
                b,
                "--year",
                "2024",
                "-o",
                str(work / "s.tif"),
            ),
            "change": lambda b: (
                "change",
                str(store),
                "--from",
                "2023",
                "--to",
                "2024",
                "--bbox",
                b,
                "-o",
                str(work / "c.tif"),
            ),
        }
        rows = []
        for name, argv in commands.items():
            base = peak_bytes(*argv(tiny))
            peak = peak_bytes(*argv(box))
            rows.append(
                {
                    "command": name,
                    # change reads two years: its figure is per year read, as it declares it
                    "measured": round((peak - base) / region_bytes / (2 if name == "change" else 1), 2),
                    "declared": PEAK[name.replace(" --", "-")],
                }
            )
        print(json.dumps({"region_gib": round(region_bytes / 2**30, 3), "peaks": rows}, indent=1))
        for r in rows:
            verdict = "ok" if r["measured"] <= r["declared"] else "TOO LOW"
            print(
                f"{r['command']:>14}: peak {r['measured']:.2f}× the region, declared {r['declared']:.1f}× — {verdict}"
            )


if __name__ == "__main__":
    main()
