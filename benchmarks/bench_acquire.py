"""``tessera acquire`` on a generated static catalog: time per date and peak memory against the
number of dates held in memory (``--date-chunk``), in one run.

    python benchmarks/bench_acquire.py --size 1024 --dates 24

Writes a catalog of ``--dates`` Sentinel-2 dates (one granule each: ten bands at their native
10/20 m, an SCL with random clouds) and two S1 dates over a ``--size``² px ROI, then runs the real
CLI in fresh processes with ``--date-chunk 1``, the default (the cube's 16-date chunk, capped by
memory) and ``--date-chunk DATES``, and prints seconds,
dates per second and peak resident memory of each. The difference in peak memory is what holding
all dates' bands would cost; with chunk 1 the peak should stay flat as dates grow.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pystac
import rasterio
from affine import Affine
from rasterio.warp import transform_bounds

from tessera import sensors
from tessera.access.region import target_grid
from tessera.acquire.run import date_chunk_for

PEAK_WRAPPER = """
import atexit, resource, runpy, sys
atexit.register(lambda: print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True))
sys.argv = sys.argv[1:]
runpy.run_module("tessera", run_name="__main__")
"""


def cog(path: Path, data: np.ndarray, crs: str, t: Affine, nodata) -> dict:
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype.name,
        crs=crs,
        transform=t,
        nodata=nodata,
        compress="deflate",
    ) as f:
        f.write(data[None])
    return {
        "proj:shape": list(data.shape),
        "proj:transform": list(t)[:6],
        "raster:bands": [{"nodata": nodata, "data_type": data.dtype.name}],
    }


def build_catalog(root: Path, bbox, n_dates: int, seed: int = 0) -> Path:
    grid = target_grid(bbox)
    b = grid.bounds
    left, top = np.floor((b.left - 100) / 20) * 20, np.ceil((b.top + 100) / 20) * 20
    w20, h20 = int(np.ceil((b.right + 100 - left) / 20)), int(np.ceil((top - b.bottom + 100) / 20))
    rng = np.random.default_rng(seed)
    geom_box = transform_bounds(grid.crs, "EPSG:4326", left, top - 20 * h20, left + 20 * w20, top)
    w, s, e, n = geom_box
    geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    cat = pystac.Catalog("bench", "acquisition benchmark")
    start = datetime(2024, 1, 5, 10, 30, tzinfo=UTC)
    for i in range(n_dates + 2):
        s1 = i >= n_dates
        when = start + timedelta(days=(i % n_dates) * 14 + (3 if s1 else 0))
        iid = f"{'S1' if s1 else 'S2'}_{i:03d}"
        props = (
            {"sat:orbit_state": "ascending" if i % 2 else "descending"} if s1 else {"s2:processing_baseline": "05.10"}
        )
        item = pystac.Item(
            iid, geom, list(geom_box), when, props, collection="sentinel-1-rtc" if s1 else "sentinel-2-l2a"
        )
        (root / iid).mkdir(parents=True)
        specs = (
            [("vv", 10, np.float32, 0.05), ("vh", 10, np.float32, 0.01)]
            if s1
            else [(b_, sensors.S2_NATIVE_RES_M[b_], np.uint16, 1500 + 40 * k) for k, b_ in enumerate(sensors.S2_BANDS)]
            + [("SCL", 20, np.uint8, None)]
        )
        for key, res, dtype, val in specs:
            scale = 20 // res
            shape = (h20 * scale, w20 * scale)
            if val is None:  # SCL: vegetation with a random blob of cloud
                data = np.full(shape, 4, np.uint8)
                r, c = rng.integers(0, shape[0] // 2), rng.integers(0, shape[1] // 2)
                data[r : r + shape[0] // 3, c : c + shape[1] // 3] = 9
            else:
                data = np.full(shape, val, dtype) + (
                    rng.integers(0, 50, shape).astype(dtype) if dtype == np.uint16 else 0
                )
            extra = cog(
                root / iid / f"{key}.tif",
                data,
                grid.crs,
                Affine(res, 0, left, 0, -res, top),
                float("nan") if dtype == np.float32 else 0,
            )
            item.add_asset(
                key, pystac.Asset(str(root / iid / f"{key}.tif"), media_type=pystac.MediaType.COG, extra_fields=extra)
            )
        cat.add_item(item)
    cat.normalize_hrefs(str(root))
    cat.make_all_asset_hrefs_relative()
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def run(catalog: Path, bbox, out: Path, chunk: int | None) -> dict:
    cmd = [
        sys.executable,
        "-c",
        PEAK_WRAPPER,
        "tessera",
        "acquire",
        "--bbox",
        ",".join(map(str, bbox)),
        "--year",
        "2024",
        "--out",
        str(out),
        "--stac-url",
        str(catalog),
    ]
    if chunk:
        cmd += ["--date-chunk", str(chunk)]
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    return {
        "seconds": round(wall, 1),
        "peak_rss_mb": round(int(re.search(r"PEAK_RSS_KB (\d+)", res.stdout).group(1)) / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1024, help="ROI side in 10 m pixels")
    ap.add_argument("--dates", type=int, default=24)
    args = ap.parse_args()
    lat, lon = 52.0, -1.5
    half = args.size * 10 / 2 / 111_320
    bbox = (lon - half / np.cos(np.deg2rad(lat)), lat - half, lon + half / np.cos(np.deg2rad(lat)), lat + half)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        catalog = build_catalog(tmp / "catalog", bbox, args.dates)
        print(f"catalog: {args.dates} S2 + 2 S1 dates over {args.size}² px, written in {time.perf_counter() - t:.0f} s")
        rows = {}
        for chunk in (1, None, args.dates):
            r = run(catalog, bbox, tmp / f"cube{chunk}.zarr", chunk)
            r["dates_per_s"] = round(args.dates / r["seconds"], 2)
            name = f"date_chunk={chunk or f'auto ({date_chunk_for(target_grid(bbox))})'}"
            rows[name] = r
            print(f"{name:>22}: {json.dumps(r)}")
        grid = target_grid(bbox)
        per_date_mb = grid.height * grid.width * (10 * 2 + 1) / 2**20
        print(
            json.dumps(
                {
                    "size_px": [grid.height, grid.width],
                    "dates": args.dates,
                    "bands_of_one_date_mb": round(per_date_mb, 1),
                    "peak_ratio_all_dates_vs_one": round(
                        rows[f"date_chunk={args.dates}"]["peak_rss_mb"] / rows["date_chunk=1"]["peak_rss_mb"], 2
                    ),
                    **rows,
                }
            )
        )


if __name__ == "__main__":
    main()
