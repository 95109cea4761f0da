"""Run inside a Python ≥ 3.12 environment holding geotessera 0.11 (never imported by our tests):
reads a store with the official client and saves what it read.

    python official_client.py STORE REQUEST.json OUT.npz
"""

import json
import sys
from pathlib import Path

import numpy as np
from geotessera.store import GeoTesseraZarr


def open_location(store: str):
    """A path as it is; a plain-http URL (``tessera serve``) as an obstore HTTP store allowed to use
    http, which geotessera's URL route refuses (obstore accepts only https by default)."""
    if not store.startswith("http://"):
        return store
    from obstore.store import HTTPStore
    from zarr.storage import ObjectStore

    return ObjectStore(HTTPStore.from_url(store, client_options={"allow_http": True}), read_only=True)


def main(store: str, request: str, out: str) -> None:
    req = json.loads(Path(request).read_text())
    g = GeoTesseraZarr(open_location(store))
    res = {"years": np.array(g.years)}
    res["depths"] = np.array(sorted(g.depths), dtype=int)
    for year in req["years"]:
        res[f"points_{year}"] = g.sample_points([tuple(p) for p in req["points"]], year, progress=False, search_px=0)
        for d in req.get("depths", []):
            res[f"points_{year}_d{d}"] = g.sample_points(
                [tuple(p) for p in req["points"]], year, progress=False, search_px=0, depth=d
            )
            data, t, _ = g.read_region(tuple(req["bboxes"][0]), year, depth=d)
            res[f"region_{year}_d{d}"], res[f"region_t_{year}_d{d}"] = data, np.array(list(t)[:6])
        for i, bbox in enumerate(req["bboxes"]):
            data, t, crs = g.read_region(tuple(bbox), year)
            res[f"region_{year}_{i}"], res[f"region_t_{year}_{i}"] = data, np.array(list(t)[:6])
            res[f"region_crs_{year}_{i}"] = np.array(crs)
        for i, (lon, lat) in enumerate(req["patches"]):
            data, t, crs = g.read_patch(lon, lat, year, 24)
            res[f"patch_{year}_{i}"], res[f"patch_t_{year}_{i}"] = data, np.array(list(t)[:6])
            res[f"patch_crs_{year}_{i}"] = np.array(crs)
        for zone, box in req["zone_boxes"].items():
            ds = g.open_zone(zone=int(zone))
            data, t = ds.tessera.read_region(tuple(box), year)
            res[f"zone_{zone}_{year}"], res[f"zone_t_{zone}_{year}"] = data, np.array(list(t)[:6])
    np.savez(out, **res)


if __name__ == "__main__":
    main(*sys.argv[1:4])
