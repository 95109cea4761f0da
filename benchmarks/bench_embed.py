"""End-to-end ``tessera embed`` against the model alone, in the same run; memory; bytes on disk.

    python benchmarks/bench_embed.py --preset small --sizes 256 512

``--contended`` runs one CPU-burning process per usable core beside everything, as on a busy
machine; the ratio then compares embed and the model under the same contention.

For each cube size: simulates a cube, runs ``tessera embed`` on it in a fresh process (the real
CLI, a local Dask cluster sized to this machine) and prints its pixels/s, its peak resident
memory and the store's bytes per pixel. Before and after, the model alone runs once over the same
blocks' tokens (prepared beforehand, untimed) with the same preset, batch size and thread count:
the ratio end-to-end / model-only (the mean of the two) says how much reading, sampling,
quantising, writing and scheduling cost. Weights are random
(speed does not depend on them).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from timing import burn

from tessera.cpus import available_cores
from tessera.cube import open_cube
from tessera.embed import plan
from tessera.embed.cluster import local_shape
from tessera.embed.worker import JobSpec, prepare_block, run_model
from tessera.grid import Window
from tessera.model import Embedder, InferenceConfig, Tessera, load, preset, save
from tessera.simulate import SimulationConfig, simulate, write_scene
from tessera.store import Provenance, open_for_write, place

PEAK_WRAPPER = """
import atexit, resource, runpy, sys
atexit.register(lambda: print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True))
sys.argv = sys.argv[1:]
runpy.run_module("tessera", run_name="__main__")
"""


def model_only(cube_path: Path, ckpt: Path, batch: int, scratch: Path) -> float:
    """px/s of the model alone on exactly ``tessera embed``'s work: the same blocks, the same
    tokens (prepared by the embed worker beforehand, untimed), the same batches; one pass, as the
    embed run makes one."""
    model = load(ckpt)
    cube = open_cube(cube_path)
    zone, window = place(cube.grid)
    prov = Provenance({"checkpoint_sha256": "bench"}, {"seed": 0}, "bench")
    subprocess.run(["rm", "-rf", str(scratch), f"{scratch}.build"], check=True)
    group = open_for_write(scratch, prov, model.cfg.embed_dim).ensure(cube.year, zone, prov, model.cfg.embed_dim)
    inference = InferenceConfig(batch_size=batch)
    spec = JobSpec(
        cube=str(cube_path),
        store=str(scratch),
        year=cube.year,
        zone=zone.name,
        checkpoint=str(ckpt),
        checkpoint_sha256="bench",
        model_config=model.cfg.to_dict(),
        source="bench",
        seed=0,
        draws=1,
        inference=inference,
        torch_threads=torch.get_num_threads(),
    )
    prepared = [prepare_block(spec, t) for t in plan(Window(0, 0, *cube.grid.shape), window, group.layout)]
    emb = Embedder(model, inference)
    emb(prepared[0].draws[0].s2[:batch], prepared[0].draws[0].s1[:batch])  # warm-up
    t = time.perf_counter()
    for p in prepared:
        run_model(emb, p)
    return cube.grid.height * cube.grid.width / (time.perf_counter() - t)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument(
        "--contended",
        action="store_true",
        help="run a CPU-burning process per usable core beside everything (a busy machine)",
    )
    args = ap.parse_args()
    burners = burn(available_cores()) if args.contended else []
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-embed-"))
    shape = local_shape(available_cores())
    torch.set_num_threads(shape.torch_threads)
    torch.manual_seed(0)
    model = Tessera(preset(args.preset)).eval()
    ckpt = save(model, work / f"{args.preset}.safetensors")
    print(f"preset {args.preset}, batch {args.batch}, {available_cores()} cores → {shape}")
    for size in args.sizes:
        scene = work / f"scene{size}"
        if not (scene / "cube.zarr").is_dir():
            write_scene(simulate(SimulationConfig(height=size, width=size, seed=size)), scene)
        before = model_only(scene / "cube.zarr", ckpt, args.batch, work / "scratch")
        store = work / f"store{size}"
        # The CLI in a fresh process that reports its own peak RSS (one process: the local
        # cluster's threads live in it).
        argv = ["tessera", "embed", str(scene), "-c", str(ckpt), "-s", str(store), "--batch-size", str(args.batch)]
        cmd = [sys.executable, "-c", PEAK_WRAPPER, *argv]
        subprocess.run(["rm", "-rf", str(store), f"{store}.build"], check=True)
        t = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - t
        peak_mb = int(re.search(r"PEAK_RSS_KB (\d+)", out).group(1)) / 1024
        after = model_only(scene / "cube.zarr", ckpt, args.batch, work / "scratch")
        reported = float(re.search(r"speed\s*│\s*([\d,]+) px/s", out).group(1).replace(",", ""))
        group = next(store.glob("utm*"))  # the cube's zone group; one year
        data_bytes = du(group / "embeddings") + du(group / "scales")
        total_bytes = du(store)
        px = size * size
        ref = (before + after) / 2  # one pass each, before and after: drift on a shared machine cancels
        print(
            json.dumps(
                {
                    "cube_px": px,
                    "contended": args.contended,
                    "model_only_px_s": round(ref),
                    "model_only_runs": [round(before), round(after)],
                    "embed_px_s": round(reported),
                    "ratio": round(reported / ref, 3),
                    "ratio_vs_best_model_only": round(reported / max(before, after), 3),
                    "embed_px_s_incl_process_start": round(px / wall),
                    "peak_rss_mb": round(peak_mb),
                    "bytes_per_px_data": round(data_bytes / px, 1),
                    "bytes_per_px_store": round(total_bytes / px, 1),
                }
            )
        )
    for p in burners:
        p.terminate()


if __name__ == "__main__":
    main()
