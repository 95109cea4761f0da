"""The simulated landscape: where each class lies, field by field, and each pixel's traits.

Structure matters for honest tests: fields are Voronoi cells (irregular, tens of pixels across),
forests and lakes are blobs of smooth noise, a river meanders, settlements are compact clusters.
Neighbouring pixels share a field's sowing date and vigour, so spatial hold-out is harder than
random hold-out, as on real land.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from tessera.simulate.classes import AGRICULTURAL, CLASSES

NO_COVER = 255  # in a ``cover`` override: keep the layout's class


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-variance noise with spatial correlation length ≈ ``scale`` pixels."""
    h, w = shape
    lo = (max(2, int(np.ceil(h / scale)) + 2), max(2, int(np.ceil(w / scale)) + 2))
    coarse = rng.standard_normal(lo)
    field = ndimage.zoom(coarse, (h / (lo[0] - 2), w / (lo[1] - 2)), order=3, mode="nearest")
    field = field[:h, :w]
    return (field - field.mean()) / (field.std() + 1e-12)


@dataclass(frozen=True)
class Landscape:
    """Per-pixel ground truth and traits. All arrays (H, W)."""

    classes: np.ndarray  # uint8 class id
    base_classes: np.ndarray  # uint8 class id before this year's crop rotation
    field_id: np.ndarray  # int32: fields, forest stands, lakes… (one id per patch)
    cells: np.ndarray  # int32: the Voronoi cell of every pixel, fields or not (where change events fall)
    canopy_height: np.ndarray  # float32 metres (annual maximum)
    shift: np.ndarray  # float32 days: phenology offset (sowing date, spring onset)
    vigour: np.ndarray  # float32 ≈ 1: canopy density multiplier
    soil_brightness: np.ndarray  # float32 ≈ 1
    moisture_gain: np.ndarray  # float32 ≈ 1: how strongly soil moisture shows
    # Mixed pixels: a pixel on a patch edge also sees its neighbour across the edge. Flat index
    # of that neighbour (itself inside patches) and the neighbour's share of the signal.
    mix_partner: np.ndarray  # int64 (H, W)
    mix_share: np.ndarray  # float32 (H, W), 0 inside patches


def _voronoi_fields(rng: np.random.Generator, shape: tuple[int, int], field_px: float) -> np.ndarray:
    h, w = shape
    n = max(4, int(h * w / field_px**2))
    seeds = rng.uniform((0, 0), (h, w), size=(n, 2))
    # Stretch space a little so fields are elongated strips, as on real farmland.
    stretch = np.array([1.0, rng.uniform(0.5, 0.8)])
    yy, xx = np.mgrid[0:h, 0:w]
    _, ids = cKDTree(seeds * stretch).query(np.c_[yy.ravel(), xx.ravel()] * stretch)
    return ids.reshape(shape).astype(np.int32)


def _river(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    y = np.arange(h)
    centre = rng.uniform(0.2, 0.8) * w + 0.12 * w * np.sin(
        2 * np.pi * y / rng.uniform(0.6, 1.5) / h + rng.uniform(0, 2 * np.pi)
    )
    half_width = rng.uniform(1.5, 3.5)
    return np.abs(np.arange(w)[None, :] - centre[:, None]) <= half_width


def _agricultural_class(rng: np.random.Generator, n: int) -> np.ndarray:
    ids = np.array([c.id for c in AGRICULTURAL])
    p = np.array([c.field_share for c in AGRICULTURAL])
    return rng.choice(ids, size=n, p=p / p.sum())


def make_landscape(
    shape: tuple[int, int],
    seed: int,
    year: int,
    change_fraction: float,
    field_px: float,
    calendar_shift_days: float = 0.0,
    cover: np.ndarray | None = None,
) -> Landscape:
    """Lay out classes and traits. The layout depends on ``seed`` alone; the crop rotation
    (``change_fraction`` of fields switching class) on ``seed`` and ``year``. ``cover``, (H, W)
    uint8 with 255 = keep, replaces the class where given after the rotation (a land-cover change
    event: the pixels' traits then follow their new class)."""
    rng = np.random.default_rng([seed, 0])
    h, w = shape
    fields = _voronoi_fields(rng, shape, field_px)
    n_fields = int(fields.max()) + 1
    classes = _agricultural_class(rng, n_fields)[fields]

    forest_zone = smooth_noise(rng, shape, 40) > 0.8
    evergreen = smooth_noise(rng, shape, 25) > 0.3
    classes = np.where(forest_zone, np.where(evergreen, 6, 5), classes)
    # A settlement: a noisy disc away from the edge.
    cy, cx = rng.uniform(0.25, 0.75) * h, rng.uniform(0.25, 0.75) * w
    yy, xx = np.mgrid[0:h, 0:w]
    radius = 0.12 * min(h, w) * (1 + 0.25 * smooth_noise(rng, shape, 8))
    classes = np.where(np.hypot(yy - cy, xx - cx) < radius, 8, classes)
    water = (smooth_noise(rng, shape, 30) < -1.6) | _river(rng, shape)
    classes = np.where(water, 7, classes).astype(np.uint8)

    # Patches that are not fields (stands, lakes, town) get ids of their own via labelling.
    patch_ids = np.where(np.isin(classes, [c.id for c in AGRICULTURAL]), fields, -1)
    non_field, n_patches = ndimage.label(patch_ids < 0)
    patch_ids = np.where(patch_ids < 0, n_fields + non_field, patch_ids).astype(np.int32)
    n_ids = n_fields + n_patches + 1

    base = classes.copy()
    if change_fraction > 0:
        rot = np.random.default_rng([seed, year, 1])
        switch = rot.random(n_fields) < change_fraction
        new = _agricultural_class(rot, n_fields)
        is_field = np.isin(classes, [c.id for c in AGRICULTURAL])
        classes = np.where(is_field & switch[fields], new[fields], classes).astype(np.uint8)
    if cover is not None:
        classes = np.where(cover != NO_COVER, cover, classes).astype(np.uint8)

    # Traits: per patch (shared by a field's pixels) times small per-pixel variation.
    trait = np.random.default_rng([seed, year, 2])
    per_patch = lambda lo, hi: trait.uniform(lo, hi, n_ids)[patch_ids]  # noqa: E731
    jitter = np.zeros(shape, np.float32)
    for c in CLASSES:
        jitter[classes == c.id] = c.timing_jitter
    shift = per_patch(-1, 1) * jitter + trait.normal(0, 1.5, shape) + calendar_shift_days
    vigour = per_patch(0.8, 1.12) * (1 + 0.04 * smooth_noise(trait, shape, 3))
    soil = per_patch(0.7, 1.3) * (1 + 0.05 * smooth_noise(trait, shape, 4))
    moisture_gain = per_patch(0.6, 1.4)

    height = np.zeros(shape, np.float32)
    stand_height = trait.random(n_ids)
    for c in CLASSES:
        lo, hi = c.height_m
        if hi <= 0:
            continue
        sel = classes == c.id
        base_h = lo + (hi - lo) * stand_height[patch_ids[sel]]
        spread = 0.08 * (hi - lo + 1) * trait.standard_normal(int(sel.sum()))
        height[sel] = np.clip(base_h * vigour[sel] + spread, 0, None)

    return Landscape(
        classes=classes,
        base_classes=base,
        field_id=patch_ids,
        cells=fields,
        canopy_height=height.astype(np.float32),
        shift=shift.astype(np.float32),
        vigour=vigour.astype(np.float32),
        soil_brightness=soil.astype(np.float32),
        moisture_gain=moisture_gain.astype(np.float32),
        **_edge_mixing(patch_ids, trait),
    )


def _edge_mixing(patch_ids: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """For each pixel with a 4-neighbour in another patch: that neighbour and a share in 0.2–0.5
    (a 10 m pixel straddling a field boundary sees both sides)."""
    h, w = patch_ids.shape
    flat = np.arange(h * w).reshape(h, w)
    partner = flat.copy()
    share = np.zeros((h, w), np.float32)
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        shifted = np.roll(flat, (-dy, -dx), axis=(0, 1))
        other = np.roll(patch_ids, (-dy, -dx), axis=(0, 1)) != patch_ids
        # np.roll wraps around: the far edge is no neighbour.
        if dy:
            other[(h - 1) if dy > 0 else 0, :] = False
        if dx:
            other[:, (w - 1) if dx > 0 else 0] = False
        take = other & (share == 0)
        partner[take] = shifted[take]
        share[take] = 1.0
    share = np.where(share > 0, rng.uniform(0.2, 0.5, (h, w)), 0).astype(np.float32)
    return {"mix_partner": partner, "mix_share": share}
