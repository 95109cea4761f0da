"""``tessera tiles``: one layer of a store as XYZ tiles any GIS adds (``/{z}/{x}/{y}.png``, Web
Mercator, and ``/tilejson.json``), each tile rendered from the store's embeddings under it alone
— a head is applied tile by tile, never to a whole region in memory — and cached.

A layer is named as on the command line: ``pca``, ``similar:LON,LAT``, ``head:FILE.skops`` or
``change:Y1,Y2``. What must be the same for every tile (the PCA basis and its stretch, the
similarity's query and centre, the change ramp) is fixed at start from a sample of the store's
pixels over the area served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tessera.errors import ExploreError
from tessera.explore import layers
from tessera.explore.render import Layer, StoreValues, render
from tessera.explore.tiles import TileCache, tilejson, zoom_range
from tessera.heads.confidence import apply_head

SAMPLE_POINTS = 4000
STORE_ZOOM_OUT = 1  # a zoomed-out tile reads 4^k store pixels per tile pixel: one level only


BBox4 = tuple[float, float, float, float]


def store_bounds(reader: Any, year: int, bbox: BBox4 | None) -> BBox4:
    if bbox is not None:
        return bbox
    from tessera.access.extent import written_bounds

    found = written_bounds(reader, year)
    if found is None:
        raise ExploreError(f"{reader.location} does not list where {year} is written; give --bbox W,S,E,N")
    return tuple(float(v) for v in found)  # type: ignore[return-value]


def _sample(reader: Any, bounds: BBox4, year: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, s, e, n = bounds
    pts = np.column_stack([rng.uniform(w, e, SAMPLE_POINTS), rng.uniform(s, n, SAMPLE_POINTS)])
    values = reader.sample_points(pts, year).values
    return values[~np.isnan(values).any(axis=1)]


@dataclass
class TileService:
    layer: Layer
    description: str
    cache: TileCache

    def tile(self, z: int, x: int, y: int) -> bytes:
        return render(self.layer, z, x, y, {}, self.cache)

    def tilejson(self, base: str, token: str | None) -> dict:
        query = f"?token={token}" if token else ""
        v = self.layer.values
        return tilejson(self.description, f"{base}/{{z}}/{{x}}/{{y}}.png{query}", v.zooms, v.bounds)


def tile_service(
    reader: Any,
    spec: str,
    year: int,
    bbox: tuple[float, float, float, float] | None = None,
    allow_other_model: bool = False,
) -> TileService:
    """The layer ``spec`` of ``reader`` at ``year`` over ``bbox`` (default: where the year is written)."""
    kind, _, arg = spec.partition(":")
    reader.check_year(year)
    bounds = store_bounds(reader, year, bbox)
    zooms = zoom_range((bounds[1] + bounds[3]) / 2, out_levels=STORE_ZOOM_OUT)
    sample = _sample(reader, bounds, year)
    if len(sample) < 3:
        raise ExploreError(f"fewer than three embedded pixels found over {bounds} in {year}; check --bbox and --year")
    years: tuple[int, ...] = (year,)
    depth = None
    if kind == "pca" and not arg:
        basis = layers.PcaBasis.fit(sample)
        compute, colour, nodata = (lambda e: basis.rgba(e[0])), (lambda v, p: v), 0.0
    elif kind == "similar":
        lon, lat = _pair(arg, float, "similar:LON,LAT")
        probe = reader.sample_points(np.array([[lon, lat]]), year)
        if probe.status[0] != "valid":
            raise ExploreError(f"({lon}, {lat}) has no embedding in {year} ({probe.status[0]}); pick an embedded point")
        q, centre = probe.values[0], sample.mean(axis=0)
        compute = lambda e: layers.centred_similarity(e[0], q, centre)  # noqa: E731
        colour, nodata = (lambda v, p: layers.ramp_rgba(v, 0.0, 1.0, layers.RAMPS["similar"])), float("nan")
    elif kind == "head":
        compute, colour, depth = _head(reader, arg, allow_other_model)
        nodata = -1
    elif kind == "change":
        y1, y2 = _pair(arg, int, "change:Y1,Y2")
        for y in (y1, y2):
            reader.check_year(y)
        years = (y1, y2)
        compute = lambda e: layers.change_distance(e[0], e[1])  # noqa: E731
        colour, nodata = (lambda v, p: layers.ramp_rgba(v, 0.0, 0.5, layers.RAMPS["change"])), float("nan")
    else:
        raise ExploreError(f"unknown layer {spec!r}; give pca, similar:LON,LAT, head:FILE.skops or change:Y1,Y2")
    values = StoreValues(reader, years, compute, bounds, zooms, depth)
    return TileService(Layer(kind, values, colour, nodata), f"{spec} of {reader.location} ({year})", TileCache())


def _pair(arg: str, kind: type, form: str) -> tuple[Any, Any]:
    try:
        a, b = (kind(v) for v in arg.split(","))
    except ValueError as exc:
        raise ExploreError(f"{arg!r} is not of the form {form}") from exc
    return a, b


def _head(reader: Any, path: str, allow_other: bool):
    from tessera.heads.persist import check_model, embedding_model, load_head

    model, meta = load_head(path)
    check_model(meta, embedding_model(reader), allow_other)
    if not hasattr(model, "predict_proba"):
        raise ExploreError(f"{path} is not a classifier with class probabilities; tiles show classifiers' classes")
    legend = {int(k): v for k, v in meta.get("legend", {}).items()}
    colours = layers.default_colours(legend)
    dim = int(meta["embed_dim"])
    depth = dim if dim < reader.embed_dim(int(meta.get("year") or reader.years[0])) else None
    return (lambda e: apply_head(model, e[0])[0]), (lambda v, p: layers.class_rgba(v, colours)), depth
