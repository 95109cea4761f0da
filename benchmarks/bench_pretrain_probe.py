"""Does pretraining learn? Linear-probe accuracy at 1 % labels on a held-out simulated scene.

    python benchmarks/bench_pretrain_probe.py --work /tmp/learning --minutes 14

Runs the real commands (printed as they run): simulates training scenes and a held-out scene,
writes shards, pretrains the ``tiny`` preset for at most ``--minutes``, then compares, on the
held-out scene with the same 1 % of labelled pixels (5 random draws):
(a) the pretrained embeddings, (b) the same architecture at random initialisation, and
(c) logistic regression on raw per-date bands gap-filled onto a 15-day calendar — with labels
drawn at random over the scene, and with spatial hold-out (labels in half of the 16-px blocks,
accuracy on the other half). Embeddings are scored as published (one 40-date draw per pixel)
and averaged over 8 draws (``tessera embed --draws 8``). ``--eval-only`` rescores an earlier run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
from commands import run

import tessera.model as tm
from tessera.cube import cube_location, open_cube
from tessera.heads import block_split, linear_probe
from tessera.heads.features import raw_feature_sets
from tessera.train.probe import embed_validation, load_validation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tessera-learning"))
    ap.add_argument("--minutes", type=float, default=14.0)
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-only", action="store_true", help="score the model already in --work")
    args = ap.parse_args()
    w = args.work
    w.mkdir(parents=True, exist_ok=True)
    tessera = [sys.executable, "-m", "tessera"]
    if args.eval_only:
        evaluate(w, None)
        return
    for seed in range(args.scenes):
        run([*tessera, "simulate", str(w / f"train{seed}"), "--size", "128", "--seed", str(100 + seed), "--overwrite"])
    run([*tessera, "simulate", str(w / "heldout"), "--size", "128", "--seed", "200", "--overwrite"])
    run([*tessera, "simulate", str(w / "val"), "--size", "96", "--seed", "300", "--overwrite"])
    run(
        [
            *tessera,
            "shards",
            *[str(w / f"train{s}") for s in range(args.scenes)],
            "--out",
            str(w / "shards"),
            "--samples-per-epoch",
            "60000",
            "--shard-size",
            "20000",
            "--epochs",
            "3",
            "--overwrite",
        ]
    )
    t = time.time()
    run(
        [
            *tessera,
            "train",
            "--shards",
            str(w / "shards"),
            "--out",
            str(w / "run"),
            "--preset",
            "tiny",
            "--steps",
            str(args.steps),
            "--batch-size",
            "256",
            "--lr",
            str(args.lr),
            "--warmup-steps",
            "50",
            "--eval-every",
            "100",
            "--checkpoint-every",
            "100",
            "--val-scene",
            str(w / "val"),
            "--time-limit",
            str(args.minutes * 60),
        ]
    )
    evaluate(w, (time.time() - t) / 60)


def evaluate(w: Path, minutes: float | None) -> None:
    held = load_validation(w / "heldout", max_pixels=128 * 128, seed=1, draws=8)
    one = dataclasses.replace(held, s2=held.s2[:1], s1=held.s1[:1])
    torch.manual_seed(0)
    best = tm.load(w / "run" / "best.safetensors")
    last = tm.load(w / "run" / "model.safetensors")
    rand = tm.Tessera(tm.preset("tiny"))
    raw = raw_feature_sets(open_cube(cube_location(w / "heldout")).read())
    feats = {
        "pretrained tiny (best by val probe)": embed_validation(best, one),
        "pretrained tiny (last)": embed_validation(last, one),
        "pretrained tiny (last), mean of 8 draws": embed_validation(last, held),
        "random-init tiny": embed_validation(rand, one),
        "random-init tiny, mean of 8 draws": embed_validation(rand, held),
        **{name: np.nan_to_num(x[held.rows, held.cols]) for name, x in raw.items()},
    }
    took = f"{minutes:.1f} min" if minutes is not None else "see the training log"
    print(f"\npretraining wall time: {took}; held-out pixels: {len(held.labels)}")
    for split in ("random", "spatial 16-px blocks"):
        for frac in (0.01, 0.10):
            print(f"linear probe, {split} hold-out, {frac:.0%} labels (mean ± sd over 5 draws):")
            for name, f in feats.items():
                accs = [
                    linear_probe(
                        f,
                        held.labels,
                        frac,
                        seed=s,
                        region=None if split == "random" else block_split(held.rows, held.cols, 16, s),
                    )
                    for s in range(5)
                ]
                print(f"  {name:42s} {np.mean(accs):.3f} ± {np.std(accs):.3f}")


if __name__ == "__main__":
    main()
