"""Model inference speed against this machine's own matmul roofline, measured in the same run.

    python benchmarks/bench_model.py --preset v1 --batch 256
    python benchmarks/bench_model.py --preset v1 --batch 1024 --device cuda   # on a GPU
    python benchmarks/bench_model.py --students                               # v1 + every v2 student

With ``--students`` it runs v1 and the four v2 student sizes on the same CPU in one run: the
students on a simulated cube's real inputs (every valid date, in length bins), their FLOPs per
pixel counted at those lengths, each model's fraction of the GEMM roofline measured in
interleaved rounds, bf16 speed and cosine to fp32, and the bytes per pixel each Matryoshka depth
costs on disk.

Prints pixels/s, FLOPs per pixel (matmul work, 40 + 40 timesteps), the fp32 matmul GFLOP/s of
this machine (the best of several GEMM shapes, measured before and after the model), the ratio
of achieved to roofline, and for bf16 the speed-up over fp32 and the cosine similarity of its
embeddings to fp32's. On CUDA it also prints bf16 MFU against the card's peak dense bf16 rate.
Inputs are real pixels of a simulated cube; weights are random (published weights are not
reachable offline), which is what matters for speed and a fair test of bf16 error growth.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from tessera.model import Embedder, InferenceConfig, Tessera, flops_per_pixel, pool_s1, preset, sample_tokens
from tessera.simulate import SimulationConfig, simulate

# Peak dense bf16 tensor-core FLOP/s by device name fragment (vendor data sheets, SXM parts).
GPU_BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, reps: int, device: torch.device) -> float:
    """Median seconds per call after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_roofline(device: torch.device, dtype: torch.dtype, reps: int) -> dict[str, float]:
    """Best GEMM FLOP/s over square and model-shaped problems, per GEMM library.

    On CPUs both PyTorch's default matmul (MKL/OpenBLAS) and oneDNN are timed: on AVX-512
    machines oneDNN can be ~2× faster, and the roofline must be the best the machine does.
    """
    best: dict[str, float] = {}
    onednn = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if device.type == "cpu" else None
    for m, k, n in ((4096, 4096, 4096), (2048, 2048, 2048), (10240, 512, 4096), (10240, 4096, 512)):
        a = torch.randn(m, k, device=device, dtype=dtype)
        b = torch.randn(k, n, device=device, dtype=dtype)
        bt = b.t().contiguous()
        libs = {"torch.matmul": lambda a=a, b=b: a @ b}
        if onednn is not None:
            libs["oneDNN"] = lambda a=a, bt=bt: onednn(a, bt, None, "none", [], "")
        for lib, fn in libs.items():
            with torch.inference_mode():
                best[lib] = max(best.get(lib, 0.0), 2 * m * k * n / timed(fn, reps, device))
    return best


def pixel_tokens(n: int, seed: int = 0):
    """n real pixels' tokens from a simulated scene (tiled if the scene is smaller)."""
    side = int(np.ceil(np.sqrt(min(n, 128 * 128))))
    c = simulate(SimulationConfig(height=side, width=side, seed=seed)).cube
    t = len(c.s2_doy)
    s1, s1_doy = pool_s1(c.s1_ascending.values, c.s1_ascending.doy, c.s1_descending.values, c.s1_descending.doy)
    tok = sample_tokens(
        c.s2_bands.reshape(t, -1, 10),
        c.s2_mask.reshape(t, -1),
        c.s2_doy,
        s1.reshape(len(s1_doy), -1, 2),
        s1_doy,
        np.random.default_rng(seed),
    )
    reps = int(np.ceil(n / len(tok.s2)))
    return np.tile(tok.s2, (reps, 1, 1))[:n], np.tile(tok.s1, (reps, 1, 1))[:n]


def cube_inputs(side: int, seed: int = 0):
    """A simulated cube (``side``² px) → the students' binned tokens."""
    from tessera.model.binning import student_tokens

    c = simulate(SimulationConfig(height=side, width=side, seed=seed)).cube
    t, ta, td = len(c.s2_doy), len(c.s1_ascending.doy), len(c.s1_descending.doy)
    return student_tokens(
        c.s2_bands.reshape(t, -1, 10),
        c.s2_mask.reshape(t, -1),
        c.s2_doy,
        c.s1_ascending.values.reshape(ta, -1, 2),
        c.s1_ascending.doy,
        c.s1_descending.values.reshape(td, -1, 2),
        c.s1_descending.doy,
    )


def store_bytes_per_depth(side: int, work) -> dict[str, float]:
    """Embed a ``side``² cube with the nano student and --depths 16,32,64: bytes per pixel on disk of
    each depth's array plus the scales (what a reader of that depth fetches)."""
    from pathlib import Path

    from tessera.embed import EmbedConfig, embed_cube
    from tessera.model import save
    from tessera.model.student import STUDENT_PRESETS, PixelStudent
    from tessera.simulate import write_scene

    work = Path(work)
    scene = write_scene(simulate(SimulationConfig(height=side, width=side, seed=1)), work / "scene")
    ckpt = save(PixelStudent(STUDENT_PRESETS["nano"]), work / "nano.safetensors")
    embed_cube(scene / "cube.zarr", ckpt, work / "store", EmbedConfig(depths=(16, 32, 64)))
    zone = next((work / "store").glob("utm*"))
    du = {
        a.name: sum(f.stat().st_size for f in a.rglob("*") if f.is_file() and f.name != "zarr.json")
        for a in zone.iterdir()
        if a.is_dir()
    }
    px = side * side
    return {name: (du[name] + du["scales"]) / px for name in du if name.startswith("embeddings")}


def students(args) -> None:
    from tessera.model.student import STUDENT_PRESETS, PixelStudent, student_flops_per_pixel

    device = torch.device(args.device)
    tokens = cube_inputs(args.side)
    n_px = tokens.pixels
    lengths = [(g.s2.shape[1], g.s1.shape[1], len(g.pixels)) for g in tokens.groups]
    mean_l2 = sum(a * n for a, _, n in lengths) / n_px
    mean_l1 = sum(b * n for _, b, n in lengths) / n_px
    s2_np, s1_np = pixel_tokens(args.batch)
    v1_s2, v1_s1 = torch.from_numpy(s2_np).to(device), torch.from_numpy(s1_np).to(device)
    med = statistics.median
    rows = []
    print(
        f"{n_px} pixels of a simulated {args.side}² cube: {len(lengths)} length bins, mean S2 {mean_l2:.0f} "
        f"and S1 {mean_l1:.0f} tokens per pixel; {device}, {torch.get_num_threads()} threads"
    )
    for name in ["v1", *STUDENT_PRESETS]:
        torch.manual_seed(0)
        if name == "v1":
            model = Tessera(preset("v1"))
            flops = flops_per_pixel(preset("v1"))

            def run(emb):
                return emb.forward_tensors(v1_s2, v1_s1)

            pixels = args.batch
        else:
            cfg = STUDENT_PRESETS[name]
            model = PixelStudent(cfg)
            flops = sum(student_flops_per_pixel(cfg, a, b) * n for a, b, n in lengths) / n_px

            def run(emb):
                return torch.from_numpy(emb.binned(tokens))

            pixels = n_px
        res = {}
        for precision in ("fp32", "bf16"):
            emb = Embedder(model, InferenceConfig(precision=precision, batch_size=args.batch, device=args.device))
            out = run(emb).float().cpu()
            secs, fracs = [], []
            for _ in range(args.rounds):
                roof = max(matmul_roofline(device, torch.float32, 2).values())
                secs.append(timed(lambda emb=emb: run(emb), 1, device))
                fracs.append(pixels * flops / secs[-1] / roof)
            res[precision] = (pixels / med(secs), med(fracs), out)
        cos = torch.nn.functional.cosine_similarity(res["bf16"][2], res["fp32"][2], dim=1)
        row = {
            "model": name,
            "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
            "gflop_per_px": round(flops / 1e9, 4),
            "fp32_px_s": round(res["fp32"][0], 1),
            "fp32_fraction_of_roofline": round(res["fp32"][1], 3),
            "bf16_px_s": round(res["bf16"][0], 1),
            "bf16_speedup": round(res["bf16"][0] / res["fp32"][0], 2),
            "bf16_cosine_min": round(float(cos.min()), 6),
        }
        rows.append(row)
        print(json.dumps(row))
    if not args.skip_store:
        import tempfile

        with tempfile.TemporaryDirectory() as work:
            per_depth = store_bytes_per_depth(args.store_side, work)
        print(json.dumps({"bytes_per_px_on_disk_incl_scales": {k: round(v, 1) for k, v in sorted(per_depth.items())}}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", action="store_true", help="v1 and every v2 student size in one run")
    ap.add_argument("--side", type=int, default=48, help="--students: cube side whose pixels are timed")
    ap.add_argument("--store-side", type=int, default=256, help="--students: cube side for the bytes-per-depth store")
    ap.add_argument("--skip-store", action="store_true", help="--students: skip the bytes-per-depth store")
    ap.add_argument("--preset", default="v1")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batches", type=int, default=1, help="timed forwards per precision and round")
    ap.add_argument("--rounds", type=int, default=5, help="roofline + model rounds per precision")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", action="store_true", help="also print one JSON line of results")
    args = ap.parse_args()
    if args.students:
        students(args)
        return

    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg = preset(args.preset)
    model = Tessera(cfg)
    s2_np, s1_np = pixel_tokens(args.batch)
    s2 = torch.from_numpy(s2_np).to(device)
    s1 = torch.from_numpy(s1_np).to(device)
    flops = flops_per_pixel(cfg)

    # Each precision runs in its own phase (as a production run would: switching dtypes between
    # forwards thrashes caches and the allocator, slowing both). Within a phase every round times
    # the GEMM roofline and then the model, so drifts of a shared machine hit numerator and
    # denominator alike; figures are medians over rounds.
    med = statistics.median
    rounds, results = [], {}
    for precision in ("fp32", "bf16"):
        emb = Embedder(model, InferenceConfig(precision=precision, batch_size=args.batch, device=args.device))
        out = emb.forward_tensors(s2, s1).float().cpu()  # warm-up (and bf16 weight casts)
        secs = []
        for _ in range(args.rounds):
            gemm = matmul_roofline(device, torch.float32, 2)
            secs.append(timed(lambda emb=emb: emb.forward_tensors(s2, s1), args.batches, device))
            if precision == "fp32":
                rounds.append((gemm, secs[-1]))
        results[precision] = {"seconds": med(secs), "out": out}
    gemm = {lib: med(r[0][lib] for r in rounds) for lib in rounds[0][0]}
    roof = max(gemm.values())
    per_round = [args.batch * flops / sec / max(g.values()) for g, sec in rounds]
    ratio = med(per_round)
    speedup = results["fp32"]["seconds"] / results["bf16"]["seconds"]
    roof_before, roof_after = max(rounds[0][0].values()), max(rounds[-1][0].values())

    fp32 = results["fp32"]
    px_s = args.batch / fp32["seconds"]
    achieved = px_s * flops
    bf16 = results["bf16"]
    cos = torch.nn.functional.cosine_similarity(bf16["out"], fp32["out"], dim=1)
    summary = {
        "preset": args.preset,
        "batch": args.batch,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "gflop_per_pixel": flops / 1e9,
        "fp32_px_per_s": px_s,
        "fp32_gflop_s": achieved / 1e9,
        "fp32_matmul_roofline_gflop_s": roof / 1e9,
        "roofline_before_after_gflop_s": [roof_before / 1e9, roof_after / 1e9],
        "gemm_gflop_s_by_library": {k: v / 1e9 for k, v in gemm.items()},
        "fp32_fraction_of_roofline": ratio,
        "fp32_fraction_per_round": per_round,
        "bf16_px_per_s": args.batch / bf16["seconds"],
        "bf16_speedup_over_fp32": speedup,
        "bf16_cosine_to_fp32_mean": float(cos.mean()),
        "bf16_cosine_to_fp32_min": float(cos.min()),
    }
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = next((v for k, v in GPU_BF16_PEAK.items() if k in name), None)
        summary["gpu"] = name
        summary["bf16_tflop_s"] = summary["bf16_px_per_s"] * flops / 1e12
        if peak:
            summary["bf16_mfu"] = summary["bf16_px_per_s"] * flops / peak

    print(f"preset {args.preset}, batch {args.batch}, {device} ({summary['threads']} threads)")
    print(f"  FLOPs per pixel (40 + 40 timesteps): {flops / 1e9:.3f} GFLOP")
    libs = ", ".join(f"{k} {v / 1e9:.1f}" for k, v in gemm.items())
    print(
        f"  fp32 matmul roofline:  {roof / 1e9:8.1f} GFLOP/s (best of: {libs}; "
        f"first round {roof_before / 1e9:.1f}, last {roof_after / 1e9:.1f})"
    )
    per_round = ", ".join(f"{x:.3f}" for x in summary["fp32_fraction_per_round"])
    print(
        f"  fp32 model:            {achieved / 1e9:8.1f} GFLOP/s  {px_s:8.1f} px/s  → {ratio:.3f} of roofline "
        f"(median of rounds: {per_round})"
    )
    print(
        f"  bf16 model:            {summary['bf16_px_per_s'] * flops / 1e9:8.1f} GFLOP/s  "
        f"{summary['bf16_px_per_s']:8.1f} px/s  → {summary['bf16_speedup_over_fp32']:.2f}× fp32"
    )
    print(
        f"  bf16 vs fp32 cosine:   mean {summary['bf16_cosine_to_fp32_mean']:.5f}, "
        f"min {summary['bf16_cosine_to_fp32_min']:.5f}"
    )
    if "bf16_mfu" in summary:
        print(f"  GPU bf16 MFU:          {summary['bf16_mfu']:.3f} ({summary['gpu']})")
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
