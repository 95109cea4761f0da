"""Which labels next: unlabelled fields (or pixels) ranked by how much labelling them should
teach a head — uncertain where the head is unsure, representative of much of the map, and unlike
what is labelled already.

A head (a random forest) is fitted on the labels so far. Each unlabelled unit — a field of the
field layer, or a pixel without one — gets an uncertainty, 1 minus the mean margin between its
pixels' two most probable classes, and a representative embedding, its pixels' mean. Units are
then taken greedily by facility location: each next one is the unit whose labelling most reduces
the distance (in standardised embedding space) from every unlabelled unit to its nearest labelled
or suggested one, each unit counted by its pixels × its uncertainty. A unit far from the labels
gains little if nothing resembles it, and much if it stands for many uncertain pixels; once one
is taken, its look-alikes gain nothing more, so a batch does not spend its labels on twenty
copies of one confusing field, and it reaches the large land covers the labels never saw first.
(Chosen on the simulator's ``dev`` scenes over taking the most uncertain × most distant unit,
which reaches odd, rare fields first: ``benchmarks/bench_suggest.py``.) With labels of one class
there is no uncertainty to measure; units count by their pixels alone.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tessera.errors import LabelError
from tessera.grid import Grid
from tessera.heads.applicability import distances, nearest_distance
from tessera.heads.workflow import LabelledRegion

PIXELS_PER_UNIT = 64  # pixels of a field its uncertainty and mean are taken from
MAX_PIXEL_UNITS = 20_000  # candidate pixels sampled where there is no field layer
# Facility location compares every unit with every candidate: beyond these, random subsets of
# the units (whose distances are summed) and of the candidates (which may be picked) stand in.
MAX_CLIENTS, MAX_CANDIDATES = 4000, 2000


@dataclass(frozen=True)
class Suggestion:
    rank: int
    unit: int  # the field id, or the flat pixel index without a field layer
    uncertainty: float  # NaN with labels of one class
    novelty: float  # distance to the nearest labelled or earlier-suggested unit (standardised units)
    predicted: int  # the head's most common class over the unit (−1 with one class)
    pixels: int


def _unit_means(
    x: np.ndarray, units: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """(unit ids, (U, D) mean embeddings, (U,) pixel counts, pixel rows sampled per unit)."""
    order = np.argsort(units, kind="stable")
    ids, start, counts = np.unique(units[order], return_index=True, return_counts=True)
    picks = [order[s : s + c] for s, c in zip(start, counts, strict=True)]
    picks = [p if len(p) <= PIXELS_PER_UNIT else rng.choice(p, PIXELS_PER_UNIT, replace=False) for p in picks]
    means = np.stack([x[p].mean(axis=0) for p in picks])
    return ids, means, counts, picks


def rank_units(
    x: np.ndarray,
    units: np.ndarray,
    labelled_x: np.ndarray,
    labelled_y: np.ndarray,
    n: int,
    labelled_units: np.ndarray | None = None,
    seed: int = 0,
) -> list[Suggestion]:
    """The ``n`` units to label next of candidate pixels ``x`` (N, D) grouped by ``units`` (N,),
    given labelled pixels ``labelled_x`` / ``labelled_y`` (grouped by ``labelled_units`` for
    their representatives; each pixel its own without)."""
    from sklearn.ensemble import RandomForestClassifier

    from tessera.cpus import cores_for_work

    if n < 1:
        raise LabelError(f"-n {n}: ask for at least one suggestion")
    if len(labelled_y) == 0:
        raise LabelError("no labelled pixel has an embedding; suggestions start from at least one label")
    if len(x) == 0:
        raise LabelError("every embedded unit is labelled already; there is nothing left to suggest")
    rng = np.random.default_rng([seed, 29])
    ids, means, counts, picks = _unit_means(x, units, rng)
    classes = np.unique(labelled_y)
    if len(classes) > 1:
        head = RandomForestClassifier(100, min_samples_leaf=2, n_jobs=cores_for_work(), random_state=seed)
        head.fit(labelled_x, labelled_y)
        flat = np.concatenate(picks)
        proba = head.predict_proba(x[flat])
        top2 = np.sort(proba, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        pred = head.classes_[proba.argmax(axis=1)]
        bounds = np.cumsum([0, *map(len, picks)])
        uncertainty = np.array([1.0 - margin[a:b].mean() for a, b in itertools.pairwise(bounds)])
        predicted = [
            int(np.bincount(pred[a:b] - classes.min()).argmax() + classes.min()) for a, b in itertools.pairwise(bounds)
        ]
    else:
        uncertainty, predicted = np.full(len(ids), np.nan), [-1] * len(ids)
    lab_units = labelled_units if labelled_units is not None else np.arange(len(labelled_y))
    _, known, _, _ = _unit_means(labelled_x, lab_units, rng)
    # Distances in units standardised over every field, candidate and labelled alike: with the
    # first two or three labelled fields alone, their spread is near zero in many dimensions and
    # those dimensions would swamp the distance.
    both = np.concatenate([means, known])
    mu, sd = both.mean(axis=0), both.std(axis=0) + 1e-6
    z, zk = ((means - mu) / sd).astype(np.float32), ((known - mu) / sd).astype(np.float32)
    # A floor: where the head is sure everywhere, units still count by what they stand for.
    weight = counts * np.maximum(np.nan_to_num(uncertainty, nan=1.0), 0.01)
    clients = np.arange(len(ids)) if len(ids) <= MAX_CLIENTS else np.sort(rng.choice(len(ids), MAX_CLIENTS, False))
    pool = np.arange(len(ids)) if len(ids) <= MAX_CANDIDATES else np.sort(rng.choice(len(ids), MAX_CANDIDATES, False))
    apart = distances(z[clients], z[pool])  # (clients, candidates)
    nearest = nearest_distance(z[clients], zk)  # each client's distance to the labels
    novelty = nearest_distance(z[pool], zk)
    out: list[Suggestion] = []
    taken = np.zeros(len(pool), bool)
    for rank in range(1, min(n, len(pool)) + 1):
        gain = (weight[clients, None] * np.maximum(0.0, nearest[:, None] - apart)).sum(axis=0)
        gain[taken] = -np.inf
        j = int(np.argmax(gain))
        taken[j] = True
        i = int(pool[j])
        out.append(
            Suggestion(rank, int(ids[i]), float(uncertainty[i]), float(novelty[j]), predicted[i], int(counts[i]))
        )
        nearest = np.minimum(nearest, apart[:, j])
        novelty = np.minimum(novelty, distances(z[pool], z[i : i + 1])[:, 0])
    return out


def suggest(region: LabelledRegion, n: int, fields: np.ndarray | None = None, seed: int = 0) -> list[Suggestion]:
    """The ``n`` fields (``fields``: (H, W) ids, < 0 none) or pixels of a
    :class:`~tessera.heads.workflow.LabelledRegion` to label next; a field holding any label
    counts as labelled."""
    from tessera.heads.labels import NO_LABEL

    h, w, d = region.embeddings.shape
    emb = region.embeddings.reshape(h * w, d)
    has = ~np.isnan(emb).any(axis=1)
    lab = region.labels.ravel()
    labelled = has & (lab != NO_LABEL)
    if fields is not None:
        fid = fields.ravel()
        done = np.unique(fid[labelled])
        candidate = has & (fid >= 0) & ~np.isin(fid, done)
        units, lab_units = fid[candidate], fid[labelled]
        flat = np.flatnonzero(candidate)
    else:
        flat = np.flatnonzero(has & ~labelled)
        if len(flat) > MAX_PIXEL_UNITS:
            flat = np.sort(np.random.default_rng([seed, 30]).choice(flat, MAX_PIXEL_UNITS, replace=False))
        units, lab_units = flat, None
    return rank_units(emb[flat], units, emb[labelled], lab[labelled], n, lab_units, seed)


def write_suggestions(
    out: str | os.PathLike, found: list[Suggestion], grid: Grid, fields: np.ndarray | None, legend: dict[int, str]
) -> Path:
    """A GeoJSON (EPSG:4326) of the suggestions: each field's outline, or each pixel's square,
    with its rank, uncertainty, novelty and the head's guess; written whole or not at all."""
    from affine import Affine
    from rasterio.features import shapes
    from rasterio.warp import transform_geom

    from tessera.atomic import atomic_file

    features = []
    for s in found:
        if fields is not None:
            mask = fields == s.unit
            rows, cols = np.nonzero(mask)
            r0, c0 = rows.min(), cols.min()
            sub = mask[r0 : rows.max() + 1, c0 : cols.max() + 1].astype(np.uint8)
            tf = grid.transform * Affine.translation(c0, r0)
            polys = [g for g, v in shapes(sub, mask=sub.astype(bool), transform=tf) if v == 1]
            geom = {"type": "MultiPolygon", "coordinates": [p["coordinates"] for p in polys]}
        else:
            r, c = divmod(s.unit, grid.width)
            (x0, y0), (x1, y1) = grid.transform * (c, r), grid.transform * (c + 1, r + 1)
            geom = {"type": "Polygon", "coordinates": [[(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]}
        props = {
            "rank": s.rank,
            "unit": s.unit,
            "kind": "field" if fields is not None else "pixel",
            "uncertainty": None if np.isnan(s.uncertainty) else round(s.uncertainty, 4),
            "novelty": round(s.novelty, 4),
            "predicted": legend.get(s.predicted, str(s.predicted)) if s.predicted >= 0 else None,
            "pixels": s.pixels,
        }
        features.append(
            {"type": "Feature", "properties": props, "geometry": transform_geom(grid.crs, "EPSG:4326", geom)}
        )
    out = Path(out)
    with atomic_file(out) as tmp:
        tmp.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return out
