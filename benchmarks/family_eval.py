"""What the family benchmarks share: a family's scenes on disk, their embeddings through
``tessera embed``'s own path, and field hold-out learning curves read through the heads' own
label reader (the same route a user's ``tessera heads curve --split groups`` takes)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

FRACTIONS = (0.001, 0.01, 0.10)
HEADS = ("logistic", "rf")
YEAR = 2024  # the simulator's default year


def scene(work: Path, name: str, index: int) -> Path:
    """Scene ``index`` of family ``name`` under ``work`` (simulated once; a frozen family's
    scenes are checked against their recorded fingerprints)."""
    from tessera.simulate import simulate, write_scene
    from tessera.simulate.family import check_frozen, family

    path = work / f"{name}{index}"
    if not (path / "cube.zarr").exists():
        sim = simulate(family(name).config(index))
        check_frozen(name, index, sim)
        write_scene(sim, path, overwrite=True)
    return path


def embed(scene_dir: Path, checkpoint: Path, store: Path, draws: int) -> float:
    """Embed the scene into ``store`` (skipped if done); returns the seconds it took."""
    from tessera.embed import EmbedConfig, embed_cube

    t = time.perf_counter()
    embed_cube(scene_dir / "cube.zarr", checkpoint, store, EmbedConfig(seed=0, draws=draws))
    return time.perf_counter() - t


def pixels(scene_dir: Path, stores: dict[str, Path]):
    """(features by name, labels, rows, cols, field ids) of the labelled pixels that every
    feature set covers: each store's embeddings and the raw-band baselines ("raw …")."""
    import dataclasses

    from tessera.access import open_store
    from tessera.access.region import read_grid
    from tessera.heads.workflow import labelled_region

    (first, path), *rest = stores.items()
    region = labelled_region(
        open_store(path), YEAR, scene_dir / "classes.tif", cube=scene_dir / "cube.zarr", groups=scene_dir / "fields.tif"
    )
    extra = {name: read_grid(open_store(p), region.grid, YEAR).data for name, p in rest}
    region = dataclasses.replace(region, raw={**extra, **(region.raw or {})})
    feats, labels, rows, cols = region.pixels()
    feats[first] = feats.pop("embeddings")
    groups = region.groups[rows, cols]
    return feats, labels, rows, cols, groups


def curve(feats, labels, rows, cols, groups, repeats: int = 5, fractions=FRACTIONS, heads=HEADS):
    from tessera.heads import learning_curve

    return learning_curve(
        feats, labels, rows, cols, heads=heads, fractions=fractions, repeats=repeats, split="groups", groups=groups
    )


def best_head(points, features: str, fraction: float) -> tuple[str, float, float]:
    """The head with the best mean accuracy for ``features`` at ``fraction``: (head, mean, sd)."""
    accs: dict[str, list[float]] = {}
    for p in points:
        if p.features == features and p.fraction == fraction:
            accs.setdefault(p.head, []).append(p.metrics["accuracy"])
    head = max(accs, key=lambda h: np.mean(accs[h]))
    return head, float(np.mean(accs[head])), float(np.std(accs[head]))
