"""Reading embeddings: our reader vs the official client (geotessera 0.11's ``GeoTesseraZarr``) on
the same store, in one run; and what points cost over HTTP.

    python benchmarks/bench_access.py --size 2048 --points 100000 --shard 256

Builds a store of random 128-d int8 embeddings over ``size × size`` px (10 m) in UTM 31 near
Cambridge with our writer, then, each the best of ``--rounds`` (a fresh reader per round):
- ``--points`` random points: ``sample_points`` (ours) vs ``GeoTesseraZarr.sample_points``
  (``search_px=0``); ratio = theirs / ours (target ≥ 10), values compared bit for bit;
- a ``--region`` ² px region: ``read_region(bbox)`` vs ``GeoTesseraZarr.read_region(bbox)``, API
  against API (ratio target ≥ 2); the official client's pixels are read again through our zone
  reader on the same window and compared bit for bit;
- over ``tessera serve`` on 127.0.0.1: bytes fetched for ``--http-points`` scattered points vs the
  compressed inner chunks (embeddings + scales) they touch (target ≤ 1.2).
The official client runs in its own Python ≥ 3.12 environment (``--official-python``; ``make
.venv-geotessera/.installed`` builds it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from timing import best

from tessera.access import open_store
from tessera.access.serve import make_server
from tessera.grid import Window, lonlat_to
from tessera.store import Provenance, StoreLayout, Zone, blocks, open_for_write

ZONE = Zone(31)
LON0, LAT0 = 0.10, 52.10
HERE = Path(__file__).resolve().parent


def build_store(root: Path, size: int, shard: int) -> Window:
    prov = Provenance({"checkpoint_sha256": "bench"}, {"seed": 0}, "bench")
    writer = open_for_write(root, prov, 128, StoreLayout(shard)).ensure(2024, ZONE, prov, 128)
    rows, cols = ZONE.grid().pixel_of(*lonlat_to(ZONE.epsg, np.array([LON0]), np.array([LAT0])))
    win = Window(int(rows[0]), int(cols[0]), size, size)
    rng = np.random.default_rng(0)
    for sh, piece in blocks(win, writer.layout):
        q = rng.integers(-126, 127, (piece.height, piece.width, 128), dtype=np.int8)
        q[..., 0] = 127  # as quantize makes it: each pixel's largest element is ±127
        s = rng.uniform(0.001, 0.01, (piece.height, piece.width)).astype(np.float32)
        writer.write_block(sh, piece, q, s, "bench")
    return win


def lonlat_box(win: Window, margin_m: float = 0.0) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds

    b = ZONE.grid().window(win).bounds
    return transform_bounds(
        ZONE.grid().crs, "EPSG:4326", b.left + margin_m, b.bottom + margin_m, b.right - margin_m, b.top - margin_m
    )


def touched_chunk_bytes(store: Path, rows: np.ndarray, cols: np.ndarray) -> int:
    """Compressed size of the distinct inner chunks (embeddings + scales) holding these pixels."""
    from tessera.access.store_reader import StoreReader
    from tessera.store.sources import LocalSource

    zr = StoreReader(LocalSource(store)).zone(ZONE)
    total = 0
    for array in (zr.arrays[128], zr.scales):
        ch = array.chunk
        for cy, cx in {(int(r) // ch[0], int(c) // ch[1]) for r, c in zip(rows, cols, strict=True)}:
            loc = array.locate(0, cy, cx)
            total += loc[2] if loc else 0
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--shard", type=int, default=256)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--region", type=int, default=1024)
    ap.add_argument("--http-points", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--official-python", default=str(HERE.parent / ".venv-geotessera/bin/python"))
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-access-"))
    store = work / "store.zarr"
    t = time.perf_counter()
    win = build_store(store, args.size, args.shard)
    print(f"store {args.size}² px, shard {args.shard} px, built in {time.perf_counter() - t:.0f} s under {work}")

    w, s, e, n = lonlat_box(win, margin_m=20)
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(w, e, args.points), rng.uniform(s, n, args.points)])
    reg_win = Window(win.row + 8, win.col + 8, args.region, args.region)
    bbox = lonlat_box(reg_win, margin_m=15)

    req = {"year": 2024, "rounds": args.rounds, "points": pts.tolist(), "bbox": list(bbox)}
    (work / "req.json").write_text(json.dumps(req))
    r = subprocess.run(
        [
            args.official_python,
            str(HERE / "official_access.py"),
            str(store),
            str(work / "req.json"),
            str(work / "official.npz"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode:
        raise SystemExit(f"the official client failed:\n{r.stderr[-2000:]}")
    theirs = json.loads(r.stdout.strip().splitlines()[-1])
    got = np.load(work / "official.npz")

    ours_pts, t_pts = best(lambda: open_store(store).sample_points(pts, 2024), args.rounds)
    # The same pixels the official client returned, read by ours (its window, our zone reader).
    tr = got["transform"]
    zt = ZONE.grid().transform
    same = Window(round((zt.f - tr[5]) / 10), round((tr[2] - zt.c) / 10), *got["region"].shape[:2])
    ours_reg, t_reg = best(lambda: open_store(store).zone(ZONE).read(same, 2024), args.rounds)
    _, t_region_api = best(lambda: open_store(store).read_region(bbox, 2024), args.rounds)

    server = make_server(store, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = open_store(f"http://127.0.0.1:{server.server_address[1]}/")
        hp = pts[rng.choice(len(pts), args.http_points, replace=False)]
        opened = remote.source.bytes_fetched  # root metadata and the time array
        remote.sample_points(hp, 2024)
        fetched = remote.source.bytes_fetched - opened
    finally:
        server.shutdown()
        server.server_close()
    rows, cols = ZONE.grid().pixel_of(*lonlat_to(ZONE.epsg, hp[:, 0], hp[:, 1]))
    chunks = touched_chunk_bytes(store, rows, cols)

    print(
        json.dumps(
            {
                "points": args.points,
                "ours_points_s": round(t_pts, 3),
                "official_points_s": round(theirs["points_s"], 3),
                "points_ratio": round(theirs["points_s"] / t_pts, 1),
                "points_bit_equal": bool(np.array_equal(ours_pts.values, got["points"], equal_nan=True)),
                "region_px": int(np.prod(got["region"].shape[:2])),
                "ours_read_region_s": round(t_region_api, 3),
                "official_read_region_s": round(theirs["region_s"], 3),
                "region_ratio": round(theirs["region_s"] / t_region_api, 1),
                "ours_zone_window_s": round(t_reg, 3),
                "region_bit_equal": bool(np.array_equal(ours_reg, got["region"], equal_nan=True)),
                "http_points": args.http_points,
                "http_bytes_fetched": fetched,
                "touched_chunk_bytes": chunks,
                "http_bytes_ratio": round(fetched / chunks, 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
