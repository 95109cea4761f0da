"""The README's pictures of issue #28, from the benchmarks' work folders (run those first):

python benchmarks/bench_change.py && python benchmarks/bench_reliability.py --family test
python benchmarks/trust_figures.py --out docs/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def _fig(n: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.4), dpi=110)
    for ax in np.atleast_1d(axes):
        ax.set_axis_off()
    return fig, np.atleast_1d(axes)


def dating(work: Path, out: Path) -> None:
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    from tessera.access import open_store
    from tessera.cube import open_cube
    from tessera.heads.dating import date_changes

    scene = sorted(work.glob("history0_*"))[0]
    years = tuple(range(2018, 2025))
    truth = np.load(scene / "truth.npz")
    result = date_changes(open_store(scene / "store"), open_cube(scene / "cube2018.zarr").grid, years)
    shown = np.where(result.changed, result.year, 0)
    cmap = ListedColormap(["#f0f0f0", "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#999999"])
    norm = BoundaryNorm([-0.5, *np.arange(len(years)) + 0.5], cmap.N)
    fig, (a, b) = _fig(2)
    for ax, img, title in (
        (a, truth["change_year"], "true year of change"),
        (b, shown, "dated (false-alarm rate 1 %)"),
    ):
        idx = np.where(img > 0, img - years[0], 0)
        ax.imshow(idx, cmap=cmap, norm=norm, interpolation="nearest")
        ax.set_title(title, fontsize=10)
    handles = [Patch(color=cmap(i), label=str(y)) for i, y in enumerate(years) if i] + [
        Patch(color=cmap(0), label="none")
    ]
    b.legend(handles=handles, fontsize=7, loc="lower right", framealpha=0.9)
    fig.tight_layout()
    fig.savefig(out / "change-dating.png")


def reliability(work: Path, out: Path) -> None:
    from bench_reliability import scene_arrays

    _, rel, obs, _, _ = scene_arrays(work, "test", 0)
    fig, (a, b) = _fig(2)
    im = a.imshow(rel, cmap="viridis", vmin=np.nanquantile(rel, 0.02), vmax=np.nanquantile(rel, 0.98))
    a.set_title("reliability (embed --reliability)", fontsize=10)
    fig.colorbar(im, ax=a, fraction=0.046)
    im = b.imshow(obs, cmap="cividis")
    b.set_title("clear Sentinel-2 dates", fontsize=10)
    fig.colorbar(im, ax=b, fraction=0.046)
    fig.tight_layout()
    fig.savefig(out / "reliability.png")


def applicability(work: Path, out: Path) -> None:
    from bench_reliability import scene_arrays
    from sklearn.ensemble import RandomForestClassifier

    from tessera.heads.applicability import block_groups, fit_applicability
    from tessera.simulate.classes import CLASSES

    emb, _, _, classes, _ = scene_arrays(work, "test", 0)
    h, w, d = emb.shape
    x, y = emb.reshape(-1, d), classes.ravel()
    rows, cols = np.divmod(np.arange(h * w), w)
    unseen = (7, 8)  # water and built-up: no label of them
    rng = np.random.default_rng(0)
    train = ~np.isin(y, unseen) & (rng.random(h * w) < 0.05) & ~np.isnan(x).any(axis=1)
    aoa = fit_applicability(x[train], block_groups(rows[train], cols[train]), y[train])
    ok = ~np.isnan(x).any(axis=1)
    di = np.full(h * w, np.nan, np.float32)
    di[ok] = aoa.index(x[ok])
    pred = np.full(h * w, -1)
    pred[ok] = RandomForestClassifier(100, random_state=0, n_jobs=-1).fit(x[train], y[train]).predict(x[ok])
    fig, (a, b) = _fig(2)
    from matplotlib.colors import ListedColormap

    a.imshow(
        np.ma.masked_less(pred.reshape(h, w), 0),
        cmap=ListedColormap([c.colour for c in CLASSES]),
        vmin=-0.5,
        vmax=len(CLASSES) - 0.5,
        interpolation="nearest",
    )
    a.set_title("map from labels without water or buildings", fontsize=10)
    inside = aoa.inside(di).reshape(h, w)
    b.imshow(np.where(inside, 1, 0), cmap=ListedColormap(["#d7301f", "#e8f0e8"]), interpolation="nearest")
    b.contour(np.isin(classes, unseen), levels=[0.5], colors="k", linewidths=0.6)
    b.set_title("outside the area of applicability (red); unseen covers outlined", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "applicability.png")


def suggestions(work: Path, out: Path) -> None:
    from bench_reliability import scene_arrays

    from tessera.heads.suggest import rank_units
    from tessera.viz import pca_rgb

    emb, _, _, classes, fields = scene_arrays(work, "test", 0)
    d = emb.shape[-1]
    x, y, fid = emb.reshape(-1, d), classes.ravel(), fields.ravel()
    ok = ~np.isnan(x).any(axis=1)
    rng = np.random.default_rng(1)
    start = rng.choice(np.unique(fid[ok]), 6, replace=False)
    lab = ok & np.isin(fid, start)
    cand = ok & ~lab
    found = rank_units(x[cand], fid[cand], x[lab], y[lab], 8, fid[lab])
    fig, (a,) = _fig(1)
    a.imshow(pca_rgb(emb))
    a.contour(np.isin(fields, start), levels=[0.5], colors="white", linewidths=1.2)
    for s in found:
        a.contour(fields == s.unit, levels=[0.5], colors="#ff2020", linewidths=1.4)
        r, c = np.argwhere(fields == s.unit).mean(axis=0)
        a.text(c, r, str(s.rank), color="white", fontsize=9, ha="center", va="center", weight="bold")
    a.set_title("labelled fields (white), the next 8 to label (red, ranked)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "suggest.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs"))
    ap.add_argument("--change-work", type=Path, default=Path("/tmp/tessera-bench-change"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/tessera-bench-reliability"))
    ap.add_argument("--only", nargs="+", choices=FIGURES, default=list(FIGURES), help="draw only these figures")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for name in a.only:
        FIGURES[name](a.change_work if name == "change-dating" else a.work, a.out)
    print("wrote " + ", ".join(str(a.out / f"{n}.png") for n in a.only))


FIGURES = {"change-dating": dating, "reliability": reliability, "applicability": applicability, "suggest": suggestions}


if __name__ == "__main__":
    main()
