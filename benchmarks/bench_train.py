"""Pretraining throughput: samples/s and MFU of one training step, on this machine.

    python benchmarks/bench_train.py --preset tiny --batch 256
    python benchmarks/bench_train.py --preset v1 --batch 256 --device cuda     # on a GPU
    python benchmarks/bench_train.py --contended --threads 1 2                 # a busy machine

A step is three encoder + projector forwards (two views and the mix) and their backward; its
FLOPs are counted as 3 × forward (forward + 2 × forward for the backward). MFU is measured
against the best fp32 GEMM rate of this machine in the same run on CPU, and against the card's
peak dense bf16 rate on CUDA (where the step runs under bf16 autocast).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from bench_model import GPU_BF16_PEAK, matmul_roofline, pixel_tokens, sync
from timing import burn

from tessera.cpus import available_cores
from tessera.model import Tessera, flops_per_pixel, preset
from tessera.train import PROJECTORS, Projector, barlow_twins_loss, mix_loss
from tessera.train.loop import Trainee


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="PyTorch thread counts to compare in this run (default: PyTorch's own choice)",
    )
    ap.add_argument(
        "--contended",
        action="store_true",
        help="run a CPU-burning process per usable core beside everything (a busy machine)",
    )
    args = ap.parse_args()
    burners = burn(available_cores()) if args.contended else []
    if args.contended:
        print(f"{len(burners)} CPU-burning processes beside the benchmark")
    for threads in args.threads or [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        print(f"{threads} PyTorch threads")
        measure(args)
    for p in burners:
        p.terminate()


def measure(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    cfg, pcfg = preset(args.preset), PROJECTORS[args.preset]
    torch.manual_seed(0)
    trainee = Trainee(Tessera(cfg), Projector(cfg.embed_dim, pcfg)).to(device).train()
    opt = torch.optim.AdamW(trainee.parameters(), lr=1e-4)
    s2, s1 = (torch.from_numpy(a).to(device) for a in pixel_tokens(args.batch))
    bf16 = device.type == "cuda"

    def step() -> None:
        perm = torch.randperm(args.batch, device=device)
        mixed = (0.5 * s2 + 0.5 * s2[perm], 0.5 * s1 + 0.5 * s1[perm])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            z1, z2, zm = trainee([(s2, s1), (s2.flip(1), s1.flip(1)), mixed])
        loss = barlow_twins_loss(z1.float(), z2.float()) + mix_loss(z1.float(), z2.float(), zm.float(), 0.5, perm)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainee.parameters(), 2.0)
        opt.step()
        sync(device)

    step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    sec = statistics.median(times)
    d, w = cfg.embed_dim, pcfg.width
    proj_flops = 2 * (d * w + pcfg.depth * w * w)
    flops = 3 * 3 * (flops_per_pixel(cfg) + proj_flops)  # 3 views × (fwd + bwd ≈ 3 fwd)
    rate = args.batch * flops / sec
    print(f"preset {args.preset}, batch {args.batch}, {device}, projector {w}×{pcfg.depth}")
    print(f"  {args.batch / sec:.1f} samples/s, {sec:.3f} s/step, {flops / 1e9:.3f} GFLOP per sample")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = next((v for k, v in GPU_BF16_PEAK.items() if k in name), float("nan"))
        print(f"  {rate / 1e12:.1f} TFLOP/s, MFU {rate / peak:.3f} of {name} bf16 peak")
    else:
        roof = max(matmul_roofline(device, torch.float32, 2).values())
        print(
            f"  {rate / 1e9:.1f} GFLOP/s, MFU {rate / roof:.3f} of the fp32 GEMM roofline "
            f"({roof / 1e9:.0f} GFLOP/s, measured now)"
        )


if __name__ == "__main__":
    main()
