"""The quickstart's report: every number and picture of one run, in Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tessera.heads.evaluate import Summary, best_of
from tessera.quickstart.config import FRACTIONS, HEADS, SHIPPED, QuickstartConfig

if TYPE_CHECKING:
    from tessera.embed import EmbedSummary
    from tessera.train.adapt import AdaptResult


def _best(acc: Summary, frac: float, prefix: str) -> tuple[float, str]:
    found = best_of(acc, frac, prefix)
    if found is None:
        raise KeyError(f"the quickstart fitted no {prefix!r} feature set at {frac:.0%}")
    return found


def _verdict(acc: Summary, frac: float) -> tuple[bool, str]:
    """Embeddings' best head against the BEST raw baseline: any raw feature set, any head."""
    emb, raw = _best(acc, frac, "embeddings"), _best(acc, frac, "raw")
    return emb[0] > raw[0], f"{emb[0]:.3f} ({emb[1]}) vs {raw[0]:.3f} ({raw[1]})"


def write_report(
    out: Path,
    cfg: QuickstartConfig,
    acc: Summary,
    f1: Summary,
    maps: dict[str, tuple[str, np.ndarray]],
    summary: EmbedSummary,
    times: dict[str, float],
    n_labelled: int,
    names: list[str],
    adapted: AdaptResult,
) -> Path:
    """``out/report.md``: every figure of the run, the verdict against the best raw baseline."""
    from tessera.atomic import atomic_file

    lines = [
        "# tessera quickstart report",
        "",
        "Everything below was produced by this run of `tessera quickstart`, offline, on simulated Sentinel-1/2 data.",
        "",
        f"- model: the shipped `{cfg.checkpoint}` checkpoint (pretrained without labels on a broad family of "
        "simulated landscapes, not this one), adapted to this region without labels by `tessera adapt`: "
        f"{cfg.adapt_steps} steps, kept step {adapted.best_step} by {adapted.criterion} on held-back pixels "
        f"({adapted.score_start:.4g} → {adapted.score_best:.4g}; {times['adapt']:.0f} s incl. shards). "
        f"`{SHIPPED}` rows are the shipped checkpoint's own embeddings",
        f"- embedding: {summary.pixels + summary.nodata:,} px at {summary.pixels_per_second:,.0f} px/s "
        f"(mean of {cfg.draws} date draws per pixel) into `embeddings.zarr`",
        f"- heads: {', '.join(HEADS)} on {n_labelled:,} labelled pixels, {cfg.repeats} label draws per "
        "fraction, field hold-out (labels drawn in a random half of the fields, scored on the other "
        "fields: no test pixel shares a field with a training pixel)",
        "- baselines: the same heads on two raw-band feature sets — `raw seasonal` (per-band seasonal "
        "medians and 10/50/90th percentiles of valid S2 observations, seasonal S1 medians) and `raw "
        "monthly` (per-band monthly S2 medians, cloudy months interpolated); embeddings are compared "
        "with the best of them",
        "",
        "## Accuracy (mean ± sd)",
        "",
        "| features | head | " + " | ".join(f"{f:.0%}" for f in FRACTIONS) + " |",
        "|---|---|" + "---|" * len(FRACTIONS),
    ]
    for feats in names:
        for head in HEADS:
            cells = [f"{acc[(feats, head, fr)][0]:.3f} ± {acc[(feats, head, fr)][1]:.3f}" for fr in FRACTIONS]
            lines.append(f"| {feats} | {head} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Macro-F1 at 1 % / 10 %: "
        + "; ".join(
            f"{fe} + {hd}: {f1[(fe, hd, 0.01)][0]:.3f} / {f1[(fe, hd, 0.10)][0]:.3f}" for fe in names for hd in HEADS
        ),
        "",
    ]
    for frac in (0.01, 0.10):
        wins, text = _verdict(acc, frac)
        lines.append(
            f"- **{frac:.0%} labels:** best embeddings head vs best raw-band baseline: {text} — "
            + (
                "embeddings win."
                if wins
                else "embeddings do **not** win here; the model in this "
                "quickstart is small (0.2 M parameters) and has seen only simulated landscapes "
                "(see benchmarks/RESULTS.md for the frozen test family)."
            )
        )
        base = _best(acc, frac, SHIPPED)
        lines.append(
            f"  Adaptation: best head on the shipped model's embeddings {base[0]:.3f} ({base[1]}) → "
            f"{_best(acc, frac, 'embeddings')[0]:.3f} adapted."
        )
    lines += [
        "",
        "![learning curve](report/learning_curve.png)",
        "",
        "| embeddings (PCA) | ground truth | " + " | ".join(f"{n} + {h}" for n, (h, _) in maps.items()) + " |",
        "|---|---|" + "---|" * len(maps),
        "| ![pca](report/pca.png) | ![truth](report/truth.png) | "
        + " | ".join(f"![{n}](report/map_{n.replace(' ', '_')}.png)" for n in maps)
        + " |",
        "",
        "Web map (PCA, ground truth and both predictions as layers): [report/map.html](report/map.html); "
        "PCA false colour as GeoTIFF: `report/pca.tif`.",
        "",
        "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()),
        "",
    ]
    path = out / "report.md"
    with atomic_file(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path
