"""The explorer and the tile server at a working size: a 2048 × 2048 px store (4 M pixels of
random 128-d int8 embeddings, written by our store writer), served on 127.0.0.1 and called over
HTTP as a browser or QGIS calls.

    python benchmarks/bench_explore.py --size 2048

Prints, each measured in this run:
- tiles at the native zoom, per layer (PCA, coverage, similarity, classes, confidence): p50 and
  p95 cold (first render) and p50 cached (targets ≤ 50 ms, ≤ 200 ms, ≤ 10 ms);
- 20 concurrent clients making 2 000 tile requests over every layer and three zooms: errors
  (target 0) and latency;
- click → similarity layer over the whole area (POST /api/query; target ≤ 500 ms);
- 500 point labels → a logistic head fitted, evaluated held out by label, applied to the whole
  area, and the tiles of a 1280 × 800 px view fetched by six connections (target ≤ 2 s);
- the same tile and click figures with two other processes keeping both cores busy (``--busy``);
- ``tessera tiles``' store-backed tiles (each read from the store alone): p50 cold and cached.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from bench_access import build_store, lonlat_box
from timing import burn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.explore.live: the server on a thread


def fetch(url: str, body: dict | None = None, token: str = "") -> tuple[int, float]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"X-Tessera-Token": token}, method="POST" if data else "GET")
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.perf_counter() - t


def ms(values: list[float], q: float) -> float:
    return 1000 * float(np.percentile(values, q))


def tile_urls(base: str, layer: str, tiles: list[tuple[int, int, int]]) -> list[str]:
    return [f"{base}/tiles/{layer}/{z}/{x}/{y}.png" for z, x, y in tiles]


def layer_figures(live, ws, tiles, layers) -> dict:
    out = {}
    for layer in layers:
        ws.cache.drop(layer)
        cold = [fetch(u)[1] for u in tile_urls(live.base, layer, tiles)]
        warm = [fetch(u)[1] for u in tile_urls(live.base, layer, tiles)]
        out[layer] = (ms(cold, 50), ms(cold, 95), ms(warm, 50))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--shard", type=int, default=256)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--labels", type=int, default=500)
    ap.add_argument("--busy", type=int, default=2, help="processes keeping cores busy for the busy figures")
    args = ap.parse_args()

    from tessera.cpus import calm_openmp

    calm_openmp()  # as the CLI does before anything sizes a thread pool
    from tessera.explore.app import Guard
    from tessera.explore.routes import explorer_app, tiles_app
    from tessera.explore.session import open_workspace
    from tessera.explore.tiles import quiet_warp_warnings, tiles_over
    from tessera.explore.tileserver import tile_service
    from tests.explore.live import Live

    quiet_warp_warnings()  # as the server does
    work = Path(tempfile.mkdtemp(prefix="bench-explore-"))
    t = time.perf_counter()
    win = build_store(work / "store", args.size, args.shard)
    print(
        f"store: {args.size} × {args.size} px ({args.size**2 / 1e6:.1f} M pixels) "
        f"written in {time.perf_counter() - t:.0f} s"
    )
    t = time.perf_counter()
    ws = open_workspace(str(work / "store"), work / "project")
    print(f"explorer opened (area read, PCA, coverage) in {time.perf_counter() - t:.1f} s")
    guard = Guard("127.0.0.1", 0)
    live = Live(lambda port: explorer_app(ws, guard))
    guard.hosts = None  # the Live helper's port is chosen after the guard: host check off here

    z = ws.zooms.native
    all_tiles = tiles_over(ws.area.bounds, z)
    rng = np.random.default_rng(0)
    inner = [all_tiles[i] for i in rng.choice(len(all_tiles), min(60, len(all_tiles)), replace=False)]
    lon, lat = [(a + b) / 2 for a, b in zip(ws.area.bounds[:2], ws.area.bounds[2:], strict=True)]

    t_click = [
        fetch(f"{live.base}/api/query", {"geometry": {"type": "Point", "coordinates": [lon, lat]}}, guard.token)[1]
        for _ in range(3)
    ]
    print(
        f"click → similarity over {ws.area.valid.sum() / 1e6:.1f} M px: "
        f"{1000 * min(t_click):.0f} ms best of 3 (target ≤ 500)"
    )

    classes = [fetch(f"{live.base}/api/classes", {"name": n}, guard.token) for n in ("a", "b", "c")]
    assert all(s == 200 for s, _ in classes)
    rows, cols = rng.integers(0, args.size, args.labels), rng.integers(0, args.size, args.labels)
    from rasterio.warp import transform

    g = ws.area.grid
    xs, ys = g.transform.c + (cols + 0.5) * g.transform.a, g.transform.f + (rows + 0.5) * g.transform.e
    lons, lats = transform(g.crs, "EPSG:4326", list(xs), list(ys))
    pick = rng.integers(0, 3, args.labels)
    names = {c["id"]: c["name"] for c in ws.classes}
    ws.project.labels = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [a, b]},
            "properties": {"class": names[int(k)]},
        }
        for a, b, k in zip(lons, lats, pick, strict=True)
    ]
    t = time.perf_counter()
    ws.warming.join()  # scikit-learn and skops imported on a thread while a user would be drawing
    print(f"(the first training's imports: {time.perf_counter() - t:.1f} s more after opening, on a thread)")
    mid = all_tiles[len(all_tiles) // 2]
    view = [(z, x, y) for z, x, y in all_tiles if abs(x - mid[1]) <= 3 and abs(y - mid[2]) <= 2]  # ≥ 1280 × 800 px
    t = time.perf_counter()
    status, _ = fetch(f"{live.base}/api/train", {"head": "logistic"}, guard.token)
    fitted = time.perf_counter() - t
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda u: fetch(u)[0], tile_urls(live.base, "classes", view)))
    total = time.perf_counter() - t
    assert status == 200 and all(s == 200 for s in statuses)
    print(
        f"{args.labels} labels → logistic fitted, held out, applied to {args.size**2 / 1e6:.1f} M px: {fitted:.2f} s; "
        f"+ {len(view)} view tiles: {total:.2f} s (target ≤ 2)"
    )

    layers = ["pca", "coverage", "similar", "classes", "confidence"]
    print(
        f"tiles at native zoom {z} ({len(inner)} per layer), ms: "
        "p50 cold / p95 cold / p50 cached (targets 50 / 200 / 10)"
    )
    for layer, (p50, p95, cached) in layer_figures(live, ws, inner, layers).items():
        print(f"  {layer:<11} {p50:6.1f} / {p95:6.1f} / {cached:5.1f}")

    mixed = []
    for zoom in (z - 1, z, z + 1):
        mixed += [u for layer in layers for u in tile_urls(live.base, layer, tiles_over(ws.area.bounds, zoom))]
    urls = [mixed[i] for i in rng.integers(0, len(mixed), args.requests)]
    ws.cache.drop("pca")
    t = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        results = list(pool.map(fetch, urls))
    wall = time.perf_counter() - t
    errors = sum(s != 200 for s, _ in results)
    lat_ = [d for _, d in results]
    print(
        f"{args.clients} clients, {args.requests} requests over 3 zooms and {len(layers)} layers: {errors} errors "
        f"(target 0), {args.requests / wall:.0f} tiles/s, p50 {ms(lat_, 50):.0f} ms, p95 {ms(lat_, 95):.0f} ms"
    )

    if args.busy:
        procs = burn(args.busy)
        time.sleep(1)
        try:
            busy = layer_figures(live, ws, inner[:30], ["pca", "similar"])
            t_busy = [
                fetch(
                    f"{live.base}/api/query", {"geometry": {"type": "Point", "coordinates": [lon, lat]}}, guard.token
                )[1]
                for _ in range(3)
            ]
        finally:
            for p in procs:
                p.terminate()
        print(
            f"with {args.busy} busy processes: click → similarity {1000 * min(t_busy):.0f} ms; "
            "tiles p50 cold / p95 cold / cached:"
        )
        for layer, (p50, p95, cached) in busy.items():
            print(f"  {layer:<11} {p50:6.1f} / {p95:6.1f} / {cached:5.1f}")
    live.stop()

    from tessera.access import open_store

    service = tile_service(open_store(work / "store"), "pca", 2024, lonlat_box(win))
    tguard = Guard("127.0.0.1", 0)
    tguard.hosts = None
    tiles_live = Live(lambda port: tiles_app(service, tguard))
    urls = [f"{tiles_live.base}/{z}/{x}/{y}.png" for z, x, y in inner[:30]]
    cold = [fetch(u)[1] for u in urls]
    warm = [fetch(u)[1] for u in urls]
    print(
        f"tessera tiles (pca, each tile read from the store): p50 cold {ms(cold, 50):.0f} ms, "
        f"p95 {ms(cold, 95):.0f} ms, cached {ms(warm, 50):.1f} ms"
    )
    tiles_live.stop()


if __name__ == "__main__":
    main()
