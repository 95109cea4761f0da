"""Where a store has embeddings written: the fill records ``tessera embed`` keeps beside a local
store (``STORE.build/fills``), or the rows ``tessera serve`` publishes for it under
``base.COVERAGE_KEY``. Other stores carry no such record, and coverage is refused for them rather
than found by reading every shard."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tessera.access.base import COVERAGE_KEY, DIGESTS_KEY
from tessera.errors import AccessError, StoreDamageError
from tessera.store import Zone, build_dir
from tessera.store import manifest as mf
from tessera.store.sources import ByteSource, HttpSource, LocalSource


def coverage_rows(source: ByteSource, zones: Sequence[Zone], years: Sequence[int]) -> list[dict]:
    """One row per written block: year, zone name, zone window [row, col, height, width], pixel and
    no-data counts."""
    if isinstance(source, HttpSource):  # `tessera serve` publishes the rows it has
        raw = source.get(COVERAGE_KEY)
        try:
            rows = json.loads(raw) if raw is not None else None
        except ValueError:
            rows = None
        if isinstance(rows, list):
            return rows
    if not isinstance(source, LocalSource) or not build_dir(source.root).is_dir():
        raise AccessError(
            f"{source.location} has no fill records beside it (only local stores written by "
            "tessera do); coverage is not known without reading every shard"
        )
    fills = build_dir(source.root) / "fills"
    return [
        {"year": year, "zone": zone.name, "window": list(b.window), "pixels": b.pixels, "nodata": b.nodata}
        for zone in zones
        for year in years
        for m in mf.read_all(fills / zone.name / str(year)).values()
        for b in m.blocks
    ]


class RecordedShards:
    """Per zone × year, the shards whose fill records list a block with data (``pixels``, the
    valid ones, above zero), read once per store opened and only when a read finds a shard absent. None where the
    store keeps no records (stores not written by tessera)."""

    def __init__(self, source: ByteSource) -> None:
        self.source = source
        self._known: dict[tuple[str, int], set[tuple[int, int]] | None] = {}

    def of(self, zone: Zone, year: int, shard: tuple[int, int]) -> set[tuple[int, int]] | None:
        """Shard indices (row, col) of ``shard``-pixel shards of ``zone`` in ``year``."""
        key = (zone.name, year)
        if key not in self._known:
            try:
                rows = coverage_rows(self.source, [zone], [year])
            except AccessError:
                self._known[key] = None
            else:
                self._known[key] = {
                    (r["window"][0] // shard[0], r["window"][1] // shard[1])
                    for r in rows
                    if r["zone"] == zone.name and int(r["year"]) == year and int(r["pixels"]) > 0
                }
        return self._known[key]


def recorded_digest(source: ByteSource, zone: str) -> str | None:
    """The digest of a zone's metadata its writer recorded beside the store (``tessera serve``
    publishes it under ``base.DIGESTS_KEY``); None where no record is reachable."""
    if isinstance(source, HttpSource):
        raw = source.get(f"{DIGESTS_KEY}/{zone}.json")
        try:
            return None if raw is None else str(json.loads(raw)["sha256"])
        except (ValueError, KeyError, TypeError):
            return None
    if isinstance(source, LocalSource) and build_dir(source.root).is_dir():
        return mf.read_digest(build_dir(source.root), zone)
    return None


def check_digests(source: ByteSource, consolidated: dict[str, dict], zones: list[str]) -> None:
    """Refuse a store whose zone metadata differs from what its writer recorded."""
    for zone in zones:
        recorded = recorded_digest(source, zone)
        if recorded is not None and recorded != mf.metadata_digest(consolidated, zone):
            raise StoreDamageError(
                f"the metadata of zone {zone} in {source.location} differs from what its writer recorded: "
                "it was edited or damaged after writing (a shifted transform reads other pixels, a changed "
                "codec decodes garbage); restore its zarr.json — `tessera verify` names the node"
            )
