"""The whole story on simulated data, offline: simulate → pretrain → embed → read → heads → report.

Every number and picture in the report comes from this run. The steps are the library's own
(the same calls the individual commands make); only the orchestration lives here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tessera.progress import Progress

FRACTIONS = (0.01, 0.05, 0.10, 0.20, 0.50, 1.00)
HEADS = ("logistic", "rf")


@dataclass(frozen=True)
class QuickstartConfig:
    train_scenes: int = 4  # simulated regions for pretraining (the target region is not one of them)
    train_size: int = 96  # their side, px
    size: int = 128  # target region side, px (1.28 km)
    minutes: float = 4.0  # pretraining budget on the CPU
    steps: int = 400
    repeats: int = 5  # label draws per fraction
    draws: int = 16  # 40-date draws averaged per pixel: less sampling noise in each embedding
    seed: int = 0


def run(out: Path, cfg: QuickstartConfig = QuickstartConfig(), progress: Progress | None = None) -> Path:
    """Run everything into ``out``; returns the report's path."""
    from tessera.access import open_store
    from tessera.access.region import read_grid
    from tessera.cube import open_cube
    from tessera.embed import EmbedConfig, embed_cube
    from tessera.heads import learning_curve, make_head, summarise
    from tessera.heads.features import raw_feature_sets
    from tessera.simulate import SimulationConfig, read_labels, simulate, write_scene
    from tessera.simulate.classes import NODATA_CLASS
    from tessera.train import ShardConfig, TrainConfig, train, write_shards
    from tessera.viz import pca_rgb, plot_learning_curves, save_png

    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t = time.perf_counter()
    scenes = []
    for i in range(cfg.train_scenes):
        sim = SimulationConfig(height=cfg.train_size, width=cfg.train_size, seed=100 + i, lon=0.12 + 0.05 * i)
        scenes.append(write_scene(simulate(sim), out / f"train{i}", overwrite=True))
        if progress:
            progress("simulate", i + 1, cfg.train_scenes + 2)
    val = write_scene(simulate(SimulationConfig(height=64, width=64, seed=300, lon=0.5)), out / "val", overwrite=True)
    target = write_scene(simulate(SimulationConfig(height=cfg.size, width=cfg.size, seed=200 + cfg.seed, lon=0.3,
                                                   lat=52.3)), out / "region", overwrite=True)  # fmt: skip
    if progress:
        progress("simulate", cfg.train_scenes + 2, cfg.train_scenes + 2)
    times["simulate"] = time.perf_counter() - t

    t = time.perf_counter()
    shards = write_shards([s / "cube.zarr" for s in scenes], out / "shards",
                          ShardConfig(samples_per_epoch=30_000, shard_size=15_000, epochs=2, seed=cfg.seed),
                          overwrite=True)  # fmt: skip
    tcfg = TrainConfig(preset="tiny", steps=cfg.steps, batch_size=256, lr=2e-3, warmup_steps=40,
                       checkpoint_every=100, eval_every=100, val_scene=str(val), seed=cfg.seed,
                       time_limit_s=cfg.minutes * 60)  # fmt: skip
    train(tcfg, shards, out / "run", progress=progress)
    checkpoint = out / "run" / "model.safetensors"
    times["pretrain"] = time.perf_counter() - t

    t = time.perf_counter()
    store_path = out / "embeddings.zarr"
    summary = embed_cube(target / "cube.zarr", checkpoint, store_path, EmbedConfig(seed=cfg.seed, draws=cfg.draws),
                         progress=progress)  # fmt: skip
    times["embed"] = time.perf_counter() - t

    t = time.perf_counter()
    cube = open_cube(target / "cube.zarr")
    region = read_grid(open_store(store_path), cube.grid, cube.year)
    emb = region.data
    raw = raw_feature_sets(cube.read())
    truth = read_labels(target)
    labels, fields = truth["classes"].astype(int), truth["fields"].astype(int).ravel()
    legend = {c["id"]: c["name"] for c in json.loads((target / "legend.json").read_text())}
    h, w = labels.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    flat = {"embeddings": emb.reshape(h * w, -1)} | {k: v.reshape(h * w, -1) for k, v in raw.items()}
    keep = labels.ravel() != NODATA_CLASS
    for x in flat.values():
        keep &= ~np.isnan(x).any(1)
    feats = {k: v[keep] for k, v in flat.items()}
    # Whole fields held out: test pixels never share a field with a training pixel.
    points = learning_curve(feats, labels.ravel()[keep], rows[keep], cols[keep], heads=HEADS,
                            fractions=FRACTIONS, repeats=cfg.repeats, split="groups", groups=fields[keep])  # fmt: skip
    acc = summarise(points, "accuracy")
    f1 = summarise(points, "macro_f1")
    times["heads"] = time.perf_counter() - t

    # Maps: the best head at 10 % labels on the embeddings and on the best raw baseline.
    from tessera.heads.evaluate import draw_training, group_split

    pool = group_split(fields[keep], seed=0)
    train_idx = draw_training(labels.ravel()[keep], pool, 0.10, np.random.default_rng(0), "classification")
    best_raw = max(raw, key=lambda n: max(acc[(n, hd, 0.10)][0] for hd in HEADS))
    maps = {}
    for name in ("embeddings", best_raw):
        x = feats[name]
        best = max(HEADS, key=lambda hd: acc[(name, hd, 0.10)][0])
        model = make_head(best, seed=0).fit(x[train_idx], labels.ravel()[keep][train_idx])
        full = np.full(h * w, -1, int)  # -1: no prediction (class 0 is winter cereal)
        full[keep] = model.predict(x)
        maps[name] = (best, full.reshape(h, w))
    figs = out / "report"
    figs.mkdir(exist_ok=True)
    rgb = pca_rgb(emb)
    save_png(figs / "pca.png", rgb, "embeddings: first three principal components")
    top = max(legend)
    labels = np.where(labels == NODATA_CLASS, -1, labels)  # class maps mark "none" with -1
    save_png(figs / "truth.png", labels, "ground truth", cmap="tab10", legend=legend, vmax=top)
    for name, (head, m) in maps.items():
        save_png(figs / f"map_{name.replace(' ', '_')}.png", m, f"{name} + {head}, 10 % labels", cmap="tab10",
                 vmax=top)  # fmt: skip
    from tessera.viz.geo import class_rgba, rgb_rgba, save_rgb_geotiff, web_map

    save_rgb_geotiff(figs / "pca.tif", rgb, cube.grid)
    layers = {"embeddings (PCA)": rgb_rgba(rgb), "ground truth": class_rgba(labels, top)}
    layers |= {f"{n} + {hd}, 10 % labels": class_rgba(m, top) for n, (hd, m) in maps.items()}
    web_map(figs / "map.html", cube.grid, layers, legend=legend, vmax=top)
    plot_learning_curves(acc, figs / "learning_curve.png", "accuracy",
                         "field hold-out, mean ± sd over draws")  # fmt: skip
    report = write_report(out, cfg, acc, f1, maps, summary, times, int(keep.sum()), list(feats))
    return report


def _verdict(acc, frac: float) -> tuple[bool, str]:
    """Embeddings' best head against the BEST raw baseline: any raw feature set, any head."""
    from tessera.heads.evaluate import best_of

    emb, raw = best_of(acc, frac, "embeddings"), best_of(acc, frac, "raw")
    return emb[0] > raw[0], f"{emb[0]:.3f} ({emb[1]}) vs {raw[0]:.3f} ({raw[1]})"


def write_report(out: Path, cfg: QuickstartConfig, acc, f1, maps, summary, times, n_labelled: int,
                 names: list[str]) -> Path:  # fmt: skip
    from tessera.atomic import atomic_file

    lines = ["# tessera quickstart report", "",
             "Everything below was produced by this run of `tessera quickstart`, offline, on simulated "
             "Sentinel-1/2 data.", "",
             f"- pretraining: `tiny` preset on {cfg.train_scenes} simulated regions, ≤ {cfg.minutes:g} min "
             f"({times['pretrain']:.0f} s incl. shards)",
             f"- embedding: {summary.pixels + summary.nodata:,} px at {summary.pixels_per_second:,.0f} px/s "
             f"(mean of {cfg.draws} date draws per pixel) into `embeddings.zarr`",
             f"- heads: {', '.join(HEADS)} on {n_labelled:,} labelled pixels, {cfg.repeats} label draws per "
             "fraction, field hold-out (labels drawn in a random half of the fields, scored on the other "
             "fields: no test pixel shares a field with a training pixel)",
             "- baselines: the same heads on two raw-band feature sets — `raw seasonal` (per-band seasonal "
             "medians and 10/50/90th percentiles of valid S2 observations, seasonal S1 medians) and `raw "
             "monthly` (per-band monthly S2 medians, cloudy months interpolated); embeddings are compared "
             "with the best of them", "",
             "## Accuracy (mean ± sd)", "",
             "| features | head | " + " | ".join(f"{f:.0%}" for f in FRACTIONS) + " |",
             "|---|---|" + "---|" * len(FRACTIONS)]  # fmt: skip
    for feats in names:
        for head in HEADS:
            cells = [f"{acc[(feats, head, fr)][0]:.3f} ± {acc[(feats, head, fr)][1]:.3f}" for fr in FRACTIONS]
            lines.append(f"| {feats} | {head} | " + " | ".join(cells) + " |")
    lines += ["", "Macro-F1 at 1 % / 10 %: " + "; ".join(
        f"{fe} + {hd}: {f1[(fe, hd, 0.01)][0]:.3f} / {f1[(fe, hd, 0.10)][0]:.3f}"
        for fe in names for hd in HEADS), ""]  # fmt: skip
    for frac in (0.01, 0.10):
        wins, text = _verdict(acc, frac)
        lines.append(f"- **{frac:.0%} labels:** best embeddings head vs best raw-band baseline: {text} — "
                     + ("embeddings win." if wins else "embeddings do **not** win here; the model in this "
                        "quickstart is pretrained for minutes on a CPU, so its features are still weak "
                        "(see benchmarks/RESULTS.md for longer runs)."))  # fmt: skip
    lines += ["", "![learning curve](report/learning_curve.png)", "",
              "| embeddings (PCA) | ground truth | " + " | ".join(f"{n} + {h}" for n, (h, _) in maps.items()) + " |",
              "|---|---|" + "---|" * len(maps),
              "| ![pca](report/pca.png) | ![truth](report/truth.png) | "
              + " | ".join(f"![{n}](report/map_{n.replace(' ', '_')}.png)" for n in maps) + " |", "",
              "Web map (PCA, ground truth and both predictions as layers): [report/map.html](report/map.html); "
              "PCA false colour as GeoTIFF: `report/pca.tif`.", "",
              "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()), ""]  # fmt: skip
    path = out / "report.md"
    with atomic_file(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path
