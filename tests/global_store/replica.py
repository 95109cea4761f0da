"""Build local replicas of the published global TESSERA v1.1 store in both of its forms.

Run by an interpreter with ``icechunk`` ≥ 2.2, ``zarr`` ≥ 3.1 and ``pcodec`` (the official
client's environment has all three; the Icechunk form must be written by Icechunk 2, which needs
Python ≥ 3.12)::

    python tests/global_store/replica.py OUT [--big N]

writes ``OUT/dclimate.icechunk`` (groups ``31N``, ``31S``, ``32N`` on their own CRSs, arrays
``(time, northing, easting, band)``), ``OUT/v1.1-dclimate`` (the plain Zarr copy: ``utm31``,
``utm32``, ``(time, band, y, x)``, both hemispheres on the northern CRS), the Parquet registry
``OUT/dclimate.registry`` and ``OUT/truth.npz``, the values written (to check readers against).

Shapes, chunks, shards, codecs, fill values and attributes are the published ones (dClimate
``tessera-embeddings``: ``config/store_layout.py``, ``storage/zone_grid.py``,
``docs/global-store.md``); only a few chunks hold data, the rest are never written. What the data
exercises: a block across the equator (north rows from ``31N``, south rows from ``31S``, whose
chunk grid is 64 px out of phase with the north's), a block either side of the 31/32 zone seam
(each zone's grid runs past 6°E, the two hold different vectors there), unembedded pixels (NaN
scale), radar-free pixels (finite scale, no S1 observations), a tile imaged and wholly refused
(counts, no embeddings), and ``31S``/2017, never filled and absent from ``years_complete``.
``--big N`` adds an N × N px block of 2024 in ``31N`` north of the others (for benchmarks).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

YEARS = list(range(2017, 2026))
PX = 10.0
FALSE_NORTHING = 10_000_000.0
# The published per-hemisphere extents (zone_grid.py), identical for every zone in its own CRS.
EASTING = (163_840.0, 839_680.0)
NORTH_NORTHING = (0.0, 9_338_880.0)
SOUTH_NORTHING = (1_105_920.0, 10_014_720.0)
WIDTH = round((EASTING[1] - EASTING[0]) / PX)
GROUPS = {"31N": 31, "31S": 31, "32N": 32}
COMPLETE = {"31N": YEARS, "31S": [y for y in YEARS if y != 2017], "32N": YEARS}
MONTHS = 12
DIMS = 128

# (group, year, first row, first column, rows, columns) in the group's own grid.
BLOCKS = [
    ("31N", 2024, 933_808, 33_744, 80, 96),  # the 80 rows just above the equator
    ("31S", 2024, 1_472, 33_744, 88, 96),  # the 88 just below: local row 1472 is the equator
    ("31N", 2024, 928_480, 66_500, 64, 1_084),  # zone 31 from ≈5.955°E to its grid's east edge (≈6.05°E)
    ("32N", 2024, 928_480, 0, 64, 1_000),  # zone 32 from its west edge (≈5.98°E) to ≈6.06°E
    ("31N", 2017, 933_808, 33_744, 80, 96),
]
REFUSED = ("32N", 2024, 928_480, 1_100, 64, 100)  # observed, every pixel refused by the depth rule


def group_top(name: str) -> float:
    return (NORTH_NORTHING if name.endswith("N") else SOUTH_NORTHING)[1]


def group_height(name: str) -> int:
    lo, hi = NORTH_NORTHING if name.endswith("N") else SOUTH_NORTHING
    return round((hi - lo) / PX)


def block_data(seed: int, h: int, w: int, refused: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    s2 = rng.integers(15, 90, (h, w)).astype(np.uint16)
    unembedded = rng.random((h, w)) < 0.06
    if refused:
        unembedded[:] = True
    s2[unembedded] = rng.integers(1, 15, int(unembedded.sum()))
    radar_free = rng.random((h, w)) < 0.25
    asc = np.where(radar_free, 0, rng.integers(0, 40, (h, w))).astype(np.uint16)
    desc = np.where(radar_free, 0, rng.integers(0, 40, (h, w))).astype(np.uint16)
    scales = rng.uniform(0.002, 0.05, (h, w)).astype(np.float32)
    scales[unembedded] = np.nan
    emb = rng.integers(-127, 128, (h, w, DIMS), dtype=np.int8)
    emb[unembedded] = 0

    def months(count: np.ndarray) -> np.ndarray:
        covered = rng.random((h, w, MONTHS)) < 0.6
        covered &= (count > 0)[..., None]
        return covered.astype(np.int8)

    return {
        "embeddings": emb,
        "scales": scales,
        "s2_obs_count": s2,
        "s1_asc_obs_count": asc,
        "s1_desc_obs_count": desc,
        "s2_month_covered": months(s2),
        "s1_asc_month_covered": months(asc),
        "s1_desc_month_covered": months(desc),
    }


def root_attrs() -> dict:
    return {
        "zarr_conventions": [{"name": "geoemb:", "uuid": "a09c9f0b-9f5f-4d44-9a9e-0d3b5c1f7e21"}],
        "geoemb:type": "pixel",
        "geoemb:dimensions": DIMS,
        "geoemb:model": "https://geotessera.org/model/1.1",
        "geoemb:data_type": "int8",
        "geoemb:gsd": 10.0,
        "geoemb:spatial_layout": "utm_zones",
        "geoemb:source_data": [
            "https://registry.opendata.aws/sentinel-2-l2a-cogs/",
            "https://www.earthdata.nasa.gov/data/catalog/asf-opera-l2-rtc-s1-v1-1",
        ],
        "geoemb:quantization": {
            "method": "per_pixel_scale",
            "original_dtype": "float32",
            "quantized_dtype": "int8",
            "scale": {"type": "array", "array_name": "scales", "nodata": "NaN"},
        },
        "checkpoint_id": "tessera_v1_1_aws_encoder",
        "optical_min_obs": 15,
        "zone_scheme": "utm_6deg_nominal",
    }


def group_attrs(name: str, top: float, height: int, epsg: int, dims: list[str], complete: list[int]) -> dict:
    west = EASTING[0]
    return {
        "crs": f"EPSG:{epsg}",
        "proj:code": f"EPSG:{epsg}",
        "spatial:dimensions": dims,
        "spatial:transform": [PX, 0.0, west, 0.0, -PX, top],
        "spatial:shape": [height, WIDTH],
        "spatial:bbox": [west, top - height * PX, EASTING[1], top],
        "spatial:registration": "pixel",
        "years_complete": complete,
        "time_convention": "calendar_year",
        "runs": {str(y): {"run_id": f"run-{name}-{y}", "commit": "bbb9d836"} for y in complete},
    }


def time_values() -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([f"{y}-01-01" for y in YEARS], "datetime64[ns]").astype(np.int64)
    ends = np.array([f"{y + 1}-01-01" for y in YEARS], "datetime64[ns]").astype(np.int64)
    return starts, np.stack([starts, ends], axis=1)


def create_arrays(group, height: int, band_last: bool) -> None:
    """Every array of one group, as the published layout declares it (nothing written yet)."""
    from zarr.codecs.numcodecs import PCodec

    sy, sx = ("northing", "easting") if band_last else ("y", "x")
    t = len(YEARS)
    if band_last:
        emb = {"shape": (t, height, WIDTH, DIMS), "chunks": (1, 256, 256, DIMS), "shards": (1, 2048, 2048, DIMS)}
        emb_dims = ("time", sy, sx, "band")
    else:
        emb = {"shape": (t, DIMS, height, WIDTH), "chunks": (1, DIMS, 256, 256), "shards": (1, DIMS, 2048, 2048)}
        emb_dims = ("time", "band", sy, sx)
    group.create_array("embeddings", dtype="int8", fill_value=0, dimension_names=emb_dims, **emb)
    plane = {"shape": (t, height, WIDTH), "chunks": (1, 256, 256), "shards": (1, 2048, 2048)}
    group.create_array(
        "scales",
        dtype="float32",
        fill_value=float("nan"),
        dimension_names=("time", sy, sx),
        serializer=PCodec(),
        compressors=None,
        **plane,
    )
    for name in ("s2_obs_count", "s1_asc_obs_count", "s1_desc_obs_count"):
        group.create_array(name, dtype="uint16", fill_value=0, dimension_names=("time", sy, sx), **plane)
    months = {"shape": (t, height, WIDTH, MONTHS), "chunks": (1, 256, 256, MONTHS), "shards": (1, 2048, 2048, MONTHS)}
    for name in ("s2_month_covered", "s1_asc_month_covered", "s1_desc_month_covered"):
        group.create_array(name, dtype="int8", fill_value=0, dimension_names=("time", sy, sx, "month"), **months)
    starts, bounds = time_values()
    units = {"units": "nanoseconds since 1970-01-01", "calendar": "proleptic_gregorian"}
    if band_last:  # the repository's CF-encoded instants
        group.create_array("time", data=starts, dimension_names=("time",), attributes={**units, "bounds": "time_bnds"})
    else:  # the copy's calendar years, as the official client's zarr reader takes them
        group.create_array("time", data=np.array(YEARS, np.int32), dimension_names=("time",))
    group.create_array("time_bnds", data=bounds, dimension_names=("time", "nv"), attributes=units)
    group.create_array("band", data=np.arange(DIMS, dtype=np.int32), dimension_names=("band",))
    group.create_array("month", data=np.arange(1, MONTHS + 1, dtype=np.int8), dimension_names=("month",))


def write_block(group, name: str, year: int, r0: int, c0: int, data: dict, band_last: bool) -> None:
    t = YEARS.index(year)
    h, w = data["scales"].shape
    rows, cols = slice(r0, r0 + h), slice(c0, c0 + w)
    for key, values in data.items():
        if key == "embeddings" and not band_last:
            group[key][t, :, rows, cols] = np.moveaxis(values, -1, 0)
        else:
            group[key][t, rows, cols] = values


BIG_ORIGIN = (920_000, 33_024)  # 31N rows and columns of the benchmarks' block (≈0.12°N, 3°E)


def blocks(big: int = 0) -> list[tuple[tuple, dict]]:
    out = [(b, block_data(i, b[4], b[5])) for i, b in enumerate(BLOCKS)]
    if big:
        out.append((("31N", 2024, *BIG_ORIGIN, big, big), block_data(50, big, big)))
    out.append((REFUSED, block_data(99, REFUSED[4], REFUSED[5], refused=True)))
    return out


def write_icechunk(path: Path, data: list) -> None:
    import icechunk
    import zarr

    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(path)))
    session = repo.writable_session("main")
    root = zarr.open_group(session.store, mode="w", attributes=root_attrs())
    for name, zone in GROUPS.items():
        epsg = (32600 if name.endswith("N") else 32700) + zone
        height = group_height(name)
        group = root.create_group(
            name, attributes=group_attrs(name, group_top(name), height, epsg, ["northing", "easting"], COMPLETE[name])
        )
        create_arrays(group, height, band_last=True)
        top = group_top(name)
        group.create_array("northing", data=top - (np.arange(height) + 0.5) * PX, dimension_names=("northing",))
        group.create_array("easting", data=EASTING[0] + (np.arange(WIDTH) + 0.5) * PX, dimension_names=("easting",))
    for (name, year, r0, c0, _, _), values in data:
        write_block(root[name], name, year, r0, c0, values, band_last=True)
    session.commit("replica of the published v1.1 store")


def copy_layout(zone: int) -> tuple[float, int, int]:
    """(top northing, height, rows of the north group kept) of a zone's merged grid in the copy."""
    north_rows = group_height(f"{zone:02d}N")
    south_kept = group_height(f"{zone:02d}S") - round((SOUTH_NORTHING[1] - FALSE_NORTHING) / PX)
    return NORTH_NORTHING[1], north_rows + south_kept, north_rows


def write_plain(path: Path, data: list) -> None:
    import zarr

    root = zarr.open_group(str(path), mode="w", attributes=root_attrs())
    for zone in sorted(set(GROUPS.values())):
        top, height, north_rows = copy_layout(zone)
        members = [g for g, z in GROUPS.items() if z == zone]
        complete = sorted(set.intersection(*(set(COMPLETE[g]) for g in members)))
        group = root.create_group(
            f"utm{zone:02d}",
            attributes=group_attrs(f"utm{zone:02d}", top, height, 32600 + zone, ["y", "x"], complete),
        )
        create_arrays(group, height, band_last=False)
        group.create_array("y", data=top - (np.arange(height) + 0.5) * PX, dimension_names=("y",))
        group.create_array("x", data=EASTING[0] + (np.arange(WIDTH) + 0.5) * PX, dimension_names=("x",))
    for (name, year, r0, c0, _, _), values in data:
        zone = GROUPS[name]
        _, _, north_rows = copy_layout(zone)
        if name.endswith("S"):
            r0 = north_rows + r0 - round((SOUTH_NORTHING[1] - FALSE_NORTHING) / PX)
        write_block(root[f"utm{zone:02d}"], name, year, r0, c0, values, band_last=False)
    zarr.consolidate_metadata(str(path))


def write_registry(path: Path, data: list) -> None:
    """One part per zone-year holding data, one row per 2048-px tile touched; 31N/2024 twice (a
    refill: the later ``assembled_at`` wins)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyproj import Transformer

    cells: dict[tuple[str, int], dict[str, dict]] = {}
    for (name, year, r0, c0, h, w), values in data:
        tiles = cells.setdefault((name, year), {})
        for ty in range(r0 // 2048, (r0 + h - 1) // 2048 + 1):
            for tx in range(c0 // 2048, (c0 + w - 1) // 2048 + 1):
                row = tiles.setdefault(f"chunk_{ty}_{tx}", {"embedded": False, "refused_px": 0, "obs_max": 0})
                finite = np.isfinite(values["scales"])
                row["embedded"] |= bool(finite.any())
                row["refused_px"] += int((~finite).sum())
                row["obs_max"] = max(row["obs_max"], int(values["s2_obs_count"].max()))
    for (name, year), tiles in cells.items():
        epsg = (32600 if name.endswith("N") else 32700) + GROUPS[name]
        to_wgs84 = Transformer.from_crs(epsg, 4326, always_xy=True)
        runs = [("run-a", "2026-08-01T00:00:00Z"), ("run-b", "2026-09-01T00:00:00Z")]
        for run_id, assembled_at in runs if (name, year) == ("31N", 2024) else runs[1:]:
            rows = []
            for label, row in sorted(tiles.items()):
                ty, tx = (int(v) for v in label.split("_")[1:])
                e0 = EASTING[0] + tx * 2048 * PX
                n1 = group_top(name) - ty * 2048 * PX
                es = np.linspace(e0, e0 + 2048 * PX, 33)
                ns = np.linspace(n1 - 2048 * PX, n1, 33)
                lon, lat = to_wgs84.transform(*np.meshgrid(es, ns))
                early = run_id == "run-a"
                rows.append(
                    {
                        "tile": label,
                        "run_id": run_id,
                        "assembled_at": assembled_at,
                        "embedded": row["embedded"] and not early,
                        "eligible_px": 2048 * 2048,
                        "chunk_px": 2048 * 2048,
                        "refused_px": 2048 * 2048 if early else row["refused_px"],
                        "refused_no_optical_px": 0,
                        "refused_thin_px": 2048 * 2048 if early else row["refused_px"],
                        "refused_no_radar_px": 0,
                        "px_with_any_optical": 2048 * 2048,
                        "obs_max": row["obs_max"],
                        "median_obs_where_any": 40.0,
                        "px_with_any_radar": 2048 * 2048,
                        "radar_rule_enforced": False,
                        "optical_min_obs": 15,
                        "bbox_west": float(np.min(lon)),
                        "bbox_south": float(np.min(lat)),
                        "bbox_east": float(np.max(lon)),
                        "bbox_north": float(np.max(lat)),
                        "code_version": "1.1.0",
                        "code_commit": "bbb9d836",
                    }
                )
            table = pa.Table.from_pylist(rows, schema=registry_schema(pa))
            table = table.replace_schema_metadata({"zone": name, "year": str(year)})
            out = path / "parts" / f"zone={name}" / f"year={year}" / f"{run_id}.parquet"
            out.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, out)


def registry_schema(pa):
    ints = [
        "eligible_px",
        "chunk_px",
        "refused_px",
        "refused_no_optical_px",
        "refused_thin_px",
        "refused_no_radar_px",
        "px_with_any_optical",
        "obs_max",
    ]
    return pa.schema(
        [
            pa.field("tile", pa.string(), nullable=False),
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("assembled_at", pa.string(), nullable=False),
            pa.field("embedded", pa.bool_(), nullable=False),
            *[pa.field(n, pa.int64()) for n in ints],
            pa.field("median_obs_where_any", pa.float64()),
            pa.field("px_with_any_radar", pa.int64()),
            pa.field("radar_rule_enforced", pa.bool_()),
            pa.field("optical_min_obs", pa.int64()),
            *[pa.field(f"bbox_{s}", pa.float64()) for s in ("west", "south", "east", "north")],
            pa.field("code_version", pa.string()),
            pa.field("code_commit", pa.string()),
        ]
    )


def write_truth(path: Path, data: list) -> None:
    arrays, index = {}, []
    for i, ((name, year, r0, c0, h, w), values) in enumerate(data):
        index.append({"group": name, "zone": GROUPS[name], "year": year, "row": r0, "col": c0, "h": h, "w": w})
        for key, v in values.items():
            arrays[f"{i}/{key}"] = v
    np.savez(path / "truth.npz", **arrays)
    (path / "truth.json").write_text(json.dumps({"blocks": index, "top": {g: group_top(g) for g in GROUPS}}))


def main(out: Path, big: int = 0) -> None:
    warnings.filterwarnings("ignore", message="Numcodecs codecs are not in the Zarr version 3")
    out.mkdir(parents=True, exist_ok=True)
    data = blocks(big)
    write_icechunk(out / "dclimate.icechunk", data)
    write_plain(out / "v1.1-dclimate", data)
    write_registry(out / "dclimate.registry", data)
    write_truth(out, data)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--big" else 0)
