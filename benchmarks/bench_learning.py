"""Embeddings against raw bands on scenes we never tuned on: the frozen ``test`` family.

    python benchmarks/bench_learning.py --work /tmp/learning --init src/tessera/pretrained/tiny-broad.safetensors

For each scene of the family (``--family``; default ``test``, frozen before anything was tuned,
fingerprints checked): ``tessera adapt`` from ``--init`` with its defaults (no labels); then the
adapted model, the model as shipped (not adapted) and the same architecture at random
initialisation embed the scene (``tessera embed --draws 8``), and every feature set — those
three and the raw-band baselines (seasonal statistics; monthly S2 medians, gap-filled) — is
scored with logistic regression and random forest under FIELD hold-out (labels drawn in a random
half of the fields, accuracy on the other fields) at 0.1 %, 1 % and 10 % labels, 5 label draws.
Figures pool all scenes and draws: mean ± sd over scene × draw. The verdict compares adapted
embeddings' best head with the BEST raw result (any raw feature set, any head) per fraction, and
also as paired differences on the same label draws.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from family_eval import FRACTIONS, HEADS, curve, embed, pixels, scene

from tessera.train.adapt import AdaptConfig, adapt

MODELS = ("adapted", "not adapted", "random init")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tessera-learning"))
    ap.add_argument("--init", type=Path, required=True, help="the starting checkpoint (the shipped one)")
    ap.add_argument("--family", default="test")
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scenes", type=int, default=None, help="only the first N scenes (a dry run)")
    ap.add_argument("--fractions", type=float, nargs="+", default=FRACTIONS)
    ap.add_argument("--adapt-steps", type=int, default=AdaptConfig().steps, help="(a dry run: fewer)")
    args = ap.parse_args()
    import torch

    import tessera.model as tm
    from tessera.simulate.family import family

    w = args.work
    w.mkdir(parents=True, exist_ok=True)
    cfg = tm.load(args.init).cfg
    torch.manual_seed(0)
    random_init = tm.save(tm.Tessera(cfg), w / "random-init.safetensors")
    minutes: dict[str, list[float]] = {}
    points = []
    for i in range(args.scenes or family(args.family).count):
        sdir = scene(w, args.family, i)
        t = time.perf_counter()
        r = adapt([sdir / "cube.zarr"], args.init, w / f"adapt{i}", AdaptConfig(steps=args.adapt_steps))
        minutes.setdefault("adapt (shards + training + selection)", []).append((time.perf_counter() - t) / 60)
        print(f"scene {i}: adapt kept step {r.best_step} ({r.criterion} {r.score_start:.4g} → {r.score_best:.4g})")
        checkpoints = {"adapted": r.checkpoint, "not adapted": args.init, "random init": random_init}
        stores = {}
        for name, ckpt in checkpoints.items():
            stores[name] = w / f"{args.family}{i}-{name.replace(' ', '-')}.zarr"
            minutes.setdefault(f"embed, {name}", []).append(embed(sdir, ckpt, stores[name], args.draws) / 60)
        t = time.perf_counter()
        feats, labels, rows, cols, groups = pixels(sdir, stores)
        minutes.setdefault("raw-band features", []).append((time.perf_counter() - t) / 60)
        for p in curve(feats, labels, rows, cols, groups, repeats=args.repeats, fractions=tuple(args.fractions)):
            points.append((i, p))
        print(f"scene {i}: {len(labels):,} labelled px in {len(np.unique(groups)):,} fields", flush=True)
    report(points, minutes, args)


def report(points, minutes, args) -> None:
    acc: dict[tuple[str, str, float], dict[tuple[int, int], float]] = {}
    for i, p in points:
        acc.setdefault((p.features, p.head, p.fraction), {})[(i, p.repeat)] = p.metrics["accuracy"]
    seen = list(dict.fromkeys(p.features for _, p in points))
    names = [n for n in MODELS if n in seen] + [n for n in seen if n not in MODELS]
    print(f"\nfamily {args.family!r}, field hold-out, accuracy mean ± sd over scene × label draw:")
    fractions = tuple(args.fractions)
    print(f"  {'features':24s} {'head':9s} " + "  ".join(f"{f:>13.1%}" for f in fractions))
    for name in names:
        for head in HEADS:
            cells = [np.array(list(acc[(name, head, f)].values())) for f in fractions]
            print(f"  {name:24s} {head:9s} " + "  ".join(f"{c.mean():.3f} ± {c.std():.3f}" for c in cells))
    print("\nbest head per feature set (mean ± sd):")
    for f in fractions:
        best = {n: max(HEADS, key=lambda h, n=n: np.mean(list(acc[(n, h, f)].values()))) for n in names}
        line = [f"{n} {np.mean(list(acc[(n, best[n], f)].values())):.3f} ({best[n]})" for n in names]
        print(f"  {f:>6.1%}: " + "; ".join(line))
        raw = max((n for n in names if n.startswith("raw")), key=lambda n: np.mean(list(acc[(n, best[n], f)].values())))
        a, b = acc[("adapted", best["adapted"], f)], acc[(raw, best[raw], f)]
        diff = np.array([a[k] - b[k] for k in a])
        sd = max(np.std(list(a.values())), np.std(list(b.values())))
        verdict = "adapted wins" if diff.mean() > 0 else "raw bands win"
        print(
            f"          adapted + {best['adapted']} vs best raw ({raw} + {best[raw]}): {diff.mean():+.3f} "
            f"(paired over the same draws: sd {diff.std():.3f}, {np.mean(diff > 0):.0%} of draws won; "
            f"pooled sd {sd:.3f}; {'> 1 sd' if diff.mean() > sd else '≤ 1 sd'}) — {verdict}"
        )
    print("\nminutes per scene on this machine (mean):")
    for k, v in minutes.items():
        print(f"  {k:40s} {np.mean(v):.2f}")


if __name__ == "__main__":
    main()
