"""Run by the Python ≥ 3.12 reader environment (Icechunk 2): reads a store with tessera and saves
what it read, for the tests to compare with the official client's reads.

    python our_client.py STORE REQUEST.json OUT.npz

With ``"stores"`` in the request, also the points of each of those stores (``points_{i}_{year}``),
read one after another in this one process.
"""

import json
import sys
from pathlib import Path

import numpy as np
from affine import Affine

from tessera.access import open_store
from tessera.grid import Window
from tessera.store import Zone


def main(store: str, request: str, out: str) -> None:
    req = json.loads(Path(request).read_text())
    ours = open_store(store)
    res = {"years": np.array(ours.years)}
    for year in req["years"]:
        got = ours.sample_points(req["points"], year)
        res[f"points_{year}"], res[f"status_{year}"] = got.values, got.status
    for i, w in enumerate(req.get("windows", [])):
        reader = ours.zone(Zone.from_epsg(int(w["crs"].split(":")[1])))
        t, z = Affine(*w["transform"]), reader.grid.transform
        win = Window(round((z.f - t.f) / 10), round((t.c - z.c) / 10), *w["shape"])
        res[f"window_{i}"] = reader.read(win, w["year"])
    for i, other in enumerate(req.get("stores", [])):
        for year in req["years"]:
            res[f"points_{i}_{year}"] = open_store(other).sample_points(req["points"], year).values
    for i, (bbox, year) in enumerate(req.get("regions", [])):
        region = ours.read_region(tuple(bbox), year)
        res[f"region_{i}"], res[f"region_t_{i}"] = region.data, np.array(list(region.transform)[:6])
    np.savez(out, **res)


if __name__ == "__main__":
    main(*sys.argv[1:4])
