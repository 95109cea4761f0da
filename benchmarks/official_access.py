"""The official client's side of ``bench_access.py``; runs in the geotessera 0.11 environment
(Python ≥ 3.12), times its own reads and saves what it read for the equality check.

    python official_access.py STORE REQUEST.json OUT.npz
"""

import json
import sys
from pathlib import Path

import numpy as np
from geotessera.store import GeoTesseraZarr
from timing import best


def main(store, request, out):
    req = json.loads(Path(request).read_text())
    year, rounds = req["year"], req["rounds"]
    coords = [tuple(p) for p in req["points"]]
    # A fresh client per round: no dataset cache carried from one round to the next.
    pts, t_pts = best(lambda: GeoTesseraZarr(store).sample_points(coords, year, progress=False, search_px=0), rounds)
    (reg, transform, crs), t_reg = best(lambda: GeoTesseraZarr(store).read_region(tuple(req["bbox"]), year), rounds)
    np.savez(out, points=pts, region=reg, transform=np.array(list(transform)[:6]))
    print(json.dumps({"points_s": t_pts, "region_s": t_reg, "crs": crs}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
