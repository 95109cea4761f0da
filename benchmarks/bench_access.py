"""Reading embeddings: our store vs raw Zarr vs the official geotessera client, same data, one run.

    python benchmarks/bench_access.py --size 1024 --points 100000

Builds a store of random 128-d int8 embeddings covering ``size × size`` px (10 m) in UTM 31N near
Cambridge, exports the same area in the geotessera layout, then times, each as the best of
``--rounds``:
- point sampling of ``--points`` random points: ``StoreReader.sample_points`` vs the official
  client's ``GeoTessera.sample_embeddings_at_points`` on the export (ratio = client / ours);
- a region read in the zone's CRS: ``read_region`` vs reading the same embeddings and scales
  chunks with ``zarr`` directly and dequantising (ratio = ours / zarr; target ≤ 1.5), and the
  client's ``fetch_mosaic_for_region`` (in its default EPSG:4326) for reference.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from tessera.access import open_store
from tessera.access.geotessera import export_tiles
from tessera.access.points import zone_pixels
from tessera.grid import Window
from tessera.quantize import dequantize
from tessera.store import Provenance, Zone, blocks, open_for_write

ZONE = Zone(31, True)
LON0, LAT0 = 0.10, 52.10


def build_store(root: Path, size: int) -> tuple[float, float, float, float]:
    store, _ = open_for_write(root)
    group = store.ensure_group(2024, ZONE, 128, Provenance({"checkpoint_sha256": "bench"}, {"seed": 0}, "bench", "bench"))
    rows, cols = zone_pixels(ZONE, np.array([LON0]), np.array([LAT0]))
    win = Window(int(rows[0]), int(cols[0]), size, size)
    rng = np.random.default_rng(0)
    for shard, piece in blocks(win, store.layout):
        q = rng.integers(-126, 127, (piece.height, piece.width, 128), dtype=np.int8)
        q[..., 0] = 127  # as quantize makes it: each pixel's largest element is ±127
        s = rng.uniform(0.001, 0.01, (piece.height, piece.width)).astype(np.float32)
        group.write_block(shard, piece, q, s, "bench")
    g = ZONE.grid().window(win)
    from rasterio.warp import transform_bounds

    b = g.bounds
    return transform_bounds(g.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--region", type=int, default=512, help="side of the region read, px")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-access-"))
    t = time.perf_counter()
    w, s, e, n = build_store(work / "store", args.size)
    store = open_store(work / "store")
    inner = (w + 1e-4, s + 1e-4, e - 1e-4, n - 1e-4)  # every tile touched holds data: all exported
    records = export_tiles(store, inner, 2024, work / "gt")
    print(f"store {args.size}² px and {len(records)} geotessera tiles built in {time.perf_counter() - t:.0f} s "
          f"under {work}")  # fmt: skip

    import geotessera

    client = geotessera.GeoTessera(embeddings_dir=work / "gt", registry_dir=work / "gt", cache_dir=work / "gtcache")
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(inner[0], inner[2], args.points), rng.uniform(inner[1], inner[3], args.points)])
    ours_pts = best(lambda: open_store(work / "store").sample_points(pts, 2024), args.rounds)
    theirs_pts = best(lambda: client.sample_embeddings_at_points([tuple(p) for p in pts], 2024,
                                                                 auto_download=False), args.rounds)  # fmt: skip
    a = open_store(work / "store").sample_points(pts[:1000], 2024).values
    b = client.sample_embeddings_at_points([tuple(p) for p in pts[:1000]], 2024, auto_download=False)
    agree = float(np.mean(np.all(np.isclose(a, b, equal_nan=True), axis=1)))

    # A region in the zone CRS: ours vs zarr on the very same chunks.
    r0, c0 = zone_pixels(ZONE, np.array([LON0]), np.array([LAT0]))
    win = Window(int(r0[0]) + 50, int(c0[0]) + 50, args.region, args.region)
    grid = ZONE.grid().window(win)
    from rasterio.warp import transform_bounds

    b_ = grid.bounds
    bbox = transform_bounds(grid.crs, "EPSG:4326", b_.left + 5, b_.bottom + 5, b_.right - 5, b_.top - 5)
    from tessera.access.region import read_grid

    ours_reg = best(lambda: read_grid(open_store(work / "store"), grid, 2024), args.rounds)
    group = store.zone(2024, ZONE).group

    def direct():
        rows, cols = win.slices
        return dequantize(group.embeddings[rows, cols, :], group.scales[rows, cols])

    zarr_reg = best(direct, args.rounds)
    assert np.array_equal(read_grid(store, grid, 2024).data, direct())
    theirs_reg = best(lambda: client.fetch_mosaic_for_region(bbox, 2024, auto_download=False), 1)
    ours_4326 = best(lambda: open_store(work / "store").read_region(bbox, 2024, crs="EPSG:4326"), 1)
    print(json.dumps({
        "points": args.points, "ours_points_s": round(ours_pts, 3), "client_points_s": round(theirs_pts, 3),
        "points_speedup": round(theirs_pts / ours_pts, 1), "points_agreement_first_1000": agree,
        "region_px": args.region ** 2, "ours_region_s": round(ours_reg, 3), "zarr_direct_region_s": round(zarr_reg, 3),
        "region_overhead_ratio": round(ours_reg / zarr_reg, 2),
        "ours_region_epsg4326_s": round(ours_4326, 2), "client_mosaic_epsg4326_s": round(theirs_reg, 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
