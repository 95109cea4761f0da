"""Pretrain the shipped checkpoint: the ``tiny`` preset on the broad ``pretrain`` scene family.

    python benchmarks/pretrain_broad.py --work /tmp/broad --steps 2200 --minutes 60

Runs the real commands (printed as they run): simulates the family's scenes (each with its own
place, field size, crop calendar, clouds, SAR noise and revisit), writes globally shuffled shards
from all of them, and trains. The validation scene is scene 0 of the ``dev`` family, for the
record only: the shipped weights are the last step's, chosen by nothing. ``--install`` writes
them (with this command line in the header as ``recipe``) to the package:

    python benchmarks/pretrain_broad.py --work /tmp/broad --install   # after (or instead of) the run
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from commands import run

from tessera.simulate.family import family


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tessera-broad"))
    ap.add_argument("--steps", type=int, default=2200)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--samples-per-epoch", type=int, default=120_000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--install", action="store_true", help="write WORK/run's last weights into the package")
    args = ap.parse_args()
    if args.install:
        install(args.work)
        return
    w = args.work
    tessera = [sys.executable, "-m", "tessera"]
    w.mkdir(parents=True, exist_ok=True)
    t = time.time()
    scenes = [w / f"pretrain{i}" for i in range(family("pretrain").count)]
    for i, s in enumerate(scenes):
        if not (s / "cube.zarr").exists():
            run([*tessera, "simulate", str(s), "--family", "pretrain", "--index", str(i), "--overwrite"])
    if not (w / "dev0" / "cube.zarr").exists():
        run([*tessera, "simulate", str(w / "dev0"), "--family", "dev", "--index", "0", "--overwrite"])
    if not (w / "shards" / "shards.json").exists():
        run(
            [
                *tessera,
                "shards",
                *map(str, scenes),
                "--out",
                str(w / "shards"),
                "--samples-per-epoch",
                str(args.samples_per_epoch),
                "--shard-size",
                "20000",
                "--epochs",
                str(args.epochs),
            ]
        )
    print(f"data ready in {(time.time() - t) / 60:.1f} min", flush=True)
    t = time.time()
    run(
        tessera
        + [
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
            "2e-3",
            "--warmup-steps",
            "100",
            "--eval-every",
            "200",
            "--checkpoint-every",
            "100",
            "--val-scene",
            str(w / "dev0"),
            "--time-limit",
            str(args.minutes * 60),
        ]
        + (["--threads", str(args.threads)] if args.threads else [])
    )
    print(f"trained in {(time.time() - t) / 60:.1f} min; metrics: {w / 'run' / 'metrics.jsonl'}")


def install(w: Path) -> None:
    import json

    import tessera.model as tm
    from tessera.model.checkpoint import read_metadata

    run_dir = w / "run"
    step = int(read_metadata(run_dir / "model.safetensors")["step"])
    config = json.loads((run_dir / "train_config.json").read_text())
    recipe = (
        f"python benchmarks/pretrain_broad.py --steps {config['steps']} (batch {config['batch_size']}, "
        f"lr {config['lr']}, seed {config['seed']}); stopped at step {step}"
    )
    dest = Path(__file__).resolve().parents[1] / "src" / "tessera" / "pretrained" / "tiny-broad.safetensors"
    f = family("pretrain")
    tm.save(
        tm.load(run_dir / "model.safetensors"),
        dest,
        step=step,
        extra={
            "recipe": recipe,
            "training_data": f"simulated family 'pretrain': {f.count} scenes of {f.size}² px, "
            f"seeds {f.first_seed}–{f.first_seed + f.count - 1}, one drawn regime each",
        },
    )
    import hashlib

    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.2f} MB, step {step})")
    print(f"record its SHA-256 in tessera.pretrained.SHIPPED: {digest}")


if __name__ == "__main__":
    main()
