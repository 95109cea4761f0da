"""Fill records: which blocks of a zone × year are written, and checksums to verify them.

One small JSON file per shard (``STORE.build/fills/utm31/2024/r{R}_c{C}.json``, outside the
store as the convention asks), replaced atomically under the shard's lock. A block counts as
written only once it is listed here: a writer killed between writing pixels and recording them
leaves an unlisted block, which the next run recomputes (deterministically, so identically) and
readers treat as absent.

Each file lists its blocks (zone window, source cube, pixel and no-data counts, a SHA-256 of the
block's int8 values + scales as stored) and the SHA-256 and size of the shard's data files, so a
verifier (``tessera verify``) can tell a damaged file from a good one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tessera.errors import ManifestError, TesseraError
from tessera.grid import Window
from tessera.store import sources
from tessera.store.location import Location

CUBE_KEY = "source"  # a block's cube, as fill records on disk name it


@dataclass(frozen=True)
class BlockRecord:
    window: tuple[int, int, int, int]  # zone row, col, height, width
    cube: str  # the cube it was computed from (its name; the JSON key is "source", as written since 0.1)
    pixels: int
    nodata: int
    sha256: str  # of the block's int8 embeddings then float32 scales, C order
    precision: str = "fp32"  # the arithmetic it was computed in (written only when not fp32)

    @property
    def zone_window(self) -> Window:
        return Window(*self.window)


@dataclass(frozen=True)
class ShardManifest:
    shard: tuple[int, int]
    blocks: tuple[BlockRecord, ...] = ()
    files: dict[str, dict] | None = None  # store-relative key → {"sha256", "size"}

    def find(self, window: Window) -> BlockRecord | None:
        key = (window.row, window.col, window.height, window.width)
        return next((b for b in self.blocks if tuple(b.window) == key), None)

    def with_block(self, record: BlockRecord, files: dict[str, dict]) -> ShardManifest:
        kept = tuple(b for b in self.blocks if tuple(b.window) != tuple(record.window))
        return ShardManifest(self.shard, (*kept, record), files)


def block_checksum(q: np.ndarray, scales: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(q, np.int8).tobytes())
    h.update(np.ascontiguousarray(scales, np.float32).tobytes())
    return h.hexdigest()


def file_checksum(path: Path) -> dict:
    return checksum(Path(path).read_bytes())


def checksum(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def manifest_name(shard: tuple[int, int]) -> str:
    return f"r{shard[0]:06d}_c{shard[1]:06d}.json"


def check_key(key: str) -> str:
    try:
        return sources.check_key(key)
    except TesseraError as exc:
        raise ManifestError(
            f"a fill record names {key!r}, which is not inside the store; the record "
            "is corrupt or hostile — do not use this store"
        ) from exc


def _window(values: list) -> tuple[int, int, int, int]:
    row, col, height, width = (int(v) for v in values)
    return row, col, height, width


def _block_json(b: BlockRecord) -> dict:
    # Keys in the order fill records have always been written in, so their bytes do not change.
    doc = {"window": list(b.window), CUBE_KEY: b.cube, "pixels": b.pixels, "nodata": b.nodata, "sha256": b.sha256}
    return doc if b.precision == "fp32" else {**doc, "precision": b.precision}


def parse(text: str, where: str) -> ShardManifest:
    try:
        raw = json.loads(text)
        blocks = tuple(
            BlockRecord(
                _window(b["window"]),
                str(b[CUBE_KEY]),
                int(b["pixels"]),
                int(b["nodata"]),
                str(b["sha256"]),
                str(b.get("precision", "fp32")),
            )
            for b in raw["blocks"]
        )
        files = {
            check_key(str(k)): {"sha256": str(v["sha256"]), "size": int(v["size"])}
            for k, v in (raw.get("files") or {}).items()
        }
        return ShardManifest((int(raw["shard"][0]), int(raw["shard"][1])), blocks, files)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ManifestError(
            f"manifest {where} is unreadable ({exc}); delete it and rerun `tessera embed` to recompute its blocks"
        ) from exc


def read(folder: Location | Path, shard: tuple[int, int]) -> ShardManifest:
    loc = Location.of(folder) / manifest_name(shard)
    raw = loc.read_bytes()
    return ShardManifest(shard) if raw is None else parse(raw.decode(), str(loc))


def write(folder: Location | Path, manifest: ShardManifest) -> None:
    """Replace the shard's manifest whole (call under the shard's lock)."""
    doc = {
        "shard": list(manifest.shard),
        "blocks": [_block_json(b) for b in manifest.blocks],
        "files": manifest.files or {},
    }
    (Location.of(folder) / manifest_name(manifest.shard)).write_bytes(
        json.dumps(doc, indent=1, sort_keys=True).encode()
    )


def read_all(folder: Location | Path) -> dict[tuple[int, int], ShardManifest]:
    """Every shard record of a zone × year, by shard index."""
    folder = Location.of(folder)
    out = {}
    for name in folder.names():
        if name.startswith("r") and name.endswith(".json"):
            data = (folder / name).read_bytes()
            if data is None:  # removed since it was listed: a concurrent rewrite, read it next time
                continue
            m = parse(data.decode(), f"{folder}/{name}")
            out[m.shard] = m
    return out


# -- zone metadata digests -------------------------------------------------------------------
# Beside the fill records (``STORE.build/metadata/utm31.json``): the SHA-256 of each zone's
# metadata as the writer last left it, so a transform or codec edited afterwards (a shifted
# ``spatial:transform`` reads other pixels; a flipped ``endian`` decodes garbage that passes every
# crc) is damage to readers and to ``verify``, never data.


def zone_metadata(consolidated: dict[str, dict], zone: str) -> dict[str, dict]:
    """The zone group's and its arrays' documents, as readers take them (``consolidated_metadata``
    dropped: a node's own file may carry an empty one)."""
    return {
        k: {f: v for f, v in doc.items() if f != "consolidated_metadata"}
        for k, doc in sorted(consolidated.items())
        if k == zone or k.startswith(zone + "/")
    }


def metadata_digest(consolidated: dict[str, dict], zone: str) -> str:
    text = json.dumps(zone_metadata(consolidated, zone), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def record_digests(build: Location, consolidated: dict[str, dict], zones: list[str]) -> None:
    """Record each zone's metadata digest (call under the store lock, after consolidating)."""
    for zone in zones:
        doc = {"zone": zone, "sha256": metadata_digest(consolidated, zone)}
        (build / "metadata" / f"{zone}.json").write_bytes(json.dumps(doc, indent=1).encode())


def read_digest(build: Location | Path, zone: str) -> str | None:
    """The recorded digest of a zone's metadata; None where none was recorded (stores written
    before digests were)."""
    raw = (Location.of(build) / "metadata" / f"{zone}.json").read_bytes()
    if raw is None:
        return None
    try:
        return str(json.loads(raw)["sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(
            f"the metadata digest of {zone} beside the store is unreadable ({exc}); the store's records are damaged"
        ) from exc
