"""Which label-free criterion should choose the adapted checkpoint? Measured on the ``dev`` family.

    python benchmarks/bench_adapt_criteria.py --work /tmp/criteria --init src/tessera/pretrained/tiny-broad.safetensors

For each ``dev`` scene: ``adapt`` from ``--init`` keeping every evaluated step's encoder; each is
embedded (``tessera embed``'s path) and scored with field hold-out at 1 % and 10 % labels (best
of logistic regression and random forest, 5 label draws). Then each criterion — ``view_loss``,
``view_corr``, ``rankme``, ``last`` — picks a step from its own label-free scores, and the table
shows the accuracy of what it picked next to the start (step 0) and the best step in hindsight.
Only the ``dev`` family is used here: choosing a criterion is tuning, and the ``test`` family is
never tuned on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from family_eval import best_head, curve, embed, pixels, scene

CRITERIA = {"view_loss": min, "view_corr": max, "rankme": max}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tessera-criteria"))
    ap.add_argument("--init", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--scenes", type=int, default=None, help="only the first N dev scenes (a dry run)")
    args = ap.parse_args()
    from tessera.simulate.family import family
    from tessera.train import read_metrics
    from tessera.train.adapt import AdaptConfig, adapt

    args.work.mkdir(parents=True, exist_ok=True)
    picks: dict[str, list[tuple[float, float]]] = {}
    for i in range(args.scenes or family("dev").count):
        sdir = scene(args.work, "dev", i)
        out = args.work / f"adapt{i}"
        adapt(
            [sdir / "cube.zarr"],
            args.init,
            out,
            AdaptConfig(steps=args.steps, eval_every=args.eval_every, keep_evaluated=True),
        )
        scores = {r["step"]: r for r in read_metrics(out / "run") if "rankme" in r}
        stores = {}
        for step in scores:
            stores[f"step {step}"] = out / f"step{step}.zarr"
            embed(sdir, out / "run" / "evaluated" / f"step_{step:08d}.safetensors", stores[f"step {step}"], args.draws)
        feats, labels, rows, cols, groups = pixels(sdir, stores)
        points = curve(
            {k: v for k, v in feats.items() if k.startswith("step")}, labels, rows, cols, groups, fractions=(0.01, 0.10)
        )
        acc = {s: tuple(best_head(points, f"step {s}", f)[1] for f in (0.01, 0.10)) for s in scores}
        print(f"\ndev scene {i}: step, rankme, view_loss, view_corr, accuracy at 1 % / 10 % (field hold-out)")
        for s, r in scores.items():
            print(
                f"  {s:4d}  {r['rankme']:6.2f}  {r['view_loss']:8.2f}  {r['view_corr']:.4f}  "
                f"{acc[s][0]:.3f} / {acc[s][1]:.3f}"
            )
        chosen = {name: pick(scores, key=lambda s, n=name: scores[s][n]) for name, pick in CRITERIA.items()}
        chosen |= {
            "last": max(scores),
            "start (no adaptation)": 0,
            "best in hindsight (uses labels)": max(scores, key=lambda s: acc[s][0]),
        }
        for name, s in chosen.items():
            picks.setdefault(name, []).append(acc[s])
        (out / "study.json").write_text(json.dumps({"scores": scores, "accuracy": acc, "chosen": chosen}))
    print("\naccuracy of the chosen step, mean over dev scenes (1 % / 10 % labels):")
    for name, accs in picks.items():
        a = np.array(accs)
        print(f"  {name:34s} {a[:, 0].mean():.3f} / {a[:, 1].mean():.3f}")


if __name__ == "__main__":
    main()
