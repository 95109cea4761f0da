"""Our side of ``bench_access.py --layout global``: runs where tessera reads Icechunk 2 (Python
≥ 3.12, ``make .venv-geotessera/.tessera``), times its own reads and saves what it read for the equality check.

    python our_access.py STORE REQUEST.json OUT.npz
"""

import json
import sys
from pathlib import Path

import numpy as np
from timing import best

from tessera.access import open_store


def main(store: str, request: str, out: str) -> None:
    req = json.loads(Path(request).read_text())
    year, rounds = req["year"], req["rounds"]
    points = np.asarray(req["points"])
    # A fresh reader per round: nothing carried from one round to the next.
    got, t_pts = best(lambda: open_store(store).sample_points(points, year), rounds)
    region, t_reg = best(lambda: open_store(store).read_region(tuple(req["bbox"]), year), rounds)
    np.savez(out, points=got.values, region=region.data, transform=np.array(list(region.transform)[:6]))
    print(json.dumps({"points_s": t_pts, "region_s": t_reg, "crs": region.crs}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
