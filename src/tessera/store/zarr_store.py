"""The embedding store on disk: a Zarr v3 hierarchy, one group per year and UTM zone.

    STORE/zarr.json                       root group: format version, storage layout
    STORE/2024/utm30N/embeddings          int8 (H, W, D), sharded (shard, shard, D) / (chunk, chunk, D)
    STORE/2024/utm30N/scales              float32 (H, W), NaN = no data
    STORE/2024/utm30N/x, y                pixel-centre eastings / northings (m)
    STORE/2024/utm30N/manifest/*.json     the blocks written, with checksums (see ``manifest``)

Each zone group spans the zone's fixed 10 m grid (``layout.Zone.grid``): unwritten shards cost
nothing and read back as no data. Group attributes carry the CRS, transform and provenance
(model preset and checkpoint hash, sampling seed, software and dataset versions); a group only
accepts blocks from the model and sampling it was created with, so one group never mixes products.
No torch here: readers need only NumPy and Zarr.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

from tessera.atomic import atomic_dir
from tessera.errors import OutputExistsError, TesseraError
from tessera.grid import Grid, Window
from tessera.store import manifest
from tessera.store.layout import StoreLayout, Zone, group_path
from tessera.store.locks import file_lock

FORMAT_KEY = "tessera_store"
ZONE_KEY = "tessera_zone"
FORMAT_VERSION = 1
LOCK_DIR = ".locks"


class StoreError(TesseraError, ValueError):
    """A path is not a usable embedding store, or a store group does not fit what is written."""


@dataclass(frozen=True)
class Provenance:
    """What produced a group's embeddings. Blocks are only added under identical provenance."""

    model: dict  # {"preset", "checkpoint_sha256", "config"}
    sampling: dict  # {"seed", "timesteps", "draws"}
    software_version: str
    dataset_version: str

    def to_attrs(self) -> dict:
        return {"model": self.model, "sampling": self.sampling,
                "software_version": self.software_version, "dataset_version": self.dataset_version}  # fmt: skip

    def conflicts(self, attrs: dict) -> list[str]:
        """The provenance fields on which an existing group disagrees with this one."""
        diffs = []
        if attrs.get("model", {}).get("checkpoint_sha256") != self.model.get("checkpoint_sha256"):
            diffs.append(f"checkpoint {str(attrs.get('model', {}).get('checkpoint_sha256'))[:12]}… "
                         f"vs {self.model.get('checkpoint_sha256', '')[:12]}…")  # fmt: skip
        if attrs.get("sampling") != self.sampling:
            diffs.append(f"sampling {attrs.get('sampling')} vs {self.sampling}")
        return diffs


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path} is unreadable ({exc})") from exc


def _node_attrs(path: Path) -> dict | None:
    doc = _read_json(path / "zarr.json")
    return None if doc is None else doc.get("attributes", {})


def is_store(path: str | os.PathLike) -> bool:
    attrs = _node_attrs(Path(path))
    return attrs is not None and FORMAT_KEY in attrs


class ZoneGroup:
    """One year × UTM zone of a store: embeddings, scales, coordinates and the manifest."""

    def __init__(self, path: Path, layout: StoreLayout) -> None:
        self.path = path
        self.layout = layout
        self._group = zarr.open_group(str(path), mode="r+")
        attrs = dict(self._group.attrs)
        self.attrs = attrs
        self.year = int(attrs["year"])
        self.zone = Zone.from_name(attrs["zone"])
        self.grid = Grid.from_attrs(attrs)
        self.embeddings = self._group["embeddings"]
        self.scales = self._group["scales"]

    @property
    def embed_dim(self) -> int:
        return int(self.embeddings.shape[-1])

    def shard_lock(self, shard: tuple[int, int]) -> contextlib.AbstractContextManager:
        return file_lock(self.path / LOCK_DIR / f"r{shard[0]:06d}_c{shard[1]:06d}.lock")

    def shard_files(self, shard: tuple[int, int]) -> dict[str, Path]:
        """Group-relative keys of the shard's data files → their paths (Zarr v3 default keys)."""
        r, c = shard
        keys = (f"embeddings/c/{r}/{c}/0", f"scales/c/{r}/{c}")
        return {k: self.path / k for k in keys}

    def manifest(self, shard: tuple[int, int]) -> manifest.ShardManifest:
        return manifest.read(self.path, shard)

    def manifests(self) -> dict[tuple[int, int], manifest.ShardManifest]:
        return manifest.read_all(self.path)

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """(q (h, w, D) int8, scales (h, w) float32) of a zone window, as stored."""
        rows, cols = window.slices
        return self.embeddings[rows, cols, :], self.scales[rows, cols]

    def write_block(self, shard: tuple[int, int], window: Window, q: np.ndarray, scales: np.ndarray,
                    source: str) -> manifest.BlockRecord:  # fmt: skip
        """Write one block (a piece of one shard) and record it in the manifest.

        Under the shard's lock: other writers of the same shard (a neighbouring cube) wait, so
        neither's read-modify-write of the shard file loses the other's pixels. The checksum is
        taken from the values read back, so it vouches for what is stored, not what was meant.
        """
        if q.shape != (window.height, window.width, self.embed_dim) or scales.shape != q.shape[:2]:
            raise StoreError(f"block {window} got arrays {q.shape} / {scales.shape}")
        rows, cols = window.slices
        with self.shard_lock(shard):
            self.embeddings[rows, cols, :] = q
            self.scales[rows, cols] = scales
            back_q, back_s = self.read(window)
            record = manifest.BlockRecord(
                (window.row, window.col, window.height, window.width), source,
                pixels=int(np.isfinite(back_s).sum()), nodata=int((~np.isfinite(back_s)).sum()),
                sha256=manifest.block_checksum(back_q, back_s),
            )
            files = {k: manifest.file_checksum(p) for k, p in self.shard_files(shard).items() if p.exists()}
            manifest.write(self.path, self.manifest(shard).with_block(record, files))
        return record


class EmbeddingStore:
    """A store root: its layout and its year/zone groups."""

    def __init__(self, root: Path) -> None:
        self.root = root
        attrs = _node_attrs(root) or {}
        if FORMAT_KEY not in attrs:
            raise StoreError(f"{root} is not a tessera embedding store")
        if int(attrs[FORMAT_KEY]) > FORMAT_VERSION:
            raise StoreError(f"{root} is store format {attrs[FORMAT_KEY]}; this tessera reads up "
                             f"to {FORMAT_VERSION} — upgrade tessera")  # fmt: skip
        self.layout = StoreLayout.from_attrs(attrs["layout"])

    def groups(self) -> list[tuple[int, Zone]]:
        """(year, zone) of every complete zone group, sorted."""
        out = []
        for year_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isdigit()):
            for zone_dir in sorted(year_dir.iterdir()):
                attrs = _node_attrs(zone_dir) if zone_dir.is_dir() else None
                if attrs and ZONE_KEY in attrs:
                    out.append((int(year_dir.name), Zone.from_name(zone_dir.name)))
        return out

    def group(self, year: int, zone: Zone) -> ZoneGroup:
        path = self.root / group_path(year, zone)
        if not (_node_attrs(path) or {}).get(ZONE_KEY):
            raise StoreError(f"store {self.root} has no group {group_path(year, zone)}")
        return ZoneGroup(path, self.layout)

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        with file_lock(self.root / LOCK_DIR / f"{name}.lock"):
            yield

    def _register(self, name: str) -> None:
        """List the group in the root attributes: readers over HTTP cannot list directories."""
        with self._lock("root"):
            root = zarr.open_group(str(self.root), mode="r+")
            names = list(root.attrs.get("groups", []))
            if name not in names:
                root.attrs["groups"] = sorted([*names, name])

    def ensure_group(self, year: int, zone: Zone, embed_dim: int, provenance: Provenance) -> ZoneGroup:
        """Open the (year, zone) group, creating it if absent; refuse one of other provenance.

        Creation happens in a temporary directory renamed into place under a store-wide lock,
        so concurrent writers agree on one group and a crash never leaves half a group.
        """
        path = self.root / group_path(year, zone)
        with self._lock(f"group-{year}-{zone.name}"):
            if not (_node_attrs(path) or {}).get(ZONE_KEY):
                if _node_attrs(path.parent) is None:
                    zarr.create_group(str(path.parent), attributes={"year": year})
                with atomic_dir(path) as tmp:
                    _create_zone_group(tmp, year, zone, embed_dim, provenance, self.layout)
            self._register(group_path(year, zone))
        group = ZoneGroup(path, self.layout)
        diffs = provenance.conflicts(group.attrs)
        if diffs:
            raise StoreError(f"group {group_path(year, zone)} of {self.root} holds embeddings of other "
                             f"provenance ({'; '.join(diffs)}); write to another store")  # fmt: skip
        if group.embed_dim != embed_dim:
            raise StoreError(f"group {group_path(year, zone)} holds {group.embed_dim}-d embeddings; "
                             f"this model makes {embed_dim}-d ones")  # fmt: skip
        return group


def _create_zone_group(path: Path, year: int, zone: Zone, embed_dim: int, provenance: Provenance,
                       layout: StoreLayout) -> None:  # fmt: skip
    grid = zone.grid()
    attrs = {ZONE_KEY: FORMAT_VERSION, "year": year, "zone": zone.name, **grid.to_attrs(),
             **provenance.to_attrs(), "layout": layout.to_attrs()}  # fmt: skip
    g = zarr.create_group(str(path), attributes=attrs)
    s, c = layout.shard, layout.chunk
    g.create_array("embeddings", shape=(grid.height, grid.width, embed_dim), dtype="int8",
                   shards=(s, s, embed_dim), chunks=(c, c, embed_dim), fill_value=0,
                   compressors=ZstdCodec(level=3), dimension_names=("y", "x", "band"))  # fmt: skip
    g.create_array("scales", shape=(grid.height, grid.width), dtype="float32", shards=(s, s),
                   chunks=(c, c), fill_value=float("nan"), compressors=ZstdCodec(level=3),
                   dimension_names=("y", "x"))  # fmt: skip
    # Pixel centres. Bit-shuffled, an arithmetic sequence compresses ~350×: a zone's axes cost ~40 KB.
    t = grid.transform
    coords = {"x": t.c + t.a * (np.arange(grid.width) + 0.5), "y": t.f + t.e * (np.arange(grid.height) + 0.5)}
    for name, values in coords.items():
        a = g.create_array(name, shape=values.shape, dtype="float64", chunks=(65536,),
                           compressors=BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle"),
                           dimension_names=(name,), attributes={"units": "m", "crs": grid.crs})  # fmt: skip
        a[:] = values


def open_for_write(path: str | os.PathLike, layout: StoreLayout | None = None
                   ) -> tuple[EmbeddingStore, tuple[int, Zone] | None]:  # fmt: skip
    """Open or create a store for writing.

    ``path`` is a store root (created if absent or an empty directory) or one of its zone
    groups, which then pins the year and zone that may be written (returned second).
    ``layout`` applies to a new store; an existing store keeps its own.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise StoreError(f"store path {path} is a file; give a directory (new or an existing store)")
    attrs = _node_attrs(path)
    if attrs is not None and ZONE_KEY in attrs and is_store(path.parent.parent):
        return EmbeddingStore(path.parent.parent), (int(attrs["year"]), Zone.from_name(attrs["zone"]))
    if attrs is not None and FORMAT_KEY in attrs:
        return EmbeddingStore(path), None
    if path.exists() and any(p.name != LOCK_DIR for p in path.iterdir()):
        raise OutputExistsError(f"{path} holds other data, not an embedding store; choose a new "
                                "or empty directory")  # fmt: skip
    path.mkdir(parents=True, exist_ok=True)
    with file_lock(path / LOCK_DIR / "root.lock"):
        if not is_store(path):  # another writer may have created it meanwhile
            zarr.create_group(str(path), attributes={FORMAT_KEY: FORMAT_VERSION,
                                                     "layout": (layout or StoreLayout()).to_attrs()})  # fmt: skip
    return EmbeddingStore(path), None
