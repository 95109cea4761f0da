"""The check after ``embed``: a machine-readable verdict and pictures beside the store.

``STORE.report/{zone}_{period}_{cube}/`` holds ``report.json`` and ``coverage.png`` /
``counts.png``, made from what the store holds over the cube (read back, so a resumed run reports
the whole area, not only its own blocks). Figures: pixels embedded, refused and why, with no
observation; radar-free share; the distribution of clear optical observations; embedding norms and
the share of variance in the first principal component; and the model's agreement with itself —
the stored embeddings against the same pixels re-embedded from a random half of their dates.
Barlow Twins trains exactly that invariance, so a trained model keeps a pixel close to itself and
far from others, while a broken one (random weights, a wrong checkpoint) does not.

Verdict: ``unusable`` (exit non-zero) when nothing was embedded, a stored value is not finite, or
the self-agreement is below :data:`AGREEMENT_MIN`; ``suspect`` (a warning) for weak but usable
signs; else ``pass``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tessera.atomic import atomic_file
from tessera.embed.quality import BELOW_OPTICAL, NO_RADAR, OUTSIDE_MASK, Rules, block_layers
from tessera.grid import Window
from tessera.model.binning import student_tokens
from tessera.model.sampling import N_TIMESTEPS, PixelSeries, pixel_series
from tessera.quantize import dequantize
from tessera.store import StoreWriter, Zone, place

#: Centred cosine of a pixel with its own half-dates re-embedding, less that with other pixels:
#: tiny-broad gives 0.73 on a simulated scene, random tiny weights 0.33–0.41 (``tests/embed/test_windows_rules.py``).
AGREEMENT_MIN = 0.5
AGREEMENT_WEAK = 0.6
SAMPLE = 512  # pixels re-embedded for the agreement (a few seconds of the full v1 model on a CPU)
FIRST_PC_MAX = 0.9  # a first component holding more of the variance means collapsed embeddings


@dataclass
class Report:
    verdict: str  # pass | suspect | unusable
    reasons: list[str]
    figures: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def unusable(self) -> bool:
        return self.verdict == "unusable"


def _halve(series: PixelSeries, rng: np.random.Generator) -> PixelSeries:
    """The same pixels with a random half of their observations withheld (each sensor)."""
    keep2 = rng.random(series.s2_mask.shape) < 0.5
    keep_a = rng.random(series.s1_ascending.shape[:2]) < 0.5
    keep_d = rng.random(series.s1_descending.shape[:2]) < 0.5
    return PixelSeries(
        series.s2_bands,
        (series.s2_mask.astype(bool) & keep2).astype(np.uint8),
        series.s2_doy,
        np.where(keep_a[..., None], series.s1_ascending, 0).astype(series.s1_ascending.dtype),
        series.s1_ascending_doy,
        np.where(keep_d[..., None], series.s1_descending, 0).astype(series.s1_descending.dtype),
        series.s1_descending_doy,
    )


def _embed(model, series: PixelSeries, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings of the pixels with a valid date, which those are)."""
    from tessera.model import Embedder
    from tessera.model.student import PixelStudent

    embedder = Embedder(model)
    if isinstance(model, PixelStudent):
        binned = student_tokens(
            series.s2_bands,
            series.s2_mask,
            series.s2_doy,
            series.s1_ascending,
            series.s1_ascending_doy,
            series.s1_descending,
            series.s1_descending_doy,
            model.cfg.max_seq_len,
        )
        return embedder.binned(binned), binned.ok
    tok = series.tokens(rng, N_TIMESTEPS)
    return embedder(tok.s2[tok.ok], tok.s1[tok.ok]), tok.ok


def _centred_cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return num / np.maximum(den, 1e-12)


def self_agreement(model: Any, cube: Any, embedded: np.ndarray, stored: Any, seed: int = 0) -> float | None:
    """Mean centred cosine of stored embeddings with their half-dates re-embedding, less the
    same with another pixel's; None where too few pixels were embedded to say. Pixels come from
    up to 8 windows of 32² px holding embedded ones (``stored(window)`` → (h, w, D) values)."""
    rng = np.random.default_rng([seed, 27])
    windows = [w for w in cube.iter_windows(32) if embedded[w.slices].any()]
    mine, again = [], []
    for i in rng.permutation(len(windows))[:8]:
        win = windows[int(i)]
        flat = np.flatnonzero(embedded[win.slices].ravel())
        pick = np.sort(rng.choice(flat, min(SAMPLE // 8, len(flat)), replace=False))
        got, ok = _embed(model, _halve(pixel_series(cube.read(win), pick), rng), rng)
        mine.append(stored(win).reshape(-1, got.shape[-1])[pick][ok])
        again.append(got)
    if not mine or sum(len(m) for m in mine) < 16:
        return None
    a, b = np.concatenate(mine), np.concatenate(again)
    mu = a.mean(axis=0)
    a, b = a - mu, b - mu
    return float(_centred_cos(a, b).mean() - _centred_cos(a, np.roll(b, len(b) // 2, axis=0)).mean())


def _png(path: Path, rgb: np.ndarray) -> None:
    import rasterio

    with (
        atomic_file(path) as tmp,
        rasterio.open(tmp, "w", driver="PNG", height=rgb.shape[0], width=rgb.shape[1], count=3, dtype="uint8") as dst,
    ):
        dst.write(np.moveaxis(rgb, -1, 0))


#: Coverage classes and their colours in ``coverage.png`` (refusal reasons from ``quality``).
COVER_COLOURS = {
    "embedded": (46, 139, 87),
    "no observation": (200, 200, 200),
    OUTSIDE_MASK: (255, 255, 255),
    BELOW_OPTICAL: (230, 159, 0),
    NO_RADAR: (204, 121, 167),
}
COVER = list(COVER_COLOURS)


def validate(
    root: Path, cube: Any, zone: Zone, model: Any, wanted: np.ndarray | None, rules: Rules = Rules()
) -> Report:
    """Check the zone-year of ``cube`` in the store at ``root``; write ``STORE.report/…``.
    Read window by window: memory stays a few windows whatever the cube's size."""
    _, at = place(cube.grid)
    writer = StoreWriter(root).writer(cube.year, zone)
    h, w = cube.grid.shape
    cover = np.zeros((h, w), np.uint8)  # index into COVER
    counts = np.zeros((h, w), np.uint16)
    embedded = np.zeros((h, w), bool)
    radar_free = 0
    vectors: list[np.ndarray] = []
    months = {k: cube.months(k) for k in ("s2", "ascending", "descending")}

    def stored(win: Window) -> np.ndarray:
        q, sc = writer.read(Window(at.row + win.row, at.col + win.col, win.height, win.width))
        return dequantize(q, sc)

    for win in cube.iter_windows(512):
        q, sc = writer.read(Window(at.row + win.row, at.col + win.col, win.height, win.width))
        layers = block_layers(pixel_series(cube.read(win)), months)
        sub = None if wanted is None else wanted[win.slices].ravel()
        finite = np.isfinite(sc)
        klass = np.full(finite.size, COVER.index("no observation"), np.uint8)
        for reason, hit in rules.refused(layers, sub).items():
            klass[hit] = COVER.index(reason)
        klass[finite.ravel()] = COVER.index("embedded")
        cover[win.slices] = klass.reshape(finite.shape)
        counts[win.slices] = layers["s2_obs_count"].reshape(finite.shape)
        embedded[win.slices] = finite
        radar = (layers["s1_asc_obs_count"] + layers["s1_desc_obs_count"]).reshape(finite.shape)
        radar_free += int((finite & (radar == 0)).sum())
        values = dequantize(q, sc)[finite]
        vectors.append(values[:: max(1, len(values) // 4000)])
    n_embedded = int(embedded.sum())
    by_class = {name: int((cover == i).sum()) for i, name in enumerate(COVER)}
    figures: dict[str, Any] = {
        "pixels": int(h * w),
        "embedded": n_embedded,
        "refused": {k: by_class[k] for k in COVER[2:] if by_class[k]},
        "no_observation": by_class["no observation"],
        "radar_free_share": round(radar_free / max(n_embedded, 1), 4),
        "s2_obs_count": _distribution(counts[embedded]),
        "rules": rules.to_attrs(),
    }
    problems: list[str] = []
    warnings: list[str] = []
    vec = np.concatenate(vectors) if vectors else np.zeros((0, 1), np.float32)
    if n_embedded == 0:
        problems.append("no pixel was embedded")
    elif not np.isfinite(vec).all():
        problems.append("stored embeddings hold non-finite values")
    elif n_embedded >= 16:
        figures["norm"] = _distribution(np.linalg.norm(vec, axis=1))
        sv = np.linalg.svd(vec - vec.mean(axis=0), compute_uv=False) ** 2
        figures["first_pc_share"] = round(float(sv[0] / max(sv.sum(), 1e-12)), 4)
        if figures["first_pc_share"] > FIRST_PC_MAX:
            warnings.append(
                f"one direction holds {figures['first_pc_share']:.0%} of the variance (collapsed embeddings)"
            )
        agreement = self_agreement(model, cube, embedded, stored)
        figures["self_agreement"] = None if agreement is None else round(agreement, 4)
        if agreement is not None and agreement < AGREEMENT_MIN:
            problems.append(
                f"the model disagrees with itself (self-agreement {agreement:.2f} < {AGREEMENT_MIN}): a pixel "
                "re-embedded from half its dates is no closer to itself than to others; wrong or untrained weights?"
            )
        elif agreement is not None and agreement < AGREEMENT_WEAK:
            warnings.append(f"weak self-agreement {agreement:.2f} (a trained model gives ≥ {AGREEMENT_WEAK})")
    if figures["radar_free_share"] > 0.5:
        warnings.append(f"{figures['radar_free_share']:.0%} of the embedded pixels had no radar observation")
    verdict = "unusable" if problems else "suspect" if warnings else "pass"
    folder = root.with_name(root.name + ".report") / f"{zone.name}_{cube.period.label}_{Path(cube.path).name}"
    folder.mkdir(parents=True, exist_ok=True)
    report = Report(verdict, problems + warnings, figures, str(folder))
    doc = {"cube": Path(cube.path).name, "period": cube.period.describe(), **asdict(report)}
    with atomic_file(folder / "report.json") as tmp:
        Path(tmp).write_text(json.dumps(doc, indent=2))
    _png(folder / "coverage.png", np.asarray([COVER_COLOURS[k] for k in COVER], np.uint8)[cover])
    scaled = np.clip(counts / max(int(counts.max()), 1), 0, 1)
    _png(folder / "counts.png", (np.stack([1 - scaled, scaled * 0.8, scaled], -1) * 255).astype(np.uint8))
    return report


def _distribution(x: np.ndarray) -> dict[str, float]:
    if not len(x):
        return {}
    p = np.percentile(x.astype(np.float64), [1, 10, 50, 90, 99])
    return {
        "min": float(x.min()),
        "p1": p[0],
        "p10": p[1],
        "median": p[2],
        "p90": p[3],
        "p99": p[4],
        "max": float(x.max()),
    }
