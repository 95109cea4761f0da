"""``tessera heads curve|fit|predict``: learning curves, saved heads and class maps."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import typer

from tessera.cli.app import (DEPTH_OPT, STORE_ARG, YEAR_OPT, app, check_writable, console, cube_path,
                             parse_bbox, parse_depths)  # fmt: skip
from tessera.errors import ConfigError
from tessera.heads.labels import NO_LABEL

heads_app = typer.Typer(help="Small heads on embeddings: learning curves, fitting, maps.", no_args_is_help=True)
app.add_typer(heads_app, name="heads")
LABELS_OPT = typer.Option(..., help="Label raster (GeoTIFF, 0 = unlabelled) or vector file.")
COLUMN_OPT = typer.Option(None, help="Class column of vector labels.")
BBOX_OPT = typer.Option(None, help="W,S,E,N in degrees: the region, for vector labels.")
TASK_OPT = typer.Option("classification", help="classification (class ids, 0 = unlabelled) or regression "
                        "(values; no data = unlabelled).")


def _region(store: str, labels: Path, year: int, column: str | None, bbox: str | None, cube: Path | None,
            task: str = "classification", depth: int | None = None, groups: Path | None = None,
            group_column: str | None = None):  # fmt: skip
    from tessera.access import open_store
    from tessera.heads.workflow import labelled_region

    cube = cube_path(cube) if cube is not None else None
    with console.status(f"reading {year} embeddings and the labels of {labels.name} …"):
        return labelled_region(open_store(store), year, labels, column, parse_bbox(bbox) if bbox else None, cube,
                               task, depth, groups, group_column)  # fmt: skip


@heads_app.command("curve")
def curve_command(
    store: str = STORE_ARG,
    labels: Path = LABELS_OPT,
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (curve.csv, curve.png)."),
    column: str = COLUMN_OPT,
    bbox: str = BBOX_OPT,
    cube: Path = typer.Option(None, help="The region's cube: its grid, plus a raw-band baseline."),
    heads: str = typer.Option("logistic,rf", help="Comma-separated: logistic, knn, rf, mlp."),
    fractions: str = typer.Option("0.01,0.05,0.1,0.2,0.5,1", help="Comma-separated label fractions."),
    split: str = typer.Option("spatial", help="groups (whole fields held out; needs --groups), spatial "
                              "(16-px blocks) or random hold-out."),
    groups: Path = typer.Option(None, help="Group (field) ids for --split groups: a raster, or a vector "
                                "file with --group-column."),
    group_column: str = typer.Option(None, help="Group id column of a vector --groups file."),
    repeats: int = typer.Option(3, help="Label draws per fraction."),
    task: str = TASK_OPT,
    depth: str = typer.Option("", "--depth", help="Matryoshka depths to compare, e.g. 16,32,64,128: one "
                              "curve per prefix of the embeddings (default: the full embedding)."),
) -> None:
    """Accuracy and macro-F1 (or RMSE, MAE, R²) against the fraction of labels used, as CSV + PNG."""
    check_writable(out)
    from tessera.atomic import atomic_file
    from tessera.heads import learning_curve, summarise
    from tessera.viz import plot_learning_curves

    depths = parse_depths(depth, "--depth")
    if split not in ("groups", "spatial", "random"):
        raise ConfigError(f"--split {split!r} must be groups, spatial or random")
    if (split == "groups") != (groups is not None):
        raise ConfigError("--split groups and --groups FILE go together: give both or neither")
    region = _region(store, labels, year, column, bbox, cube, task, groups=groups, group_column=group_column)
    feats, y, rows, cols = region.pixels()
    group_ids = region.groups[rows, cols] if region.groups is not None else None
    if depths:  # a prefix of the full vectors is exactly what the prefix arrays hold
        full = feats.pop("embeddings")
        if depths[-1] > full.shape[1]:
            raise ConfigError(f"--depth {depths[-1]} exceeds the store's {full.shape[1]} dimensions")
        feats = {f"embeddings d{d}": full[:, :d] for d in depths} | feats
    metrics = ("accuracy", "macro_f1") if task == "classification" else ("rmse", "mae", "r2")
    try:
        fracs = tuple(float(f) for f in fractions.split(","))
    except ValueError as exc:
        raise ConfigError(f"--fractions {fractions!r} must be comma-separated numbers in (0, 1]") from exc
    if not all(0 < f <= 1 for f in fracs):
        raise ConfigError(f"--fractions {fractions!r} must lie in (0, 1]")
    with console.status("fitting heads at every label fraction …"):
        points = learning_curve(feats, y, rows, cols, heads=tuple(heads.split(",")), fractions=fracs,
                                split=split, repeats=repeats, task=task, groups=group_ids)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "curve.csv") as tmp, open(tmp, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["features", "head", "split", "fraction", "repeat", "n_train", *metrics])
        for p in points:
            wr.writerow([p.features, p.head, p.split, p.fraction, p.repeat, p.n_train,
                         *(round(p.metrics[m], 5) for m in metrics)])  # fmt: skip
    main = metrics[0] if task == "classification" else "r2"
    acc = summarise(points, main)
    plot_learning_curves(acc, out / "curve.png", main, f"{split} hold-out, {len(y):,} labelled pixels")
    _print_best_raw(acc, main)
    for (f, h, fr), (m, sd) in sorted(acc.items()):
        if fr in (0.01, 0.1):
            console.print(f"{f:>11} + {h:<8} {fr:>4.0%} labels: {main} {m:.3f} ± {sd:.3f}")
    console.print(f"wrote [bold]{out / 'curve.csv'}[/] and [bold]{out / 'curve.png'}[/]")


def _print_best_raw(acc: dict, metric: str) -> None:
    """Embeddings against the BEST raw-band baseline (any feature set, any head) per fraction."""
    from tessera.heads.evaluate import best_of

    for fr in sorted({k[2] for k in acc}):
        emb, raw = best_of(acc, fr, "embeddings"), best_of(acc, fr, "raw")
        if emb and raw:
            console.print(f"{fr:>5.0%} labels: best embeddings {emb[0]:.3f} ({emb[1]}) vs best raw {raw[0]:.3f} "
                          f"({raw[1]}) → {'embeddings' if emb[0] > raw[0] else 'raw bands'} ahead by "
                          f"{abs(emb[0] - raw[0]):.3f}")  # fmt: skip


def _fit(region, head: str):
    with console.status(f"fitting a {head} head …"):
        return _fit_quietly(region, head)


def _fit_quietly(region, head: str):
    from tessera.heads import make_head

    feats, y, _, _ = region.pixels()
    if region.task == "regression":
        if head == "unet":
            raise ConfigError("the UNet head does classification only; use ridge, rf or mlp for regression")
        return make_head(head, "regression").fit(feats["embeddings"], y), len(y)
    if len(np.unique(y)) < 2:
        raise ConfigError(f"the labels hold one class only ({np.unique(y).tolist()}); a classifier needs two or more")
    if head == "unet":
        from tessera.heads.unet import UNetHead

        return UNetHead().fit(region.embeddings, region.labels), len(y)
    return make_head(head).fit(feats["embeddings"], y), len(y)


def _meta(region, head: str, year: int, store: str, n: int) -> dict:
    import tessera
    from tessera.access import open_store
    from tessera.heads.persist import embedding_model

    return {"head": head, "task": region.task, "year": year, "store": store, "n_labelled": n,
            "model": embedding_model(open_store(store)),
            "embed_dim": int(region.embeddings.shape[2]), "legend": {str(k): v for k, v in region.legend.items()},
            "tessera": tessera.__version__}  # fmt: skip


@heads_app.command("fit")
def fit_command(
    store: str = STORE_ARG,
    labels: Path = LABELS_OPT,
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Saved head: .skops (logistic/knn/rf/mlp), .safetensors (unet)."),
    column: str = COLUMN_OPT,
    bbox: str = BBOX_OPT,
    cube: Path = typer.Option(None, help="The region's cube (its grid)."),
    head: str = typer.Option("rf", help="logistic, knn, rf, mlp or unet; regression: ridge, rf or mlp."),
    task: str = TASK_OPT,
    depth: int = DEPTH_OPT,
) -> None:
    """Fit a head on every labelled pixel and save it (no pickle) for `heads predict --model`."""
    check_writable(out)
    from tessera.heads.persist import save_head

    want = ".safetensors" if head == "unet" else ".skops"
    if out.suffix != want:
        raise ConfigError(f"--out {out}: a {head} head is saved as {want}")
    region = _region(store, labels, year, column, bbox, cube, task, depth)
    model, n = _fit(region, head)
    save_head(out, model, _meta(region, head, year, store, n))
    console.print(f"wrote [bold]{out}[/]: {task} {head} on {n:,} labelled pixels"
                  + (f", classes {region.legend}" if region.legend else ""))  # fmt: skip


def _predict(model, emb: np.ndarray, task: str) -> np.ndarray:
    from tessera.heads.unet import UNetHead

    if isinstance(model, UNetHead):
        return model.predict(emb)
    h, w, d = emb.shape
    flat = emb.reshape(h * w, d)
    ok = ~np.isnan(flat).any(axis=1)
    pred = np.full(h * w, NO_LABEL, np.int32) if task == "classification" else np.full(h * w, np.nan, np.float32)
    if ok.any():
        pred[ok] = model.predict(flat[ok])
    return pred.reshape(h, w)


@heads_app.command("predict")
def predict_command(
    store: str = STORE_ARG,
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Output map (.tif); .json legend and .png beside it."),
    model: Path = typer.Option(None, help="A head saved by `heads fit`."),
    labels: Path = typer.Option(None, help="…or labels to fit a head on first (raster or vector file)."),
    column: str = COLUMN_OPT,
    bbox: str = typer.Option(None, help="W,S,E,N in degrees: the region to map."),
    cube: Path = typer.Option(None, help="The region's cube (its grid)."),
    head: str = typer.Option("rf", help="With --labels: logistic, knn, rf, mlp or unet; regression: ridge, rf, mlp."),
    task: str = TASK_OPT,
    html: Path = typer.Option(None, help="Also write a web map (.html) with PCA and prediction layers."),
    allow_other_model: bool = typer.Option(False, help="Apply a head to embeddings of another model than it was fitted on."),
    depth: int = typer.Option(None, "--depth", min=1, help="With --labels: fit on the first N (Matryoshka) "
                              "dimensions. A saved head reads the depth it was fitted on."),
) -> None:
    """Map a region with a head (saved, or fitted here on --labels): GeoTIFF, -1 = no data."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.access.region import read_grid
    from tessera.heads.persist import check_model, embedding_model, load_head
    from tessera.heads.workflow import region_grid

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"--out {out} must be a .tif")
    if (model is None) == (labels is None):
        raise ConfigError("give exactly one of --model (a saved head) or --labels (fit one now)")
    if model is not None:
        fitted, meta = load_head(model)
        check_model(meta, embedding_model(open_store(store)), allow_other_model)
        if meta.get("year") not in (None, year):
            console.print(f"[yellow]note:[/] the head was fitted on {meta['year']} embeddings, mapping {year}")
        grid = region_grid(None, parse_bbox(bbox) if bbox else None, cube_path(cube) if cube is not None else None)
        reader = open_store(store)
        fitted_depth = int(meta["embed_dim"])
        if depth not in (None, fitted_depth):
            raise ConfigError(f"the head was fitted on {fitted_depth}-d embeddings; drop --depth {depth}")
        emb = read_grid(reader, grid, year, fitted_depth if fitted_depth < reader.embed_dim(year) else None).data
        if emb.shape[2] != meta["embed_dim"]:
            raise ConfigError(f"the store has {emb.shape[2]}-d embeddings; the head was fitted on {meta['embed_dim']}-d")
        legend = {int(k): v for k, v in meta["legend"].items()}
        n, head, task = meta["n_labelled"], meta["head"], meta.get("task", "classification")
    else:
        region = _region(store, labels, year, column, bbox, cube, task, depth)
        fitted, n = _fit(region, head)
        grid, emb, legend = region.grid, region.embeddings, region.legend
    pred = _predict(fitted, emb, task)
    tags = {"head": head, "task": task, "year": str(year), "n_labelled": str(n)}
    if task == "classification":
        write_class_map(out, pred, grid, legend, tags)
    else:
        write_value_map(out, pred, grid, tags)
    if html is not None:
        from tessera.viz import pca_rgb
        from tessera.viz.geo import class_rgba, rgb_rgba, value_rgba, web_map

        top = max(legend) if legend else 1
        layer = class_rgba(pred, top) if task == "classification" else value_rgba(pred)
        web_map(html, grid, {"embeddings (PCA)": rgb_rgba(pca_rgb(emb)), f"{head} prediction": layer},
                legend=legend or None, vmax=top)  # fmt: skip
        console.print(f"wrote [bold]{html}[/]")
    h, w = pred.shape
    mapped = (pred != NO_LABEL) if task == "classification" else ~np.isnan(pred)
    console.print(f"wrote [bold]{out}[/]: {h} × {w} px, {mapped.mean():.1%} mapped, {task} head {head} on {n:,} labels")


def write_class_map(out: Path, pred: np.ndarray, grid, legend: dict[int, str], tags: dict[str, str]) -> None:
    """GeoTIFF (COG, -1 = no data) + ``.json`` legend + ``.png`` in the report's class colours."""
    from tessera.access.export import write_cog
    from tessera.atomic import atomic_file
    from tessera.viz import save_png

    write_cog(out, pred.astype(np.int32)[None], grid, NO_LABEL, tags)
    with atomic_file(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({str(k): v for k, v in legend.items()}, indent=1))
    top = max(legend) if legend else 1
    save_png(out.with_suffix(".png"), pred, f"{tags.get('head', '')} prediction", cmap="tab10", legend=legend, vmax=top)


def write_value_map(out: Path, pred: np.ndarray, grid, tags: dict[str, str]) -> None:
    """Float32 GeoTIFF (COG, NaN = no data) + ``.png`` (viridis) of a regression map."""
    from tessera.access.export import write_cog
    from tessera.viz import save_png

    write_cog(out, pred.astype(np.float32)[None], grid, float("nan"), tags)
    save_png(out.with_suffix(".png"), pred, f"{tags.get('head', '')} prediction", cmap="viridis")
