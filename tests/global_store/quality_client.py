"""Run by the Python ≥ 3.12 reader environment: quality layers at points of blocks 0 and 1 and over
a region across the equator, saved for the tests; prints ``tessera sample --quality``'s summary.

    python quality_client.py STORE OUT.npz
"""

import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[2]))

from tessera.access import open_store
from tests.global_store.truth import Truth


def main(store: str, out: str) -> None:
    truth = Truth(Path(store).parent)
    ours = open_store(store)
    res = {}
    rows, cols = np.arange(0, 77, 7), np.arange(0, 99, 9)
    for i in (0, 1):
        got = ours.sample_points(truth.lonlat(i, rows, cols), 2024, quality=True)
        for name, layer in got.quality.items():
            res[f"points_{i}_{name}"] = layer
    north = truth.lonlat(0, np.array([0]), np.array([0]))[0]
    south = truth.lonlat(1, np.array([87]), np.array([95]))[0]
    region = ours.read_region((north[0], south[1], south[0], north[1]), 2024, quality=True)
    for name, layer in region.quality.items():
        res[f"region_{name}"] = layer
    np.savez(out, **res)
    table = Path(out).with_suffix(".csv")
    np.savetxt(table, truth.lonlat(0, rows, cols), delimiter=",", header="lon,lat", comments="")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tessera",
            "sample",
            store,
            str(table),
            "--year",
            "2024",
            "--quality",
            "-o",
            str(table.with_name("s.csv")),
        ],
        capture_output=True,
        text=True,
    )
    print(done.stdout, done.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:3])
