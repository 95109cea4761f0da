"""``tessera verify``: check a local store shard by shard and name everything that is damaged.

Three independent checks: each shard's bytes against the SHA-256 and size its fill record
holds (what was written is what is there), each shard index's and inner chunk's crc32c and
decompression (the bytes decode), and the pairing of arrays (a shard present in one array of a
zone × year and absent from another that must hold the same pixels). Besides: each zone's
metadata against the digest its writer recorded, each block's recorded precision against the
store's. A fill record that cannot be read is itself named, and the check goes on.

``repair=True`` then removes each damaged shard — its files in every array and its fill record,
under the shard's lock — so that rerunning ``tessera embed`` on the cubes named recomputes it:
a rerun skips what is recorded, so damage that stays recorded is never rewritten.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tessera.errors import ManifestError, StoreDamageError, StoreError
from tessera.store import manifest as mf
from tessera.store.convention import PROVENANCE_KEY
from tessera.store.shard_codec import EMPTY, ArraySpec
from tessera.store.zarr_store import StoreWriter, build_dir

#: A shard of a zone × year: (zone name, time index, row and column of the scales' shard grid).
Shard = tuple[str, int, int, int]


@dataclass
class VerifyReport:
    shards: int = 0
    chunks: int = 0
    problems: list[str] = field(default_factory=list)
    damaged: set[Shard] = field(default_factory=set)
    #: After a repair: the shards removed, and the cubes whose rerun rewrites them.
    removed: list[str] = field(default_factory=list)
    rerun: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Zone:
    """The sharded arrays of one zone group, and how each one's shard keys map to the scales'."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.specs: dict[str, ArraySpec] = {}
        self.unreadable: list[str] = []
        for meta_path in sorted((root / name).glob("*/zarr.json")):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError) as exc:
                self.unreadable.append(f"{name}/{meta_path.parent.name}/zarr.json is unreadable ({exc})")
                continue
            if meta.get("node_type") == "array" and meta["codecs"][0]["name"] == "sharding_indexed":
                self.specs[meta_path.parent.name] = ArraySpec.from_metadata(f"{name}/{meta_path.parent.name}", meta)
        scales = self.specs.get("scales")
        self.shard = (scales.outer[scales.spatial[0]], scales.outer[scales.spatial[1]]) if scales else (1, 1)

    def shard_of(self, key: str) -> Shard | None:
        """The scales-grid shard a store key of one of these arrays lies in."""
        array = key.split("/")[1] if key.count("/") > 1 else ""
        spec = self.specs.get(array)
        if spec is None or "/c/" not in key:
            return None
        parts = key.split("/c/")[1].split("/")
        y, x = spec.spatial
        rows, cols = spec.outer[y], spec.outer[x]
        return self.name, int(parts[0]), int(parts[y]) * rows // self.shard[0], int(parts[x]) * cols // self.shard[1]

    def keys(self, shard: Shard) -> list[str]:
        """Every array's shard keys covering a scales-grid shard."""
        _, t, row, col = shard
        out = []
        for spec in self.specs.values():
            y, x = spec.spatial
            r0, c0 = row * self.shard[0] // spec.outer[y], col * self.shard[1] // spec.outer[x]
            r1 = max(r0 + 1, (row + 1) * self.shard[0] // spec.outer[y])
            c1 = max(c0 + 1, (col + 1) * self.shard[1] // spec.outer[x])
            for r in range(r0, r1):
                for c in range(c0, c1):
                    coords = [0] * len(spec.shape)
                    coords[0], coords[y], coords[x] = t, r, c
                    out.append(spec.key(tuple(coords)))
        return out


def _shard_files(root: Path, spec: ArraySpec) -> dict[str, Path]:
    folder = root / spec.path / "c"
    if not folder.is_dir():
        return {}
    out = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            if not name.startswith("."):  # zarr's temporary files while writing
                out[f"{spec.path}/{path.relative_to(root / spec.path).as_posix()}"] = path
    return out


def _check_shard(spec: ArraySpec, key: str, path: Path) -> tuple[int, str | None]:
    """(chunks that decode, the damage found or None)."""
    data = path.read_bytes()
    chunks = 0
    try:
        index = spec.decode_index(
            data[-spec.index_nbytes :] if len(data) >= spec.index_nbytes else data, key, len(data)
        )
        for n, (offset, nbytes) in enumerate(index):
            if offset != EMPTY:
                spec.decode_chunk(data[int(offset) : int(offset + nbytes)], f"chunk {n} of {key}")
                chunks += 1
    except StoreDamageError as exc:
        return chunks, str(exc)
    return chunks, None


def verify_store(location: str | os.PathLike, repair: bool = False) -> VerifyReport:
    """Check every shard of a local store; the report lists one line per damaged shard.
    ``repair``: remove what is damaged so that an ``embed`` rerun rewrites it."""
    root = Path(location)
    if str(location).rstrip("/").endswith(".icechunk"):
        raise StoreError(
            f"{location} is an Icechunk repository: its snapshots are content-addressed and checked by "
            "Icechunk itself; tessera verify checks stores in a folder (the global store's plain Zarr copy)"
        )
    store = StoreWriter(root)  # refuses what is not a store
    report = VerifyReport()
    fills = build_dir(root) / "fills"
    try:
        years = store.years()
    except StoreDamageError as exc:  # the time axis unreadable: shards are still checked, records not
        report.problems.append(str(exc))
        years = []
    zones = {zone.name: _Zone(root, zone.name) for zone in store.zones()}
    sampling = (store.attrs.get(PROVENANCE_KEY) or {}).get("sampling") or {}
    precision = str(sampling.get("precision", "fp32"))

    def damage(key: str, line: str) -> None:
        report.problems.append(line)
        for z in zones.values():
            if (where := z.shard_of(key)) is not None:
                report.damaged.add(where)

    recorded: dict[str, dict] = {}
    for zone in zones.values():
        report.problems += zone.unreadable
        for t, year in enumerate(years):
            folder = fills / zone.name / str(year)
            for name in sorted(p.name for p in folder.glob("r*.json")):
                try:
                    m = mf.parse((folder / name).read_text(), str(folder / name))
                except (ManifestError, UnicodeDecodeError) as exc:
                    why = exc.__cause__ or exc
                    report.problems.append(f"{zone.name}/{year}/{name}: the fill record is unreadable ({why})")
                    with contextlib.suppress(ValueError, IndexError):
                        row, col = (int(v[1:]) for v in name[: -len(".json")].split("_"))
                        report.damaged.add((zone.name, t, row, col))
                    continue
                recorded.update(m.files or {})
                for b in m.blocks:
                    if b.precision != precision:
                        report.problems.append(
                            f"{zone.name}/{year}/{name}: block {list(b.window)} was computed at {b.precision}, "
                            f"but the store's provenance says {precision}: one year mixes two precisions"
                        )
                        report.damaged.add((zone.name, t, *m.shard))
        present: dict[str, set[Shard]] = {}
        for array, spec in zone.specs.items():
            files = _shard_files(root, spec)
            if array.startswith(("embeddings", "scales")):
                # Embeddings and scales hold the same pixels; quality layers need not (a tile
                # imaged and wholly refused has observation counts and no embeddings).
                present[spec.path] = {s for k in files if (s := zone.shard_of(k)) is not None}
            for key, path in sorted(files.items()):
                report.shards += 1
                chunks, problem = _check_shard(spec, key, path)
                report.chunks += chunks
                if problem is not None:
                    damage(key, f"{key}: {problem}")
        scales = present.get(f"{zone.name}/scales", set())
        for array, shards in present.items():
            for missing in sorted(shards ^ scales):
                where = f"{array}" if missing in scales else f"{zone.name}/scales"
                report.problems.append(
                    f"{where}: shard (time, row, col) {missing[1:]} is missing while its pair exists"
                )
                report.damaged.add(missing)
    for key, meta in sorted(recorded.items()):
        path = root / mf.check_key(key)
        if not path.exists():
            damage(key, f"{key}: recorded as written, but the file is missing")
        elif mf.file_checksum(path) != meta:
            damage(key, f"{key}: its bytes differ from the SHA-256 recorded when it was written")
    _check_metadata(root, list(zones), report)
    report.problems = list(dict.fromkeys(report.problems))
    if repair:
        for shard in sorted(report.damaged):
            _remove_shard(store, zones[shard[0]], years[shard[1]], shard, report)
    return report


def _check_metadata(root: Path, zones: list[str], report: VerifyReport) -> None:
    """Each zone's consolidated metadata (what readers use) against the digest its writer
    recorded, and each node's own zarr.json (what other Zarr readers use) against it."""
    doc = json.loads((root / "zarr.json").read_text())
    consolidated = (doc.get("consolidated_metadata") or {}).get("metadata") or {}
    for zone in zones:
        recorded = mf.read_digest(build_dir(root), zone)
        if recorded is not None and recorded != mf.metadata_digest(consolidated, zone):
            report.problems.append(
                f"{zone}: its metadata in zarr.json differs from what its writer recorded (edited or damaged)"
            )
        for key, meta in mf.zone_metadata(consolidated, zone).items():
            try:
                own = json.loads((root / key / "zarr.json").read_text())
            except (OSError, ValueError) as exc:
                report.problems.append(f"{key}/zarr.json is unreadable ({exc})")
                continue
            if mf.zone_metadata({key: own}, zone)[key] != meta:
                report.problems.append(f"{key}/zarr.json differs from the store's consolidated metadata")


def _remove_shard(store: StoreWriter, zone: _Zone, year: int, shard: Shard, report: VerifyReport) -> None:
    """Delete a damaged shard's files in every array and its fill record, under its lock (the
    lock the writers take), and note the cubes whose blocks it held."""
    assert store.root is not None  # verify checks local stores only
    root = Path(store.root)
    _, _, row, col = shard
    record = build_dir(root) / "fills" / zone.name / str(year) / mf.manifest_name((row, col))
    with store.build.lock(f"{zone.name}-{year}-r{row}_c{col}.lock"):
        with contextlib.suppress(ManifestError, UnicodeDecodeError, OSError):
            report.rerun.update(b.cube for b in mf.parse(record.read_text(), str(record)).blocks)
        for key in zone.keys(shard):
            with contextlib.suppress(FileNotFoundError):
                (root / key).unlink()
                report.removed.append(key)
        with contextlib.suppress(FileNotFoundError):
            record.unlink()
            report.removed.append(str(record.relative_to(root.parent)))


__all__ = ["VerifyReport", "verify_store"]
