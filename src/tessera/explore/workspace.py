"""The explorer's state: one store, year and area held in memory, the layers drawn from it, the
project's classes and labels, the similarity query, the fitted head — and every change to them,
saved to the project as it happens. No HTTP here: ``app`` turns requests into these calls.

The area's embeddings are read once (``read_grid``); every layer is a raster over that area,
computed in row chunks when asked for, and tiles are cut from the rasters. A new query, head or
colour bumps its layer's version, so no stale tile is served from the cache.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tessera.errors import ExploreError
from tessera.explore import labelling, layers, training
from tessera.explore.project import HEAD, MAP, Project, check_feature
from tessera.explore.render import AreaValues, Layer, render
from tessera.explore.tiles import TileCache, zoom_range
from tessera.grid import Grid
from tessera.heads.confidence import apply_head
from tessera.heads.mapping import FittedHead, from_metadata, head_metadata
from tessera.heads.workflow import LabelledRegion

log = logging.getLogger(__name__)
UNDO_DEPTH = 50
HIST_BINS = 200  # similarity histogram over [-1, 1]: the page counts pixels above a threshold from it


@dataclass(frozen=True)
class Area:
    """The working area: its grid, embeddings and what is derived once from them."""

    grid: Grid
    data: np.ndarray  # (H, W, D) float32, NaN = no embedding
    valid: np.ndarray  # (H, W) bool
    centre: np.ndarray  # (D,) mean embedding: similarity is measured about it
    norms: np.ndarray  # (H, W) ‖x − centre‖, so that a query is one matrix–vector product
    bounds: tuple[float, float, float, float]  # lon/lat

    @classmethod
    def read(cls, reader: Any, grid: Grid, year: int, depth: int | None = None) -> Area:
        from rasterio.warp import transform_bounds

        from tessera.access.region import read_grid

        data = read_grid(reader, grid, year, depth).data
        valid = ~np.isnan(data).any(axis=2)
        if not valid.any():
            raise ExploreError(f"the area holds no embedded pixel in {year}; choose another --bbox or --year")
        centre = np.zeros(data.shape[2])
        for r in range(0, grid.height, layers.ROWS_PER_CHUNK):
            block = data[r : r + layers.ROWS_PER_CHUNK][valid[r : r + layers.ROWS_PER_CHUNK]]
            centre += block.sum(axis=0, dtype=np.float64)
        centre /= valid.sum()
        b = grid.bounds
        lonlat = transform_bounds(grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
        return cls(grid, data, valid, centre, layers.centred_norms(data, centre), lonlat)

    def sample(self, n: int = 20_000, seed: int = 0) -> np.ndarray:
        rows, cols = np.nonzero(self.valid)
        pick = np.random.default_rng(seed).choice(len(rows), min(n, len(rows)), replace=False)
        return self.data[rows[pick], cols[pick]]


def _float(params: dict[str, Any], key: str) -> float | None:
    raw = params.get(key)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise ExploreError(f"{key}={raw!r} is not a number") from exc
    if not np.isfinite(value):
        raise ExploreError(f"{key}={raw!r} is not a finite number")
    return value


class Workspace:
    def __init__(self, reader: Any, year: int, grid: Grid, project: Project, depth: int | None = None) -> None:
        from tessera.heads.persist import embedding_model

        self.reader, self.year, self.project, self.depth = reader, year, project, depth
        self.area = Area.read(reader, grid, year, depth)
        self.dataset = embedding_model(reader)
        self.zooms = zoom_range((self.area.bounds[1] + self.area.bounds[3]) / 2, grid.resolution[0])
        self.cache = TileCache()
        self.lock = threading.RLock()
        self.layers: dict[str, Layer] = {}
        self.history: list[list[dict]] = []
        self.hist: list[int] | None = None
        self.similarity: np.ndarray | None = None
        self.fitted: FittedHead | None = None
        self.evaluation: training.Evaluation | None = None
        self.clusters: labelling.Clusters | None = None
        self.classes: list[dict] = list(project.settings.get("classes", []))
        self.warming = training.warm_up()
        basis = layers.PcaBasis.fit(self.area.sample())
        pca_legend = [{"label": "principal components 1, 2, 3 as red, green, blue"}]
        self._layer(
            "pca", layers.by_rows(basis.rgba, self.area.data, dtype=np.uint8, planes=4), lambda v, p: v, 0, pca_legend
        )
        self._coverage_layer()
        self._quality_layers()
        saved = project.settings.get("head_file") or HEAD
        if project.folder.joinpath(HEAD).exists() or saved != HEAD:
            try:
                self.load_head(saved)
            except ExploreError as exc:  # the project still opens: say why its head is not shown
                self.project.problems.append(f"the project's head was not loaded: {exc}")
        if isinstance(project.settings.get("query"), dict):  # the similarity layer as it was left
            try:
                self.query(project.settings["query"])
            except ExploreError as exc:
                self.project.problems.append(f"the saved similarity query was not redrawn: {exc}")
        self._save_settings()

    # --- layers -----------------------------------------------------------------------------

    def _layer(self, name: str, data: np.ndarray, colour, nodata: float, legend: list[dict]) -> None:
        old = self.layers.get(name)
        values = AreaValues(data, self.area.grid, self.area.bounds, self.zooms)
        self.layers[name] = Layer(name, values, colour, nodata, (old.version + 1) if old else 0, legend)
        self.cache.drop(name)

    def _coverage_layer(self) -> None:
        """What the store says of each pixel (``access`` statuses, from its scales), or, for a
        reader that cannot say, embedded or not."""
        from tessera.access.base import NODATA, STATUSES, VALID

        if hasattr(self.reader, "grid_status"):
            codes = self.reader.grid_status(self.area.grid, self.year)
        else:
            codes = np.where(self.area.valid, STATUSES.index(VALID), STATUSES.index(NODATA)).astype(np.uint8)
        present = sorted(set(np.unique(codes).tolist()))
        legend = [{"label": STATUSES[i], "colour": "#{:02x}{:02x}{:02x}".format(*STATUS_RGBA[i][:3])} for i in present]
        self._layer("coverage", codes + 1, _coverage_colour, 0, legend)  # 0 stays "no tile pixel"

    def _quality_layers(self) -> None:
        names = getattr(self.reader, "quality_layers", None) or {}
        counts = [n for n, planes in names.items() if not planes]  # per-pixel counts, not monthly flags
        if not counts:
            return
        q = self.reader.grid_quality(self.area.grid, self.year)
        for name in counts:
            vals = q[name].astype(np.float32)
            top = float(np.nanmax(vals)) if np.isfinite(vals).any() else 1.0
            top = max(top, 1.0)
            self._layer(name, vals, _ramp("quality", 0, top), float("nan"), layers.legend_ramp("quality", 0, top))

    def _raster(self, name: str) -> np.ndarray:
        values = self.layers[name].values
        assert isinstance(values, AreaValues)
        return values.data

    def tile(self, layer: str, z: int, x: int, y: int, params: dict[str, Any]) -> bytes:
        if layer not in self.layers:
            raise ExploreError(f"no layer {layer!r} yet; the layers now are {', '.join(sorted(self.layers))}")
        return render(self.layers[layer], z, x, y, params, self.cache)

    # --- classes and labels -----------------------------------------------------------------

    def add_class(self, name: str, colour: str | None = None) -> dict:
        with self.lock:
            name = (name or "").strip()
            if not name or len(name) > 60:
                raise ExploreError("a class needs a name of 1 to 60 characters")
            if any(c["name"] == name for c in self.classes):
                raise ExploreError(f"there is a class {name!r} already")
            cid = max([c["id"] for c in self.classes], default=-1) + 1
            colour = colour or layers.TAB10[cid % len(layers.TAB10)]
            layers.hex_rgb(colour)
            self.classes.append({"id": cid, "name": name, "colour": colour})
            self._save_settings()
            if "classes" in self.layers:  # new colours: redraw
                self._layer("classes", self._raster("classes"), self._class_colour(), -1, self._class_legend())
            return self.classes[-1]

    def _class(self, cid: Any) -> dict:
        found = [c for c in self.classes if c["id"] == cid]
        if not found:
            raise ExploreError(f"no class {cid!r}; add it first")
        return found[0]

    def add_label(self, cid: int, geometry: dict, source: str = "drawn", extra: dict | None = None) -> dict:
        with self.lock:
            cls = self._class(cid)
            props: dict[str, Any] = {"class": cls["name"], "source": source}
            feature = {"type": "Feature", "geometry": geometry, "properties": props}
            check_feature(feature, "the label")
            props.update(pixels=labelling.feature_pixels(feature, self.area.grid, self.area.valid), **(extra or {}))
            self._push()
            self.project.labels.append(feature)
            self.project.save_labels()
            return feature

    def undo(self) -> int:
        with self.lock:
            if not self.history:
                raise ExploreError("nothing to undo")
            self.project.labels = self.history.pop()
            self.project.save_labels()
            return len(self.project.labels)

    def _push(self) -> None:
        self.history = [*self.history[-(UNDO_DEPTH - 1) :], list(self.project.labels)]

    def _burnt(self) -> tuple[np.ndarray, np.ndarray]:
        """(class id, label group) per pixel of the area (-1 = unlabelled) from the project's labels."""
        names = {c["name"]: c["id"] for c in self.classes}
        feats = [f for f in self.project.labels if f["properties"]["class"] in names]
        if not feats:
            raise ExploreError("there are no labels yet; draw points or polygons of two classes")
        return labelling.burn_labels(feats, [names[f["properties"]["class"]] for f in feats], self.area.grid)

    def _labelled_region(self) -> LabelledRegion:
        grid = self.area.grid
        labels, groups = self._burnt()
        legend = {c["id"]: c["name"] for c in self.classes}
        # Only the labelled pixels, as one row: pixel heads need nothing else, and every pass over
        # the region (the NaN checks of each fit and fold) then costs the labels, not the area.
        rows, cols = np.nonzero((labels >= 0) & self.area.valid)
        if not len(rows):
            raise ExploreError("no label covers an embedded pixel; draw labels over the map's data")
        row = Grid(grid.crs, grid.transform, 1, len(rows))
        emb = self.area.data[rows, cols][None]
        return LabelledRegion(
            row, emb, labels[rows, cols][None], legend, groups=groups[rows, cols][None].astype(np.int64)
        )

    # --- similarity ---------------------------------------------------------------------------

    def query(self, geometry: dict) -> dict:
        """Similarity of every pixel to a point's embedding or a polygon's mean embedding."""
        feature = check_feature(
            {"type": "Feature", "geometry": geometry, "properties": {"class": "query"}}, "the query"
        )
        inside = labelling.feature_mask(feature, self.area.grid, self.area.valid)
        q = self.area.data[inside].mean(axis=0)
        sim = layers.centred_similarity(self.area.data, q, self.area.centre, self.area.norms)
        # The page counts pixels above its slider from these bins: bin i holds [-1 + i/100, -1 + (i+1)/100).
        bins = np.clip(np.floor((sim[self.area.valid] + 1) * (HIST_BINS / 2)), 0, HIST_BINS - 1).astype(np.int64)
        with self.lock:
            self.similarity = sim
            self.hist = np.bincount(bins, minlength=HIST_BINS).tolist()
            self._layer("similar", sim, _similar_colour, float("nan"), layers.legend_ramp("similar", 0.0, 1.0))
            self.project.settings["query"] = geometry
            self._save_settings()
        return {"pixels": int(inside.sum()), "histogram": self.hist}

    def expand(self, cid: int, threshold: float) -> dict:
        """Label with class ``cid`` every embedded pixel at least ``threshold`` similar to the query."""
        if self.similarity is None:
            raise ExploreError("click a place (or draw a query polygon) first: expansion follows its similarity")
        if not -1 <= threshold <= 1:
            raise ExploreError(f"threshold {threshold} is outside [-1, 1]")
        mask = (self.similarity >= threshold) & self.area.valid
        n = int(mask.sum())
        if n == 0:
            raise ExploreError(f"no pixel is {threshold:.2f} similar or more; lower the threshold")
        if n > labelling.MAX_EXPAND_PX:
            raise ExploreError(
                f"{n} pixels pass {threshold:.2f}; raise the threshold (at most {labelling.MAX_EXPAND_PX})"
            )
        geometry = labelling.mask_feature(mask, self.area.grid)
        return self.add_label(cid, geometry, "expand", {"threshold": round(threshold, 4)})

    # --- k-means ------------------------------------------------------------------------------

    def suggest(self, k: int) -> list[dict]:
        clusters = labelling.kmeans(self.area.data, self.area.valid, k)
        with self.lock:
            self.clusters = clusters
            colours = {i: layers.TAB10[i % len(layers.TAB10)] for i in range(k)}
            legend = [{"label": f"cluster {i}", "colour": c} for i, c in colours.items()]
            self._layer("clusters", clusters.ids, lambda v, p: layers.class_rgba(v, colours), -1, legend)
        return [{"cluster": i, "pixels": n, "colour": colours[i]} for i, n in enumerate(clusters.sizes)]

    def label_next(self, n: int) -> list[dict]:
        """The ``n`` patches (``NEXT_PATCH_PX``-px squares) to label next (``heads suggest``'s
        ranking: the head's uncertainty × distance from what is labelled), as a layer and a list."""
        from rasterio.warp import transform

        from tessera.heads.applicability import BLOCK_STRIDE, block_groups
        from tessera.heads.suggest import rank_units

        if not 1 <= n <= 50:
            raise ExploreError(f"ask for 1–50 patches, not {n}")
        with self.lock:
            grid, data, valid = self.area.grid, self.area.data, self.area.valid
            labels, _ = self._burnt()
            lab_r, lab_c = np.nonzero((labels >= 0) & valid)
            if not len(lab_r):
                raise ExploreError("no label covers an embedded pixel; draw labels over the map's data")
            rows, cols = np.nonzero(valid)
            units = block_groups(rows, cols, NEXT_PATCH_PX)
            any_r, any_c = np.nonzero(labels >= 0)  # a label on a pixel without data still marks its patch
            free = ~np.isin(units, block_groups(any_r, any_c, NEXT_PATCH_PX))
            if not free.any():
                raise ExploreError("every patch holds a label already")
            x_lab, y_lab = data[lab_r, lab_c], labels[lab_r, lab_c]
            found = rank_units(data[rows[free], cols[free]], units[free], x_lab, y_lab, n)
            ranks = np.full(grid.shape, -1, np.int64)
            for s in found:
                sel = units == s.unit
                ranks[rows[sel], cols[sel]] = s.rank
            colours = {s.rank: layers.TAB10[(s.rank - 1) % len(layers.TAB10)] for s in found}
            legend = [{"label": f"label next #{r}", "colour": c} for r, c in colours.items()]
            self._layer("suggestions", ranks, lambda v, p: layers.class_rgba(v, colours), -1, legend)
        out = []
        for s in found:
            r, c = (np.array(divmod(s.unit, BLOCK_STRIDE)) + 0.5) * NEXT_PATCH_PX
            x, yy = grid.transform * (c, r)
            lon, lat = transform(grid.crs, "EPSG:4326", [x], [yy])
            unc = None if np.isnan(s.uncertainty) else round(s.uncertainty, 4)
            out.append({"rank": s.rank, "lon": lon[0], "lat": lat[0], "uncertainty": unc, "pixels": s.pixels})
        return out

    def adopt(self, cluster: int, cid: int) -> dict:
        if self.clusters is None or not 0 <= cluster < len(self.clusters.sizes):
            raise ExploreError(f"no cluster {cluster}; ask for suggestions first")
        rows, cols = self.clusters.samples[cluster]
        if not len(rows):
            raise ExploreError(f"cluster {cluster} has no pixels")
        return self.add_label(cid, labelling.pixel_points(rows, cols, self.area.grid), "kmeans", {"cluster": cluster})

    # --- heads --------------------------------------------------------------------------------

    def train(self, head: str) -> dict:
        from tessera.heads.persist import save_head

        with self.lock:
            region = self._labelled_region()
            fitted, evaluation = training.train(region, head)
            meta = head_metadata(fitted, self.year, self.reader.location, self.dataset)
            save_head(self.project.path(HEAD), fitted.model, meta, fitted.arrays())
            self.project.settings.update(head=head, head_file=HEAD)
            self._save_settings()
            self._apply(fitted)
            self.evaluation = evaluation
            state = self.head_state()
            assert state is not None
            return state

    def _apply(self, fitted: FittedHead) -> None:
        classes, conf = apply_head(fitted.model, self.area.data)
        self.fitted = fitted
        self._layer("classes", classes, self._class_colour(), -1, self._class_legend())
        low = 1.0 / max(len(fitted.legend), 2)
        legend = layers.legend_ramp("confidence", low, 1.0)
        self._layer("confidence", conf, _ramp("confidence", low, 1.0), float("nan"), legend)
        self._applicability_layer(fitted)

    def _applicability_layer(self, fitted: FittedHead) -> None:
        """The dissimilarity index of every pixel to the head's labels: dark within the area of
        applicability, bright beyond its threshold (where the classes are an extrapolation)."""
        from tessera.heads.mapping import applicability_map

        di = applicability_map(fitted, self.area.data)
        if di is None or fitted.applicability is None:
            self.layers.pop("applicability", None)
            return
        top = 2.0 * fitted.applicability.threshold
        legend = layers.legend_ramp("applicability", 0.0, top)
        legend[len(legend) // 2]["label"] += " (threshold: beyond is outside)"
        self._layer("applicability", di, _ramp("applicability", 0.0, top), float("nan"), legend)

    def load_head(self, name: str) -> dict:
        """Show the classes of a head file in the project folder (``tessera heads fit`` writes
        them): refused if it was fitted on another model's embeddings, on another depth, or is
        not a classifier."""
        from tessera.heads.persist import check_model, load_head

        with self.lock:
            path = self.project.path(name)
            try:
                model, meta = load_head(path)
                check_model(meta, self.dataset, allow_other=False)
                fitted = from_metadata(model, meta)
            except (KeyError, ValueError) as exc:  # HeadFileError is a ValueError
                raise ExploreError(f"{name}: {exc}") from exc
            dim = self.area.data.shape[2]
            if fitted.embed_dim != dim:
                raise ExploreError(f"{name} was fitted on {fitted.embed_dim}-d embeddings; this store's are {dim}-d")
            if not hasattr(model, "predict_proba"):
                raise ExploreError(f"{name} is not a classifier with class probabilities; the explorer maps classes")
            self._apply(fitted)
            self.evaluation = None
            self.project.settings["head_file"] = name
            self._save_settings()
            state = self.head_state()
            assert state is not None
            return state

    def _colours(self) -> dict[int, str]:
        colours = {c["id"]: c["colour"] for c in self.classes}
        if self.fitted is not None:  # a head restored with classes the settings lost keeps colours
            colours = {**layers.default_colours(self.fitted.legend), **colours}
        return colours

    def _class_colour(self):
        colours = self._colours()
        return lambda v, p: layers.class_rgba(v, colours)

    def _class_legend(self) -> list[dict]:
        legend = self.fitted.legend if self.fitted is not None else {}
        colours = self._colours()
        return [{"label": name, "colour": colours.get(cid, "#888888")} for cid, name in sorted(legend.items())]

    def head_state(self) -> dict | None:
        if self.fitted is None:
            return None
        ev = self.evaluation
        return {
            "head": self.fitted.name,
            "n_labelled": self.fitted.n_labelled,
            "legend": {str(k): v for k, v in self.fitted.legend.items()},
            "accuracy": ev.accuracy if ev else None,
            "confusion": ev.confusion if ev else None,
            "confusion_classes": ev.classes if ev else None,
            "note": ev.note if ev else "restored from the project; train again to evaluate",
        }

    def export(self) -> str:
        from tessera.heads.mapping import write_map

        with self.lock:
            if self.fitted is None or "classes" not in self.layers:
                raise ExploreError("train a head before exporting its map")
            out = write_map(self.project.path(MAP), self._raster("classes"), self.area.grid, self.fitted, self.year)
            return out.name

    # --- change -------------------------------------------------------------------------------

    def change(self, year_from: int, year_to: int) -> dict:
        from tessera.access.region import read_grid

        years = self.reader.years
        for y in (year_from, year_to):
            if y not in years:
                raise ExploreError(f"the store has no year {y}; it has {', '.join(map(str, years))}")
        if year_from == year_to:
            raise ExploreError("change needs two different years")
        a, b = (
            self.area.data if y == self.year else read_grid(self.reader, self.area.grid, y, self.depth).data
            for y in (year_from, year_to)
        )
        dist = layers.change_distance(a, b)
        top = float(np.nanpercentile(dist, 99)) if np.isfinite(dist).any() else 1.0
        with self.lock:
            top = max(top, 1e-3)
            legend = layers.legend_ramp("change", 0.0, top)
            self._layer("change", dist, _ramp("change", 0.0, top), float("nan"), legend)
            self.project.settings["change"] = [year_from, year_to]
            self._save_settings()
        return {"years": [year_from, year_to], "max": top}

    # --- the page's view of it all ------------------------------------------------------------

    def settings(self, updates: dict) -> None:
        with self.lock:
            allowed = {"layers", "basemap", "view"}
            unknown = set(updates) - allowed
            if unknown:
                raise ExploreError(f"unknown settings {sorted(unknown)}; the page may set {sorted(allowed)}")
            basemap = updates.get("basemap")
            if basemap not in (None, "") and not str(basemap).startswith(("http://", "https://")):
                raise ExploreError("a basemap URL starts with http:// or https:// and holds {z}/{x}/{y}")
            self.project.settings.update(updates)
            self._save_settings()

    def _save_settings(self) -> None:
        self.project.settings.update(
            store=self.reader.location, year=self.year, classes=self.classes, bbox=list(self.area.bounds)
        )
        self.project.save_settings()

    def state(self) -> dict:
        with self.lock:
            return {
                "store": self.reader.location,
                "year": self.year,
                "years": list(self.reader.years),
                "bounds": list(self.area.bounds),
                "zooms": {"native": self.zooms.native, "min": self.zooms.min, "max": self.zooms.max},
                "size": list(self.area.grid.shape),
                "classes": self.classes,
                "labels": {"type": "FeatureCollection", "features": self.project.labels},
                "layers": {n: {"version": x.version, "legend": x.legend} for n, x in self.layers.items()},
                "histogram": self.hist,
                "head": self.head_state(),
                "settings": {
                    k: self.project.settings.get(k) for k in ("layers", "basemap", "view", "query", "change", "head")
                },
                "problems": self.project.problems,
                "undo": len(self.history),
                "project": str(self.project.folder),
            }


NEXT_PATCH_PX = 8  # the explorer has no field layer: it suggests 80 m squares to label next


def _ramp(kind: str, lo: float, hi: float):
    return lambda v, p: layers.ramp_rgba(v, lo, hi, layers.RAMPS[kind])


def _similar_colour(values: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    return layers.ramp_rgba(values, 0.0, 1.0, layers.RAMPS["similar"], below=_float(params, "min"))


#: Colours of ``access.base.STATUSES`` in the coverage layer: valid faint, every gap loud.
STATUS_RGBA = np.array(
    [
        [0, 150, 136, 60],  # valid
        [245, 130, 48, 210],  # unembedded: the store's rule refused the pixel
        [30, 100, 220, 210],  # water
        [128, 128, 128, 210],  # nodata
        [145, 30, 180, 210],  # incomplete: the zone-year is not published whole
        [220, 40, 40, 210],  # outside every zone
    ],
    np.uint8,
)


def _coverage_colour(values: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    return np.vstack([np.zeros((1, 4), np.uint8), STATUS_RGBA])[values]
