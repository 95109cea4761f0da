"""Label efficiency of ``tessera heads suggest`` against random labels (issue #28).

On each scene of a family (embedded with the shipped ``tiny-broad`` checkpoint), half the fields
are held out for testing and never labelled; the other half is the pool a user labels from. Both
strategies start from the same few random fields and add fields in batches: ``suggest`` takes
the batch ``heads suggest`` ranks first (uncertainty × diversity), ``random`` a random batch. After
each batch a random forest is fitted on the labelled fields (whole fields, every pixel) and
scored on the held-out fields. Repeated over draws (pool/test split and starting fields).

Label efficiency at a budget of N random fields: N divided by the fewest fields with which
``suggest`` (mean curve over draws) reaches the random strategy's mean accuracy at N; and the same
ratio of the fields each strategy chose (N − start over M − start), since the first fields are
the same for both.

    python benchmarks/bench_suggest.py --family test --scenes 4 --draws 5 --most 24
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

START, BATCH = 2, 1  # a user's first two fields, then one field at a time
PIXELS_PER_FIELD = 120  # training pixels kept per labelled field (speed; whole fields are labelled)


def load(work: Path, family: str, index: int):
    """(embeddings (H, W, D), classes (H, W), fields (H, W)) of the scene, embedded once."""
    import sys

    import rasterio

    from tessera.access import open_store
    from tessera.access.region import read_grid
    from tessera.cube import open_cube
    from tessera.embed import EmbedConfig, embed_cube

    sys.path.insert(0, str(Path(__file__).parent))
    from family_eval import scene

    path = scene(work, family, index)
    embed_cube(path / "cube.zarr", "tiny-broad", path / "store", EmbedConfig(report=False))
    grid = open_cube(path / "cube.zarr").grid
    emb = read_grid(open_store(path / "store"), grid, 2024).data
    with rasterio.open(path / "classes.tif") as c, rasterio.open(path / "fields.tif") as f:
        return emb, c.read(1).astype(int), f.read(1).astype(int)


def run(
    emb, classes, fields, strategy: str, draw: int, start: int = START, batch: int = BATCH, most: int | None = None
) -> list[tuple[int, float]]:
    from sklearn.ensemble import RandomForestClassifier

    from tessera.heads.suggest import rank_units

    rng = np.random.default_rng([draw, 7])
    _h, _w, d = emb.shape
    x, y, fid = emb.reshape(-1, d), classes.ravel(), fields.ravel()
    ok = ~np.isnan(x).any(axis=1) & (y != 255)
    ids = np.unique(fid[ok])
    test_fields = rng.permutation(ids)[: len(ids) // 2]
    pool = np.setdiff1d(ids, test_fields)
    test = np.flatnonzero(ok & np.isin(fid, test_fields))
    test = rng.choice(test, min(6000, len(test)), replace=False)
    labelled = list(rng.choice(pool, start, replace=False))
    per = {f: np.flatnonzero(ok & (fid == f)) for f in pool}
    per = {
        f: (p if len(p) <= PIXELS_PER_FIELD else rng.choice(p, PIXELS_PER_FIELD, replace=False)) for f, p in per.items()
    }
    curve = []
    while most is None or len(labelled) <= most:
        train = np.concatenate([per[f] for f in labelled])
        if len(np.unique(y[train])) > 1:
            head = RandomForestClassifier(150, n_jobs=1, random_state=draw).fit(x[train], y[train])
            acc = float(np.mean(head.predict(x[test]) == y[test]))
        else:
            acc = float(np.mean(y[test] == y[train][0]))
        curve.append((len(labelled), acc))
        left = [f for f in pool if f not in set(labelled)]
        if not left:
            break
        if strategy == "random":
            labelled += list(rng.choice(left, min(batch, len(left)), replace=False))
        else:
            cand = np.concatenate([per[f] for f in left])
            found = rank_units(x[cand], fid[cand], x[train], y[train], batch, fid[train], seed=draw)
            labelled += [s.unit for s in found]
    return curve


def needed(random_curve: dict[int, float], suggest_curve: dict[int, float], budget: int) -> float | None:
    """The fields ``suggest`` needs for the random strategy's accuracy at ``budget``, read
    between the measured budgets by linear interpolation; None if never reached."""
    target = random_curve[budget]
    ns = sorted(suggest_curve)
    for lo, hi in itertools.pairwise(ns):
        a, b = suggest_curve[lo], suggest_curve[hi]
        if a >= target:
            return float(lo)
        if b >= target:
            return lo + (hi - lo) * (target - a) / (b - a)
    return None


def efficiency(random_curve: dict[int, float], suggest_curve: dict[int, float], budget: int) -> float | None:
    """``budget`` / the fields ``suggest`` needs for the random strategy's accuracy at ``budget``."""
    n = needed(random_curve, suggest_curve, budget)
    return None if n is None else budget / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="test")
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--start", type=int, default=START, help="random fields both strategies start from")
    ap.add_argument("--batch", type=int, default=BATCH, help="fields added per round")
    ap.add_argument("--most", type=int, default=None, help="stop at this many labelled fields (default: the pool)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/tessera-bench-suggest"))
    a = ap.parse_args()
    curves: dict[str, dict[int, list[float]]] = {"random": {}, "suggest": {}}
    for i in range(a.scenes):
        t = time.perf_counter()
        emb, classes, fields = load(a.work, a.family, i)
        for draw in range(a.draws):
            for strategy in curves:
                for n, acc in run(emb, classes, fields, strategy, 100 * i + draw, a.start, a.batch, a.most):
                    curves[strategy].setdefault(n, []).append(acc)
        print(f"scene {i} done ({time.perf_counter() - t:.0f} s)", flush=True)
    # Only budgets every run reached: a small scene's pool runs out of fields before a large one's.
    runs = a.scenes * a.draws
    common = sorted(
        n for n in curves["random"] if len(curves["random"][n]) == runs == len(curves["suggest"].get(n, []))
    )
    mean = {s: {n: float(np.mean(c[n])) for n in common} for s, c in curves.items()}
    print("fields  random  suggest   (mean accuracy on held-out fields)")
    for n in common:
        print(f"{n:>6}  {mean['random'][n]:.3f}   {mean['suggest'][n]:.3f}")
    # Two ratios: of every labelled field (the start included, which caps it below 2× near the
    # start: both strategies hold the same first fields), and of the fields each strategy chose.
    found: dict[str, list[float]] = {"all": [], "chosen": []}
    for b in [n for n in common if n >= 2 * a.start]:
        n = needed(mean["random"], mean["suggest"], b)
        if n is None:
            print(f"at {b} random fields: not reached")
            found["all"].append(0.0)
            found["chosen"].append(0.0)
            continue
        chosen = (b - a.start) / (n - a.start) if n > a.start else float("inf")
        found["all"].append(b / n)
        found["chosen"].append(chosen)
        print(f"at {b} random fields: suggest needs {n:.1f}; {b / n:.2f}× of all fields, {chosen:.2f}× of chosen")
    if found["all"]:
        print(
            f"median label efficiency: {np.median(found['all']):.2f}× of all labelled fields, "
            f"{np.median(found['chosen']):.2f}× of the fields chosen after the first {a.start} (target ≥ 2×)"
        )


if __name__ == "__main__":
    main()
