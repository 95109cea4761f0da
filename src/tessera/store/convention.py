"""The published ``geoemb:`` Zarr convention: names, attributes and array definitions.

Facts only (source: the official client geotessera 0.11, ``zarr.py``, as observed on stores its
own writer makes); ``zarr_store`` writes them and ``access`` checks them. One store, one group per
UTM zone number ``utm{NN}``:

    embeddings     int8    (T, 128, H, W)  dims time, band, y, x   inner (1, 128, 32, 32)
    embeddings_d{d} int8   (T, d, H, W)    dims time, band_d{d}, y, x (optional Matryoshka prefixes)
    scales         float32 (T, H, W)       finite = data, NaN = water, +inf (fill) = no data
    time int32 (years) · band int32 · x, y float64 pixel centres (y descending)

Our writer adds a crc32c to every inner chunk (a standard Zarr v3 codec that every reader
decodes), so a flipped byte is caught on every read path, local included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.grid import Grid
from tessera.quantize import NODATA_SCALE

N_BANDS = 128
SCALE_NODATA = float(NODATA_SCALE)  # fill of ``scales``: land without data for that year
EMBEDDINGS = "embeddings"
SCALES = "scales"

GEOEMB_CONVENTION = {
    "uuid": "61c12cc5-0e28-4056-999a-480cf3fb7e4c",
    "name": "geoemb:",
    "description": "Geoembeddings convention for geospatial embedding arrays with model provenance",
    "spec_url": "https://github.com/geo-embeddings/embeddings-zarr-convention/blob/v1/README.md",
    "schema_url": "https://raw.githubusercontent.com/geo-embeddings/embeddings-zarr-convention/refs/tags/v1/schema.json",
}
SPATIAL_CONVENTION = {
    "uuid": "689b58e2-cf7b-45e0-9fff-9cfc0883d6b4",
    "schema_url": "https://raw.githubusercontent.com/zarr-conventions/spatial/refs/tags/v0.1/schema.json",
    "spec_url": "https://github.com/zarr-conventions/spatial/blob/v0.1/README.md",
    "name": "spatial",
    "description": "Spatial coordinate information",
}
PROJ_CONVENTION = {
    "uuid": "f17cb550-5864-4468-aeb7-f3180cfb622f",
    "schema_url": "https://raw.githubusercontent.com/zarr-conventions/proj/refs/tags/v0.1/schema.json",
    "spec_url": "https://github.com/zarr-conventions/proj/blob/v0.1/README.md",
    "name": "proj",
    "description": "Coordinate reference system information for geospatial data",
}
SOURCE_DATA = [
    "https://sentinel.esa.int/web/sentinel/missions/sentinel-1",
    "https://sentinel.esa.int/web/sentinel/missions/sentinel-2",
]
PROVENANCE_KEY = "tessera:provenance"

#: The published global store's per-pixel quality layers, under its names: usable observations
#: per sensor (uint16), and which calendar months (a trailing axis of 12, January first) held any.
QUALITY_COUNTS = ("s2_obs_count", "s1_asc_obs_count", "s1_desc_obs_count")
QUALITY_MONTHS = ("s2_month_covered", "s1_asc_month_covered", "s1_desc_month_covered")
QUALITY = QUALITY_COUNTS + QUALITY_MONTHS
#: Ours beside them: how far each pixel's embedding moves when observations are withheld
#: (``embed --reliability``; uint8, 0 = not computed; ``tessera.embed.reliability``).
RELIABILITY = "reliability"
RELIABILITY_ATTR = "tessera:reliability"
LAYERS = (*QUALITY, RELIABILITY)
RELIABILITY_DOC = {
    "long_name": "reliability of the embedding: 1 - min(1, 0.25 * mean relative move between two halves of "
    "the dates + 0.75 * relative move without Sentinel-1)",
    "variants": ["first half of the dates", "second half", "without Sentinel-1"],
    "encoding": "0 = not computed; 1..255 = 1 + round(254 * reliability)",
}


def encode_reliability(values: np.ndarray) -> np.ndarray:
    """uint8 codes of reliabilities in [0, 1] (NaN → 0, not computed)."""
    v = np.nan_to_num(np.clip(values, 0.0, 1.0), nan=-1.0)
    return np.where(v < 0, 0, 1 + np.round(254 * np.maximum(v, 0))).astype(np.uint8)


def decode_reliability(codes: np.ndarray) -> np.ndarray:
    """float32 reliabilities of stored codes; NaN where not computed (0) or unknown (NaN)."""
    c = np.asarray(codes, np.float32)
    return np.where(c == 0, np.nan, (c - 1) / 254).astype(np.float32)


MONTHS = 12
#: Root attribute of the published store: the fewest clear optical observations a pixel needs.
OPTICAL_MIN_OBS = "optical_min_obs"
TIME_CONVENTION = "time_convention"  # zone attribute, as the published store: calendar_year | window_end_month


#: The Matryoshka prefix depths a store may hold beside the full embedding (the official v2 stores
#: declare 4 and 16; a Matryoshka model is trained at 16, 32 and 64).
PREFIX_DEPTHS = (4, 16, 32, 64)


def depth_array(depth: int, full: int = N_BANDS) -> str:
    """Array name of a Matryoshka prefix: ``embeddings_d16``; the full depth is ``embeddings``."""
    return EMBEDDINGS if depth == full else f"{EMBEDDINGS}_d{depth}"


def band_dim(depth: int, full: int = N_BANDS) -> str:
    return "band" if depth == full else f"band_d{depth}"


def root_attrs(model_uri: str, dims: int, build_version: str, depths: tuple[int, ...] = ()) -> dict[str, Any]:
    """The root group's ``geoemb:`` attributes (no landmask: NaN scales never appear in ours)."""
    attrs: dict[str, Any] = {
        "zarr_conventions": [GEOEMB_CONVENTION],
        "geoemb:type": "pixel",
        "geoemb:dimensions": dims,
        "geoemb:model": model_uri,
        "geoemb:source_data": SOURCE_DATA,
        "geoemb:data_type": "int8",
        "geoemb:gsd": 10.0,
        "geoemb:spatial_layout": "utm_zones",
        "geoemb:build_version": build_version,
        "geoemb:quantization": {
            "method": "per_pixel_scale",
            "original_dtype": "float32",
            "quantized_dtype": "int8",
            "scale": {"type": "array", "array_name": SCALES, "nodata": "+inf"},
        },
        "geoemb:landmask": False,
    }
    if depths:
        attrs["geoemb:depths"] = [{"dimensions": d, "array": depth_array(d, dims)} for d in (*depths, dims)]
    return attrs


def zone_attrs(grid: Grid) -> dict[str, Any]:
    """A zone group's ``spatial:`` and ``proj:`` attributes for its grid (northern EPSG code)."""
    b = grid.bounds
    return {
        "spatial:dimensions": ["y", "x"],
        "spatial:bbox": [b.left, b.bottom, b.right, b.top],
        "spatial:transform_type": "affine",
        "spatial:transform": list(grid.transform)[:6],
        "spatial:shape": [grid.height, grid.width],
        "spatial:registration": "pixel",
        "zarr_conventions": [SPATIAL_CONVENTION, PROJ_CONVENTION],
        "proj:code": grid.crs,
    }


def zone_grid(attrs: dict[str, Any]) -> Grid:
    """The grid a zone group declares (``proj:code``, ``spatial:transform``, ``spatial:shape``)."""
    return Grid.from_attrs(
        {
            "crs": attrs.get("proj:code"),
            "transform": attrs.get("spatial:transform"),
            "height": (attrs.get("spatial:shape") or [None, None])[0],
            "width": (attrs.get("spatial:shape") or [None, None])[1],
        }
    )
