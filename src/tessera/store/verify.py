"""``tessera verify``: check a local store shard by shard and name everything that is damaged.

Three independent checks: each shard's bytes against the SHA-256 and size its fill record
holds (what was written is what is there), each shard index's and inner chunk's crc32c and
decompression (the bytes decode), and the pairing of arrays (a shard present in one array of a
zone × year and absent from another that must hold the same pixels).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tessera.errors import StoreDamageError, StoreError
from tessera.store import manifest as mf
from tessera.store.shard_codec import EMPTY, ArraySpec
from tessera.store.zarr_store import StoreWriter, build_dir


@dataclass
class VerifyReport:
    shards: int = 0
    chunks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


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


def _check_shard(spec: ArraySpec, key: str, path: Path, report: VerifyReport) -> None:
    data = path.read_bytes()
    try:
        index = spec.decode_index(
            data[-spec.index_nbytes :] if len(data) >= spec.index_nbytes else data, key, len(data)
        )
        for n, (offset, nbytes) in enumerate(index):
            if offset != EMPTY:
                spec.decode_chunk(data[int(offset) : int(offset + nbytes)], f"chunk {n} of {key}")
                report.chunks += 1
    except StoreDamageError as exc:
        report.problems.append(f"{key}: {exc}")


def verify_store(location: str | os.PathLike) -> VerifyReport:
    """Check every shard of a local store; the report lists one line per damaged shard."""
    root = Path(location)
    if str(location).rstrip("/").endswith(".icechunk"):
        raise StoreError(
            f"{location} is an Icechunk repository: its snapshots are content-addressed and checked by "
            "Icechunk itself; tessera verify checks stores in a folder (the global store's plain Zarr copy)"
        )
    store = StoreWriter(root)  # refuses what is not a store
    report = VerifyReport()
    recorded: dict[str, dict] = {}
    fills = build_dir(root) / "fills"
    for zone in store.zones():
        for year in store.years():
            for m in mf.read_all(fills / zone.name / str(year)).values():
                recorded.update(m.files or {})
        present: dict[str, set[tuple[str, ...]]] = {}
        for meta_path in sorted((root / zone.name).glob("*/zarr.json")):
            meta = json.loads(meta_path.read_text())
            if meta.get("node_type") != "array" or meta["codecs"][0]["name"] != "sharding_indexed":
                continue
            spec = ArraySpec.from_metadata(f"{zone.name}/{meta_path.parent.name}", meta)
            files = _shard_files(root, spec)
            if meta_path.parent.name.startswith(("embeddings", "scales")):
                # Embeddings and scales hold the same pixels; quality layers need not (a tile
                # imaged and wholly refused has observation counts and no embeddings).
                present[spec.path] = {_spatial(k, spec) for k in files}
            for key, path in sorted(files.items()):
                report.shards += 1
                _check_shard(spec, key, path, report)
        scales = present.get(f"{zone.name}/scales", set())
        for array, coords in present.items():
            for missing in sorted(coords ^ scales):
                where = f"{array}" if missing in scales else f"{zone.name}/scales"
                report.problems.append(f"{where}: shard (time, row, col) {missing} is missing while its pair exists")
    for key, meta in sorted(recorded.items()):
        path = root / mf.check_key(key)
        if not path.exists():
            report.problems.append(f"{key}: recorded as written, but the file is missing")
        elif mf.file_checksum(path) != meta:
            report.problems.append(f"{key}: its bytes differ from the SHA-256 recorded when it was written")
    report.problems = list(dict.fromkeys(report.problems))
    return report


def _spatial(key: str, spec: ArraySpec) -> tuple[str, ...]:
    """(time, shard row, shard col) of a shard key, whatever array it belongs to."""
    parts = key.split("/c/")[1].split("/")
    y, x = spec.spatial
    return (parts[0], parts[y], parts[x])


__all__ = ["VerifyReport", "verify_store"]
