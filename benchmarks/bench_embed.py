"""End-to-end ``tessera embed`` against the model alone, in the same run; memory; bytes on disk.

    python benchmarks/bench_embed.py --preset small --sizes 256 512

``--contended 1 2 4`` runs the whole measurement once per level, with that many CPU-burning
processes per usable core beside everything (``--contended`` alone: 1), as on a machine busy
several times over; the ratio then compares embed and the model under the same contention, and
``embed_cpu_s_per_mpx`` says what the CLI's process spent. ``--compare-waits`` also runs the CLI
as it ran before it slept its OpenMP waits and sized threads from the free cores (libgomp's
default spin-then-sleep, one thread per usable core), in the same run:

    python benchmarks/bench_embed.py --preset tiny --sizes 64 --draws 4 --contended 0 1 2 4 --compare-waits

On a GPU (``--device cuda``: bf16, batches sized from free memory, two batches in flight) it also
prints the share of the model-only pass the GPU spent in forward passes (CUDA events) and, for
the v1 preset, the model FLOP utilisation against ``--peak-tflops`` (H100/H200 SXM dense bf16: 989):

    python benchmarks/bench_embed.py --preset v1 --sizes 1024 --device cuda --peak-tflops 989

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
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tessera.cpus import available_cores, busy_threads, calm_openmp, runnable_others

calm_openmp()  # before torch loads: the model-only reference runs with the CLI's OpenMP settings

import torch  # noqa: E402
from timing import burn  # noqa: E402

from tessera.cube import open_cube  # noqa: E402
from tessera.embed import plan  # noqa: E402
from tessera.embed.cluster import local_shape  # noqa: E402
from tessera.embed.worker import JobSpec, prepare_block, run_model  # noqa: E402
from tessera.grid import Window  # noqa: E402
from tessera.model import Embedder, InferenceConfig, Tessera, load, preset, save  # noqa: E402
from tessera.simulate import SimulationConfig, simulate, write_scene  # noqa: E402
from tessera.store import Provenance, open_for_write, place  # noqa: E402

PEAK_WRAPPER = """
import atexit, resource, runpy, sys
def report():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    print("PEAK_RSS_KB", me.ru_maxrss, "CPU_S", cpu, flush=True)
atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_module("tessera", run_name="__main__")
"""


DEVICE = "cpu"
PEAK_TFLOPS: float | None = None


def model_only(cube_path: Path, ckpt: Path, batch: int, scratch: Path, draws: int = 1) -> float:
    """px/s of the model alone on exactly ``tessera embed``'s work: the same blocks, the same
    tokens (prepared by the embed worker beforehand, untimed), the same batches; one pass, as the
    embed run makes one."""
    model = load(ckpt)
    cube = open_cube(cube_path)
    zone, window = place(cube.grid)
    prov = Provenance({"checkpoint_sha256": "bench"}, {"seed": 0}, "bench")
    subprocess.run(["rm", "-rf", str(scratch), f"{scratch}.build"], check=True)
    group = open_for_write(scratch, prov, model.cfg.embed_dim).ensure(cube.year, zone, prov, model.cfg.embed_dim)
    inference = InferenceConfig(batch_size=batch, device=DEVICE, precision="bf16" if DEVICE != "cpu" else "fp32")
    spec = JobSpec(
        cube=str(cube_path),
        store=str(scratch),
        year=cube.year,
        zone=zone.name,
        checkpoint=str(ckpt),
        checkpoint_sha256="bench",
        model_config=model.cfg.to_dict(),
        cube_name="bench",
        seed=0,
        draws=draws,
        inference=inference,
        torch_threads=torch.get_num_threads(),
    )
    prepared = [prepare_block(spec, t) for t in plan(Window(0, 0, *cube.grid.shape), window, group.layout)]
    emb = Embedder(model, inference)
    emb(prepared[0].draws[0].s2[:batch], prepared[0].draws[0].s1[:batch])  # warm-up
    t = time.perf_counter()
    for p in prepared:
        run_model(emb, p)
    wall = time.perf_counter() - t
    px_s = cube.grid.height * cube.grid.width / wall
    if DEVICE != "cpu":
        # v1 at 40 dates: ~3.7 GFLOP per pixel for both encoders (the published figure)
        mfu = px_s * 3.7e9 / (PEAK_TFLOPS * 1e12) if PEAK_TFLOPS and model.cfg.d_model == 512 else None
        print(
            f"  model-only on {DEVICE}: batch {emb.batch_size}, GPU busy {emb.busy_s / wall:.0%} of the pass"
            + (f", MFU {mfu:.1%}" if mfu is not None else "")
        )
    return px_s


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--draws", type=int, default=1, help="40-date draws per pixel (tessera embed --draws)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (bf16, --batch 0 sizes batches from memory)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak, for the MFU")
    ap.add_argument(
        "--contended",
        type=int,
        nargs="*",
        default=None,
        help="burning processes per usable core, one measurement per level (alone: 1; absent: 0)",
    )
    ap.add_argument(
        "--compare-waits",
        action="store_true",
        help="also run the CLI with OpenMP's default spinning waits and a thread per usable core",
    )
    args = ap.parse_args()
    global DEVICE, PEAK_TFLOPS
    DEVICE, PEAK_TFLOPS = args.device, args.peak_tflops
    levels = [0] if args.contended is None else (args.contended or [1])
    for level in levels:
        burners = burn(level * available_cores())
        time.sleep(1.0 if level else 0.0)  # let the burners reach the run queue before anything sizes itself
        try:
            measure(args, level)
        finally:
            for p in burners:
                p.terminate()


def measure(args: argparse.Namespace, level: int) -> None:
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-embed-"))
    # The reference model runs with the threads the CLI would choose under this contention.
    shape = local_shape(busy_threads(available_cores(), runnable_others()))
    torch.set_num_threads(shape.torch_threads)
    torch.manual_seed(0)
    model = Tessera(preset(args.preset)).eval()
    ckpt = save(model, work / f"{args.preset}.safetensors")
    print(f"preset {args.preset}, batch {args.batch}, {available_cores()} cores → {shape}, {level} burners per core")
    for size in args.sizes:
        scene = work / f"scene{size}"
        if not (scene / "cube.zarr").is_dir():
            write_scene(simulate(SimulationConfig(height=size, width=size, seed=size)), scene)
        before = model_only(scene / "cube.zarr", ckpt, args.batch, work / "scratch", args.draws)
        store = work / f"store{size}"
        # The CLI in a fresh process that reports its own peak RSS and CPU time (one process: the
        # local cluster's threads live in it).
        argv = ["tessera", "embed", str(scene), "-c", str(ckpt), "-s", str(store), "--batch-size", str(args.batch)]
        argv += ["--draws", str(args.draws), "--no-report", "--device", args.device]
        argv += ["--precision", "bf16"] if args.device != "cpu" else []  # the model's speed, not the report's
        cmd = [sys.executable, "-c", PEAK_WRAPPER, *argv]
        arms = {"now": {}}
        if args.compare_waits:
            # Empty values leave libgomp at its default (spin, then sleep; it warns once), and a
            # fixed core count skips the free-core sizing: the CLI as it ran before.
            arms["spinning"] = {"OMP_WAIT_POLICY": "", "KMP_BLOCKTIME": "", "TESSERA_CPUS": str(available_cores())}
        runs = {}
        for arm, extra in arms.items():
            subprocess.run(["rm", "-rf", str(store), f"{store}.build"], check=True)
            t = time.perf_counter()
            env = {**os.environ, **extra}
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
            runs[arm] = (out, time.perf_counter() - t)
        out, wall = runs["now"]
        peak_mb = int(re.search(r"PEAK_RSS_KB (\d+)", out).group(1)) / 1024
        after = model_only(scene / "cube.zarr", ckpt, args.batch, work / "scratch", args.draws)
        reported = float(re.search(r"speed\s*│\s*([\d,]+) px/s", out).group(1).replace(",", ""))
        group = next(store.glob("utm*"))  # the cube's zone group; one year
        data_bytes = du(group / "embeddings") + du(group / "scales")
        total_bytes = du(store)
        px = size * size
        ref = (before + after) / 2  # one pass each, before and after: drift on a shared machine cancels
        cpu = {arm: float(re.search(r"CPU_S ([\d.]+)", o).group(1)) for arm, (o, _) in runs.items()}
        waits = {}
        if args.compare_waits:
            waits = {
                "spinning_wall_s": round(runs["spinning"][1], 1),
                "spinning_cpu_s_per_mpx": round(cpu["spinning"] / px * 1e6, 1),
                "cpu_ratio_spinning_over_now": round(cpu["spinning"] / cpu["now"], 2),
                "wall_ratio_spinning_over_now": round(runs["spinning"][1] / wall, 2),
            }
        print(
            json.dumps(
                {
                    "cube_px": px,
                    "draws": args.draws,
                    "burners_per_core": level,
                    "parallelism": _parallelism(out),
                    "embed_wall_s": round(wall, 1),
                    "embed_cpu_s_per_mpx": round(cpu["now"] / px * 1e6, 1),
                    **waits,
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


def _parallelism(out: str) -> str:
    m = re.search(r"parallelism\s*│\s*(.+?)\s*│", out)
    return m.group(1) if m else "?"


if __name__ == "__main__":
    main()
