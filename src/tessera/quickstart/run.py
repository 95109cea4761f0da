"""The whole story on simulated data, offline: simulate → adapt → embed → read → heads → report.

Every number and picture in the report comes from this run. The steps are the library's own
(the same calls the individual commands make); only the orchestration lives here. The model
starts from the checkpoint shipped with the package (``tiny-broad``, pretrained on a broad family
of simulated landscapes that excludes this region) and is adapted to the region without labels.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from tessera.progress import Progress
from tessera.quickstart.config import FRACTIONS, HEADS, SHIPPED, QuickstartConfig
from tessera.quickstart.report import write_report


def run(out: Path, cfg: QuickstartConfig = QuickstartConfig(), progress: Progress | None = None) -> Path:
    """Run everything into ``out``; returns the report's path."""
    from tessera.access import open_store
    from tessera.access.region import read_grid
    from tessera.cube import cube_location, open_cube
    from tessera.embed import EmbedConfig, embed_cube
    from tessera.heads import learning_curve, summarise
    from tessera.heads.workflow import labelled_region
    from tessera.simulate import SimulationConfig, simulate, write_scene
    from tessera.train.adapt import AdaptConfig, adapt

    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    say = progress or (lambda stage, done, total: None)
    t = time.perf_counter()
    say("simulate the region", 0, 1)
    target = write_scene(
        simulate(SimulationConfig(height=cfg.size, width=cfg.size, seed=200 + cfg.seed, lon=0.3, lat=52.3)),
        out / "region",
        overwrite=True,
    )
    cube_path = cube_location(target)
    times["simulate"] = time.perf_counter() - t
    say("simulate the region", 1, 1)

    t = time.perf_counter()
    adapted = adapt(
        [cube_path],
        cfg.checkpoint,
        out / "adapt",
        AdaptConfig(steps=cfg.adapt_steps, minutes=cfg.minutes, seed=cfg.seed),
        progress=progress,
    )
    times["adapt"] = time.perf_counter() - t

    t = time.perf_counter()
    store_path, shipped_path = out / "embeddings.zarr", out / "embeddings-not-adapted.zarr"
    ecfg = EmbedConfig(seed=cfg.seed, draws=cfg.draws)
    summary = embed_cube(cube_path, adapted.checkpoint, store_path, ecfg, progress=progress)
    embed_cube(cube_path, cfg.checkpoint, shipped_path, ecfg, progress=progress)
    times["embed"] = time.perf_counter() - t

    t = time.perf_counter()
    say("learning curves", 0, 1)
    year = open_cube(cube_path).year
    region = labelled_region(
        open_store(store_path),
        year,
        target / "classes.tif",
        cube=cube_path,
        groups=target / "fields.tif",
        baselines=cube_path,
    )
    assert region.raw is not None and region.groups is not None, "baselines and fields were given"
    raw = {SHIPPED: read_grid(open_store(shipped_path), region.grid, year).data, **region.raw}
    feats, labels, rows, cols = dataclasses.replace(region, raw=raw).pixels()
    groups = region.groups[rows, cols]
    # Whole fields held out: test pixels never share a field with a training pixel.
    points = learning_curve(
        feats, labels, rows, cols, heads=HEADS, fractions=FRACTIONS, repeats=cfg.repeats, split="groups", groups=groups
    )
    acc = summarise(points, "accuracy")
    f1 = summarise(points, "macro_f1")
    times["heads"] = time.perf_counter() - t
    say("learning curves", 1, 1)

    say("maps and report", 0, 1)
    maps = _maps(region, feats, labels, rows, cols, groups, acc)
    _figures(out, region, maps, acc)
    say("maps and report", 1, 1)
    return write_report(out, cfg, acc, f1, maps, summary, times, len(labels), list(feats), adapted)


def _maps(region, feats, labels, rows, cols, groups, acc) -> dict[str, tuple[str, np.ndarray]]:
    """The best head at 10 % labels on the embeddings and on the best raw baseline, as class maps
    (-1: no prediction; class 0 is a class)."""
    from tessera.heads import make_head
    from tessera.heads.evaluate import draw_training, group_split

    train_idx = draw_training(labels, group_split(groups, seed=0), 0.10, np.random.default_rng(0), "classification")
    best_raw = max((n for n in feats if n.startswith("raw")), key=lambda n: max(acc[(n, hd, 0.10)][0] for hd in HEADS))
    h, w = region.labels.shape
    maps = {}
    for name in ("embeddings", best_raw):
        best = max(HEADS, key=lambda hd: acc[(name, hd, 0.10)][0])
        model = make_head(best, seed=0).fit(feats[name][train_idx], labels[train_idx])
        full = np.full((h, w), -1, int)
        full[rows, cols] = model.predict(feats[name])
        maps[name] = (best, full)
    return maps


def _figures(out: Path, region, maps, acc) -> None:
    from tessera.viz import pca_rgb, plot_learning_curves, save_png
    from tessera.viz.geo import class_rgba, rgb_rgba, save_rgb_geotiff, web_map

    figs = out / "report"
    figs.mkdir(exist_ok=True)
    rgb = pca_rgb(region.embeddings)
    save_png(figs / "pca.png", rgb, "embeddings: first three principal components")
    legend, top = region.legend, max(region.legend)
    save_png(figs / "truth.png", region.labels, "ground truth", cmap="tab10", legend=legend, vmax=top)
    for name, (head, m) in maps.items():
        save_png(figs / f"map_{name.replace(' ', '_')}.png", m, f"{name} + {head}, 10 % labels", cmap="tab10", vmax=top)
    save_rgb_geotiff(figs / "pca.tif", rgb, region.grid)
    layers = {"embeddings (PCA)": rgb_rgba(rgb), "ground truth": class_rgba(region.labels, top)}
    layers |= {f"{n} + {hd}, 10 % labels": class_rgba(m, top) for n, (hd, m) in maps.items()}
    web_map(figs / "map.html", region.grid, layers, legend=legend, vmax=top)
    plot_learning_curves(acc, figs / "learning_curve.png", "accuracy", "field hold-out, mean ± sd over draws")
