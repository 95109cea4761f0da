"""Label-free alternatives to ``embed --reliability``, tried on the ``dev`` scenes (issue #28).

For each scene, the shipped ``tiny-broad`` model embeds every pixel from four independent 40-date
draws and from the three withheld-observation variants ``embed --reliability`` uses. A random
forest is fitted on half of the fields (whole fields held out, three splits) and the AUC of each
score for telling its misclassified test pixels from the right ones is printed (0.5: no ranking;
the head's own confidence beside them). Scores, each standardised per embedding dimension:
the move across the draws, the move without radar, the distance to the tenth nearest embedding of
the scene, and the margin between the two nearest of ten k-means centres.

    python benchmarks/bench_reliability_scores.py --family dev --scenes 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def embeddings(work: Path, family: str, index: int):
    """(draws (4, N, D), variants (3, N, D), ok (N,), classes (N,), fields (N,)), embedded once."""
    import rasterio
    from family_eval import scene

    from tessera.cube import open_cube
    from tessera.embed import reliability
    from tessera.model import Embedder, load
    from tessera.model.sampling import pixel_series

    path = scene(work, family, index)
    with rasterio.open(path / "classes.tif") as c, rasterio.open(path / "fields.tif") as f:
        classes, fields = c.read(1).astype(int).ravel(), f.read(1).astype(int).ravel()
    cache = path / "reliability-scores.npz"
    if not cache.exists():
        series = pixel_series(open_cube(path / "cube.zarr").read())
        model = Embedder(load("tiny-broad"))
        rng = np.random.default_rng(0)
        tokens = [series.tokens(rng) for _ in range(4)]
        draws = np.stack([model(t.s2, t.s1) for t in tokens])
        variants = []
        for v in reliability.variants(series, np.random.default_rng(1)):
            t = v.tokens(np.random.default_rng(2))
            out = np.full(draws.shape[1:], np.nan, np.float32)
            if t.ok.any():
                out[t.ok] = model(t.s2[t.ok], t.s1[t.ok])
            variants.append(out)
        np.savez(cache, draws=draws, variants=np.stack(variants), ok=tokens[0].ok)
    z = np.load(cache)
    return z["draws"], z["variants"], z["ok"], classes, fields


def scores(draws, variants, test, reference) -> dict[str, np.ndarray]:
    """Each candidate's trust (higher: more trusted) for the ``test`` pixels."""
    from sklearn.cluster import KMeans
    from sklearn.neighbors import NearestNeighbors

    e = draws[0]
    sd = e[reference].std(axis=0) + 1e-6
    x = e[test] / sd
    sample = e[reference][::4] / sd
    far = NearestNeighbors(n_neighbors=11).fit(sample).kneighbors(x)[0][:, -1]
    centres = np.sort(KMeans(10, n_init=3, random_state=0).fit(e[reference] / sd).transform(x), axis=1)
    return {
        "move across draws": -np.linalg.norm((draws[1:, test] - e[test]) / sd, axis=2).mean(axis=0),
        "move without radar": -np.nan_to_num(np.linalg.norm((variants[2, test] - e[test]) / sd, axis=1), nan=99.0),
        "10th-neighbour distance": -far,
        "k-means margin": (centres[:, 1] - centres[:, 0]) / (centres[:, 1] + centres[:, 0]),
    }


def main() -> None:
    from bench_reliability import scene_errors

    from tessera.heads.trust import reliability_auc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="dev")
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tessera-bench-reliability-scores"))
    a = ap.parse_args()
    for i in range(a.scenes):
        draws, variants, ok, classes, fields = embeddings(a.work, a.family, i)
        good = np.flatnonzero(ok & (classes != 255))
        embedded = np.where(ok[:, None], draws[0], np.nan)  # the head sees the pixels a store would hold
        aucs: dict[str, list[float]] = {}
        for split in range(a.splits):
            test, wrong, confidence = scene_errors(embedded, classes, fields, seed=split)
            found = {**scores(draws, variants, test, good), "head confidence": confidence}
            for name, trust in found.items():
                aucs.setdefault(name, []).append(reliability_auc(trust, wrong))
        line = "; ".join(f"{k} {' '.join(f'{v:.2f}' for v in vs)}" for k, vs in aucs.items())
        print(f"{a.family} {i} (AUC per split): {line}", flush=True)


if __name__ == "__main__":
    main()
