"""Does ``embed --reliability`` rank pixels by how likely a map is wrong there? (issue #28)

Each scene of a family is embedded with the shipped ``tiny-broad`` checkpoint and
``--reliability``. A random forest is fitted on half of the fields (whole fields held out) and
applied to the other half; the AUC of (1 − reliability) for telling the misclassified test pixels
from the right ones is printed per scene and pooled (0.5: no ranking; 1: every error ranked
below every correct pixel), beside the same AUC of the optical observation count (the ranking a
user has without reliability) and the head's own confidence. It also prints how the errors fall:
the share of them in held-out fields the head gets mostly wrong (a whole field among another
class's embeddings, which nothing about a pixel's own embedding can tell without labels), and the
AUC among the pixels of the fields it gets mostly right (the errors a per-pixel score could find).

    python benchmarks/bench_reliability.py --family test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def scene_arrays(work: Path, family: str, index: int):
    import rasterio
    from family_eval import scene

    from tessera.access import open_store
    from tessera.access.region import read_grid
    from tessera.cube import open_cube
    from tessera.embed import EmbedConfig, embed_cube

    path = scene(work, family, index)
    store = path / "store-reliability"
    embed_cube(path / "cube.zarr", "tiny-broad", store, EmbedConfig(report=False, reliability=True))
    grid = open_cube(path / "cube.zarr").grid
    reader = open_store(store)
    emb = read_grid(reader, grid, 2024).data
    quality = reader.grid_quality(grid, 2024)
    with rasterio.open(path / "classes.tif") as c, rasterio.open(path / "fields.tif") as f:
        return emb, quality["reliability"], quality["s2_obs_count"], c.read(1).astype(int), f.read(1).astype(int)


def scene_errors(emb, classes, fields, seed: int):
    """(test pixel indices, wrong (bool), confidence) of a field hold-out random forest."""
    from sklearn.ensemble import RandomForestClassifier

    from tessera.heads.evaluate import group_split

    d = emb.shape[-1]
    x, y, g = emb.reshape(-1, d), classes.ravel(), fields.ravel()
    ok = ~np.isnan(x).any(axis=1) & (y != 255)
    idx = np.flatnonzero(ok)
    train_half = group_split(g[idx], seed=seed)
    train, test = idx[train_half], idx[~train_half]
    head = RandomForestClassifier(200, n_jobs=-1, random_state=seed).fit(x[train], y[train])
    proba = head.predict_proba(x[test])
    pred = head.classes_[proba.argmax(axis=1)]
    return test, pred != y[test], proba.max(axis=1)


def field_shares(wrong: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """Per test pixel, the share of its field's test pixels that are wrong."""
    _, inverse = np.unique(fields, return_inverse=True)
    return (np.bincount(inverse, weights=wrong) / np.bincount(inverse))[inverse]


def main() -> None:
    from tessera.heads.trust import reliability_auc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="test")
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tessera-bench-reliability"))
    a = ap.parse_args()
    pooled: dict[str, list] = {"wrong": [], "reliability": [], "obs": [], "confidence": []}
    for i in range(a.scenes):
        t = time.perf_counter()
        emb, rel, obs, classes, fields = scene_arrays(a.work, a.family, i)
        test, wrong, conf = scene_errors(emb, classes, fields, seed=i)
        r, o = rel.ravel()[test], obs.ravel()[test]
        mostly_right = field_shares(wrong, fields.ravel()[test]) <= 0.5
        within = wrong[mostly_right]
        print(
            f"scene {i}: {len(test):,} test pixels, {wrong.mean():.1%} wrong; AUC reliability "
            f"{reliability_auc(r, wrong):.3f}, optical count {reliability_auc(o, wrong):.3f}, "
            f"head confidence {reliability_auc(conf, wrong):.3f}; {1 - within.sum() / wrong.sum():.0%} of the "
            f"errors in fields mostly wrong, AUC reliability among the others' pixels "
            f"{reliability_auc(r[mostly_right], within) if within.any() else float('nan'):.3f} "
            f"({time.perf_counter() - t:.0f} s)",
            flush=True,
        )
        for k, v in (("wrong", wrong), ("reliability", r), ("obs", o), ("confidence", conf)):
            pooled[k].append(v)
    w = np.concatenate(pooled["wrong"])
    line = ", ".join(
        f"{k} {reliability_auc(np.concatenate(pooled[k]), w):.3f}" for k in ("reliability", "obs", "confidence")
    )
    print(f"pooled AUC against per-pixel error ({a.family} family): {line} (target: reliability ≥ 0.7)")


if __name__ == "__main__":
    main()
