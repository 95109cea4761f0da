"""Writing the embedding store: one Zarr v3 store in the published ``geoemb:`` convention.

    STORE/zarr.json              root: geoemb: + tessera: attributes, inline consolidated metadata
    STORE/utm31/embeddings       int8 (T, 128, H, W), shards (1, 128, S, S), inner (1, 128, 32, 32)
    STORE/utm31/scales           float32 (T, H, W), +inf = no data
    STORE/utm31/s2_obs_count …   the published store's six quality layers (``convention.QUALITY``)
    STORE/utm31/{time,time_bnds,band,month,x,y}  coordinates (time: period codes, ``tessera.period``)
    STORE.build/fills/utm31/2024/r{R}_c{C}.json   which blocks are written, with checksums
    STORE.build/locks/                            flock files of concurrent writers

Nothing but Zarr is inside the store (the official writer keeps its bookkeeping in the same
sibling). Zarr writes each shard file whole under a temporary name and renames it into place, so
a shard appears whole or not at all; concurrent writers of one shard (neighbouring cubes) take
the shard's lock. Every inner chunk carries a crc32c. No torch here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec

from tessera import __version__
from tessera.atomic import atomic_dir
from tessera.errors import OutputExistsError, StoreDamageError, StoreError
from tessera.grid import Window
from tessera.period import check_convention, parse_period
from tessera.store import convention as cv
from tessera.store import manifest
from tessera.store.layout import StoreLayout, Zone, depth_chunk
from tessera.store.location import Location
from tessera.store.manifest import BlockRecord

_FILL_DEFAULTS = {"write_empty_chunks": True}  # a written shard holds every chunk: see ``access``


#: The quality rules a store's pixels were embedded under (``sampling``): no optical minimum,
#: radar-free pixels embedded — what every store written before the rules existed holds.
RULE_DEFAULTS = {cv.OPTICAL_MIN_OBS: None, "allow_s2_only": True, "reliability": False, "precision": "fp32"}


@dataclass(frozen=True)
class Provenance:
    """What produced a store's embeddings. A store only takes blocks of identical provenance."""

    model: dict  # {"preset", "checkpoint_sha256", "config"}
    sampling: dict  # {"seed", "timesteps", "draws", "optical_min_obs", "allow_s2_only"}
    software_version: str = __version__

    def to_attrs(self) -> dict:
        return {"model": self.model, "sampling": self.sampling, "software_version": self.software_version}

    @property
    def model_uri(self) -> str:
        return (
            f"urn:tessera:model:{self.model.get('preset', 'custom')}:sha256:{self.model.get('checkpoint_sha256', '')}"
        )

    def conflicts(self, attrs: dict) -> list[str]:
        """The fields on which a store's recorded provenance disagrees with this one."""
        diffs = []
        theirs = (attrs.get("model") or {}).get("checkpoint_sha256")
        if theirs != self.model.get("checkpoint_sha256"):
            diffs.append(f"checkpoint {str(theirs)[:12]}… vs {self.model.get('checkpoint_sha256', '')[:12]}…")
        # Stores written before the quality rules existed embedded every pixel: the defaults.
        theirs_sampling = {**RULE_DEFAULTS, **(attrs.get("sampling") or {})}
        ours_sampling = {**RULE_DEFAULTS, **self.sampling}
        theirs_p, ours_p = theirs_sampling.pop("precision"), ours_sampling.pop("precision")
        if theirs_p != ours_p:
            diffs.append(f"precision {theirs_p}, not {ours_p}: give --precision {theirs_p} to add to it")
        if theirs_sampling != ours_sampling:
            diffs.append(f"sampling {attrs.get('sampling')} vs {self.sampling}")
        return diffs

    @property
    def precision(self) -> str:
        return str(self.sampling.get("precision", RULE_DEFAULTS["precision"]))


def build_dir(root: Path) -> Path:
    """A local store's bookkeeping sibling, ``STORE.build``."""
    return root.with_name(root.name + ".build")


def _root_doc(loc: Location) -> dict | None:
    try:
        raw = (loc / "zarr.json").read_bytes()
        doc = None if raw is None else json.loads(raw)
    except (OSError, ValueError) as exc:
        raise StoreError(f"{loc}/zarr.json is unreadable ({exc})") from exc
    return doc if isinstance(doc, dict) else None


def is_store(path: str | os.PathLike | Location) -> bool:
    doc = _root_doc(Location.of(path))
    return doc is not None and doc.get("node_type") == "group" and "geoemb:type" in doc.get("attributes", {})


class ZoneWriter:
    """One zone × year of a store, open for writing blocks."""

    def __init__(self, store: StoreWriter, zone: Zone, year: int) -> None:
        self.store, self.zone, self.year = store, zone, year
        # Any: zarr types members as Array | Group; these are the convention's arrays
        group: Any = zarr.open_group((store.location / zone.name).zarr_store(), mode="r+", use_consolidated=False)
        years = [int(v) for v in group["time"][:]]
        if year not in years:
            raise StoreError(f"{store.location} has no year {year} in {zone.name}; it holds {years}")
        self.t = years.index(year)
        self.embeddings = group[cv.EMBEDDINGS].with_config(_FILL_DEFAULTS)
        self.scales = group[cv.SCALES].with_config(_FILL_DEFAULTS)
        self.prefixes = {d: group[cv.depth_array(d, self.embed_dim)].with_config(_FILL_DEFAULTS) for d in store.depths}
        # Stores made before the quality layers existed have none: their blocks are written without.
        members = {name for name, _ in group.arrays()}
        self.quality = {q: group[q].with_config(_FILL_DEFAULTS) for q in cv.LAYERS if q in members}
        self.fills = store.build / "fills" / zone.name / str(year)

    @property
    def embed_dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def layout(self) -> StoreLayout:
        return StoreLayout(int(self.embeddings.shards[-1]))

    def shard_keys(self, shard: tuple[int, int]) -> list[str]:
        """Store-relative keys of the shard's files in every array (Zarr v3 default keys)."""
        r, c = shard
        keys = [
            f"{self.zone.name}/{cv.EMBEDDINGS}/c/{self.t}/0/{r}/{c}",
            f"{self.zone.name}/{cv.SCALES}/c/{self.t}/{r}/{c}",
        ]
        return (
            keys
            + [f"{self.zone.name}/{cv.depth_array(d, self.embed_dim)}/c/{self.t}/0/{r}/{c}" for d in self.prefixes]
            + [
                f"{self.zone.name}/{q}/c/{self.t}/{r}/{c}" + ("/0" if q in cv.QUALITY_MONTHS else "")
                for q in self.quality
            ]
        )

    def manifest(self, shard: tuple[int, int]) -> manifest.ShardManifest:
        return manifest.read(self.fills, shard)

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """(q (h, w, D) int8, scales (h, w) float32) of a zone window of this year, as stored."""
        rows, cols = window.slices
        return np.moveaxis(self.embeddings[self.t, :, rows, cols], 0, -1), self.scales[self.t, rows, cols]

    def write_block(
        self,
        shard: tuple[int, int],
        window: Window,
        q: np.ndarray,
        scales: np.ndarray,
        cube: str,
        quality: dict[str, np.ndarray] | None = None,
        precision: str = "fp32",
    ) -> BlockRecord:
        """Write one block (a piece of one shard) and record it in the build directory.

        ``scales`` are the convention's, as ``quantize`` gives them: finite = data, +inf = no data
        for this year, NaN = water. ``quality``: the block's layers, (h, w) counts and (h, w, 12)
        months, for a store that has them. ``precision``: the arithmetic the block was computed in,
        recorded with it (``verify`` names blocks whose precision is not their year's). The checksum
        is taken from the values read back, so it vouches for what is stored, not what was meant.
        """
        if q.shape != (window.height, window.width, self.embed_dim) or scales.shape != q.shape[:2]:
            raise StoreError(f"block {window} got arrays {q.shape} / {scales.shape}")
        rows, cols = window.slices
        stored_scales = np.asarray(scales, np.float32)
        planes = np.ascontiguousarray(np.moveaxis(q, -1, 0))  # (D, h, w)
        with self.store.build.lock(f"{self.zone.name}-{self.year}-r{shard[0]}_c{shard[1]}.lock"):
            self.embeddings[self.t, :, rows, cols] = planes
            for depth, array in self.prefixes.items():
                array[self.t, :, rows, cols] = planes[:depth]
            for name, array in self.quality.items():
                if quality is not None and name in quality:  # without: unwritten (a library caller's own blocks)
                    array[self.t, rows, cols] = quality[name].astype(array.dtype)
            self.scales[self.t, rows, cols] = stored_scales  # last: the data it vouches for is in place
            back_q, back_s = self.read(window)
            finite = np.isfinite(back_s)
            record = manifest.BlockRecord(
                (window.row, window.col, window.height, window.width),
                cube,
                pixels=int(finite.sum()),
                nodata=int((~finite).sum()),
                sha256=manifest.block_checksum(back_q, back_s),
                precision=precision,
            )
            files = {
                k: manifest.checksum(data)
                for k in self.shard_keys(shard)
                if (data := (self.store.location / k).read_bytes()) is not None
            }
            manifest.write(self.fills, self.manifest(shard).with_block(record, files))
        return record


class StoreWriter:
    """A store open for writing (a local directory or an object-store URL): its root attributes,
    zones and years. ``root`` is the local path (None for a URL), ``location`` either."""

    def __init__(self, root: str | os.PathLike | Location) -> None:
        self.location = Location.of(root)
        self.root = self.location.path
        #: Whether ``open_for_write`` made this store just now (not another writer, not earlier).
        self.created = False
        self.build = self.location.sibling(".build")
        doc = _root_doc(self.location)
        if doc is None or "geoemb:type" not in doc.get("attributes", {}):
            raise StoreError(f"{self.location} is not an embedding store (no geoemb: attributes in zarr.json)")
        self.attrs = doc["attributes"]
        self.layout = StoreLayout(int((self.attrs.get("tessera:layout") or {}).get("shard", StoreLayout().shard)))
        self.depths = tuple(
            int(d["dimensions"])
            for d in self.attrs.get("geoemb:depths", [])
            if int(d["dimensions"]) != int(self.attrs["geoemb:dimensions"])
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with self.build.lock("root.lock"):
            yield

    def zones(self) -> list[Zone]:
        return sorted(
            Zone.from_name(n)
            for n in self.location.names()
            if n.startswith("utm") and (self.location / n / "zarr.json").exists()
        )

    def years(self) -> list[int]:
        zones = self.zones()
        if not zones:
            return []
        try:
            values = np.asarray(zarr.open_array((self.location / zones[0].name / "time").zarr_store(), mode="r")[:])
        except (ValueError, KeyError, TypeError) as exc:  # a truncated or edited zarr.json
            raise StoreDamageError(
                f"{self.location}/{zones[0].name}/time cannot be read ({type(exc).__name__}: {exc}): the store's "
                "metadata is damaged; restore that zarr.json from a copy"
            ) from exc
        return [int(v) for v in values]

    def writer(self, year: int, zone: Zone) -> ZoneWriter:
        return ZoneWriter(self, zone, year)

    def ensure(self, year: int, zone: Zone, provenance: Provenance, embed_dim: int) -> ZoneWriter:
        """Open (year, zone) for writing, adding the zone group or the year if absent.

        A new year is appended to the time axis of every zone (arrays resized: other years'
        shards are untouched) and the consolidated metadata is rewritten, under the store lock.
        """
        diffs = provenance.conflicts(self.attrs.get(cv.PROVENANCE_KEY, {}))
        if diffs:
            raise StoreError(
                f"{self.location} holds embeddings of other provenance ({'; '.join(diffs)}); write to another store"
            )
        if int(self.attrs["geoemb:dimensions"]) != embed_dim:
            raise StoreError(
                f"{self.location} holds {self.attrs['geoemb:dimensions']}-d embeddings; this model "
                f"makes {embed_dim}-d ones"
            )
        with self._lock():
            years, zones = self.years(), self.zones()
            if year not in years:
                check_convention(years, year, str(self.location))
            changed = False
            if year not in years:
                years = [*years, year]
                for z in zones:
                    _append_year(self.location / z.name, years)
                changed = True
            if zone not in zones:
                reliability = bool(provenance.sampling.get("reliability"))
                _create_zone(self.location, zone, years, embed_dim, self.depths, self.layout, reliability)
                changed = True
            if changed:
                consolidate(self.location)
            names = [z.name for z in {*zones, zone}]
            # Stores written before digests were get theirs now, from the metadata as found.
            if changed or any(manifest.read_digest(self.build, n) is None for n in names):
                doc = _root_doc(self.location) or {}
                consolidated = (doc.get("consolidated_metadata") or {}).get("metadata") or {}
                manifest.record_digests(self.build, consolidated, sorted(names))
        return self.writer(year, zone)


def consolidate(root: Location | Path) -> None:
    """Rewrite the root's inline consolidated metadata (zarr.json: a rename locally, one PUT)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata")
        zarr.consolidate_metadata(Location.of(root).zarr_store())


def _compressor(dtype: str, crc: bool = True) -> tuple:
    """Blosc zstd 3 as the official writer; then a crc32c over every compressed inner chunk."""
    blosc = BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle" if dtype == "int8" else "shuffle")
    return (blosc, Crc32cCodec()) if crc else (blosc,)


def _create_zone(
    root: Location,
    zone: Zone,
    years: list[int],
    dims: int,
    depths: tuple[int, ...],
    layout: StoreLayout,
    reliability: bool = False,
) -> None:
    grid = zone.grid()
    g = zarr.open_group(root.zarr_store(), mode="r+", use_consolidated=False).create_group(
        zone.name, attributes=cv.zone_attrs(grid)
    )
    T, H, W, S, C = len(years), grid.height, grid.width, layout.shard, layout.chunk
    for depth in (*depths, dims):
        side = C if depth == dims else depth_chunk(depth, layout, cv.N_BANDS)
        g.create_array(
            cv.depth_array(depth, dims),
            shape=(T, depth, H, W),
            dtype="int8",
            chunks=(1, depth, side, side),
            shards=(1, depth, S, S),
            fill_value=0,
            compressors=_compressor("int8"),
            dimension_names=("time", cv.band_dim(depth, dims), "y", "x"),
        )
    g.create_array(
        cv.SCALES,
        shape=(T, H, W),
        dtype="float32",
        chunks=(1, C, C),
        shards=(1, S, S),
        fill_value=np.float32(cv.SCALE_NODATA),
        compressors=_compressor("float32"),
        dimension_names=("time", "y", "x"),
    )
    for name in cv.QUALITY:
        months = (cv.MONTHS,) if name in cv.QUALITY_MONTHS else ()
        dtype = "int8" if months else "uint16"
        g.create_array(
            name,
            shape=(T, H, W, *months),
            dtype=dtype,
            chunks=(1, C, C, *months),
            shards=(1, S, S, *months),
            fill_value=0,
            compressors=_compressor(dtype),
            dimension_names=("time", "y", "x", *(("month",) if months else ())),
        )
    if reliability:  # ``embed --reliability`` stores only (their provenance says so)
        g.create_array(
            cv.RELIABILITY,
            shape=(T, H, W),
            dtype="uint8",
            chunks=(1, C, C),
            shards=(1, S, S),
            fill_value=0,
            compressors=_compressor("uint8"),
            dimension_names=("time", "y", "x"),
            attributes={cv.RELIABILITY_ATTR: cv.RELIABILITY_DOC},
        )
    t = grid.transform
    coords = {
        "x": (t.c + t.a * (np.arange(W) + 0.5), "x"),
        "y": (t.f + t.e * (np.arange(H) + 0.5), "y"),
        "time": (np.asarray(years, np.int32), "time"),
        "band": (np.arange(dims, dtype=np.int32), "band"),
        "month": (np.arange(1, cv.MONTHS + 1, dtype=np.int32), "month"),
        **{cv.band_dim(d, dims): (np.arange(d, dtype=np.int32), cv.band_dim(d, dims)) for d in depths},
    }
    for name, (values, dim) in coords.items():
        chunk = 64 if name == "time" else min(len(values), 1 << 18)
        a = g.create_array(
            name,
            shape=values.shape,
            dtype=values.dtype,
            chunks=(chunk,),
            fill_value=0,
            compressors=_compressor(str(values.dtype), crc=False),
            dimension_names=(dim,),
            attributes={"bounds": "time_bnds"} if name == "time" else None,
        )
        a[:] = values
    bounds = g.create_array(
        "time_bnds",
        shape=(T, 2),
        dtype="int32",
        chunks=(64, 2),
        fill_value=0,
        compressors=_compressor("int32", crc=False),
        dimension_names=("time", "nv"),
        attributes={"units": "days since 1970-01-01", "calendar": "proleptic_gregorian"},
    )
    bounds[:] = _time_bounds(years)
    g.attrs[cv.TIME_CONVENTION] = parse_period(years[0]).convention if years else "calendar_year"


def _time_bounds(years: list[int]) -> np.ndarray:
    """(T, 2) half-open [start, stop) of each period, days since 1970-01-01."""
    return np.array([parse_period(y).bounds_days() for y in years], np.int32).reshape(-1, 2)


def _append_year(zone_dir: Location, years: list[int]) -> None:
    g: Any = zarr.open_group(zone_dir.zarr_store(), mode="r+", use_consolidated=False)
    for name, node in g.arrays():
        if node.metadata.dimension_names and node.metadata.dimension_names[0] == "time" and name != "time":
            node.resize((len(years), *node.shape[1:]))
    time = g["time"]
    time.resize((len(years),))
    time[:] = np.asarray(years, np.int32)
    if "time_bnds" in {n for n, _ in g.arrays()}:
        g["time_bnds"][:] = _time_bounds(years)


def _debris(loc: Location) -> bool:
    """A local folder holding only what a failed store creation leaves: zone group folders (or
    hidden temporaries), no root ``zarr.json``, and no fill record beside it."""
    if loc.remote or not loc.local.is_dir() or (loc.local / "zarr.json").exists():
        return False
    names = loc.names()
    fills = build_dir(loc.local) / "fills"
    return (
        bool(names)
        and all(re.fullmatch(r"utm\d\d", n) or n.startswith(".") for n in names)
        and not any(fills.rglob("*.json"))
    )


def open_for_write(
    path: str | os.PathLike,
    provenance: Provenance,
    embed_dim: int,
    layout: StoreLayout | None = None,
    depths: tuple[int, ...] = (),
) -> StoreWriter:
    """Open a store for writing — a local directory or an object-store URL (``s3://…``) — creating
    it if absent (whole: built aside, then renamed into place or PUT as one root object).

    ``layout`` and ``depths`` apply to a new store; an existing store keeps its own.
    """
    loc = Location(path)
    try:
        return _open_for_write(loc, provenance, embed_dim, layout, depths)
    except OSError as exc:
        if not loc.remote:
            raise
        raise StoreError(
            f"cannot write a store at {loc} ({type(exc).__name__}: {exc}); check that the bucket "
            "exists and that your credentials (AWS_* environment, profile) may write to it"
        ) from exc


def _open_for_write(
    loc: Location, provenance: Provenance, embed_dim: int, layout: StoreLayout | None, depths: tuple[int, ...]
) -> StoreWriter:
    path = loc.url
    if loc.is_file():
        raise StoreError(f"store path {path} is a file; give a directory (new or an existing store)")
    if is_store(loc):
        return StoreWriter(loc)
    if _debris(loc):
        # A store whose creation failed (a full disk) and whose cleanup lost a race with Zarr's
        # last writes: zone folders and nothing else, not one block recorded. Not a user's data.
        shutil.rmtree(loc.local)
    if loc.names():
        raise OutputExistsError(f"{path} holds other data, not an embedding store; choose a new or empty directory")
    for d in depths:
        if not 0 < d < embed_dim:
            raise StoreError(f"depth {d} must be between 1 and {embed_dim - 1} (the full depth is always stored)")
    build = loc.sibling(".build")
    with build.lock("root.lock"):
        if is_store(loc):  # another writer created it meanwhile
            return StoreWriter(loc)
        attrs = cv.root_attrs(provenance.model_uri, embed_dim, f"tessera-{__version__}", tuple(sorted(depths)))
        attrs[cv.PROVENANCE_KEY] = provenance.to_attrs()
        if provenance.sampling.get(cv.OPTICAL_MIN_OBS) is not None:  # as the published store declares it
            attrs[cv.OPTICAL_MIN_OBS] = int(provenance.sampling[cv.OPTICAL_MIN_OBS])
        attrs["tessera:layout"] = {"shard": (layout or StoreLayout()).shard}
        if loc.remote:
            with tempfile.TemporaryDirectory() as tmp:
                zarr.create_group(tmp, attributes=attrs, zarr_format=3)
                consolidate(Path(tmp))
                (loc / "zarr.json").write_bytes((Path(tmp) / "zarr.json").read_bytes())
        else:
            if loc.local.exists():
                loc.local.rmdir()
            with atomic_dir(loc.local) as tmp:
                zarr.create_group(str(tmp), attributes=attrs, zarr_format=3)
                consolidate(tmp)
    writer = StoreWriter(loc)
    writer.created = True
    return writer
