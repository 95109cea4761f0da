"""``tessera coverage``: the published registry (latest run per tile, antimeridian boxes, schema
checked) or, without one, the store's own shard listing."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tessera.access import open_store
from tessera.access.tile_registry import TileRow, read_registry, store_tiles, zones_near
from tessera.errors import RegistryError
from tests.tessera_cli import one_line_error, run_tessera

BOX = (2.9, -0.1, 6.1, 0.6)


def test_the_registry_keeps_the_latest_run_per_tile(replica):
    rows = read_registry(str(replica / "dclimate.registry"), BOX, 2024)
    assert {(r.zone, r.tile) for r in rows} == {
        ("31N", "chunk_455_16"),
        ("31S", "chunk_0_16"),
        ("31N", "chunk_453_32"),
        ("32N", "chunk_453_0"),
    }
    # 31N/2024 was filled twice; the first run refused everything, the later one embedded it.
    seam = next(r for r in rows if r.tile == "chunk_453_32")
    assert seam.embedded and seam.assembled_at.startswith("2026-09") and 0 < seam.refused_px < 2048 * 2048
    assert {r.year for r in read_registry(str(replica / "dclimate.registry"), BOX)} == {2017, 2024}


def test_without_a_registry_the_shards_are_listed(replica):
    store = open_store(replica / "v1.1-dclimate")
    rows = store_tiles(store, BOX, 2024)
    assert len(rows) == 4 and all(r.embedded and r.refused_px is None for r in rows)
    assert {r.zone for r in rows} == {"utm31", "utm32"}


def test_antimeridian_boxes(tmp_path):
    assert {1, 60, 59, 2} <= zones_near(179.5, -179.5) and 30 not in zones_near(179.5, -179.5)
    part = tmp_path / "reg" / "parts" / "zone=60S" / "year=2024" / "run.parquet"
    part.parent.mkdir(parents=True)
    row = {
        "tile": "chunk_1_32",
        "run_id": "r",
        "assembled_at": "2026-09-01",
        "embedded": True,
        "refused_px": 0,
        "bbox_west": 179.8,
        "bbox_south": -17.0,
        "bbox_east": -179.9,
        "bbox_north": -16.8,
    }
    pq.write_table(pa.Table.from_pylist([row]), part)
    got = read_registry(str(tmp_path / "reg"), (-179.95, -16.9, -179.92, -16.85), 2024)
    assert got == [TileRow("60S", 2024, "chunk_1_32", True, 0, (179.8, -17.0, -179.9, -16.8), "2026-09-01")]
    assert read_registry(str(tmp_path / "reg"), (179.0, -16.9, 179.5, -16.85), 2024) == []


def test_a_registry_part_with_another_schema_is_one_line(tmp_path):
    part = tmp_path / "reg" / "parts" / "zone=31N" / "year=2024" / "run.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{"tile": "chunk_0_0", "embedded": "yes"}]), part)
    with pytest.raises(RegistryError, match=r"another schema \(lacks assembled_at.*embedded is string, not bool"):
        read_registry(str(tmp_path / "reg"), BOX, 2024)
    done = run_tessera(
        "coverage",
        str(tmp_path / "x.icechunk"),
        "--bbox",
        "2.9,-0.1,6.1,0.6",
        "--registry",
        str(tmp_path / "reg"),
        in_process=True,
    )
    one_line_error(done, "another schema")


def test_the_coverage_command_prints_and_draws(replica, tmp_path):
    done = run_tessera(
        "coverage",
        str(replica / "dclimate.icechunk"),
        "--bbox",
        "2.9,-0.1,6.1,0.6",
        "--year",
        "2024",
        "--png",
        str(tmp_path / "c.png"),
        check=True,
        in_process=True,
    )
    assert "31S" in done.stdout and "4 tiles, 4 embedded" in done.stdout
    assert (tmp_path / "c.png").stat().st_size > 5000
    done = run_tessera("coverage", str(replica / "v1.1-dclimate"), "--bbox", "2.9,-0.1,6.1,0.6", in_process=True)
    one_line_error(done, "give --year")
