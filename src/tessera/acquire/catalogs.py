"""Where the data lives: the public catalogues' collections and asset names, and how to find the
asset of each published band in any item."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tessera import sensors
from tessera.errors import AcquireError

if TYPE_CHECKING:
    import pystac


# Earth Search names S2 assets by common name; Planetary Computer (and ESA) by band id.
COMMON_NAMES = {
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge1",
    "B06": "rededge2",
    "B07": "rededge3",
    "B08": "nir",
    "B8A": "nir08",
    "B11": "swir16",
    "B12": "swir22",
    "SCL": "scl",
}


@dataclass(frozen=True)
class CatalogProfile:
    name: str
    url: str
    s2_collection: str = "sentinel-2-l2a"
    s1_collection: str | None = "sentinel-1-rtc"
    s1_assets: tuple[str, str] = ("vv", "vh")
    #: what the S1 assets hold: "power" (linear gamma0), "amplitude", or "db"
    s1_values: str = "power"
    sign: bool = False  # URLs need signing (Planetary Computer), via the optional extra


PROFILES = {
    "planetary-computer": CatalogProfile(
        "planetary-computer", "https://planetarycomputer.microsoft.com/api/stac/v1", sign=True
    ),
    # Earth Search serves no Sentinel-1 RTC: its cubes hold S2 only unless --s1-collection names one.
    "earth-search": CatalogProfile("earth-search", "https://earth-search.aws.element84.com/v1", s1_collection=None),
}


def s2_asset_keys(item: pystac.Item) -> dict[str, str]:
    """Published band (and ``SCL``) → the item's asset key, by id (``B8A``) or common name
    (``nir08``), case-insensitive."""
    keys = {k.lower(): k for k in item.assets}
    out, missing = {}, []
    for band in (*sensors.S2_BANDS, "SCL"):
        key = keys.get(band.lower()) or keys.get(COMMON_NAMES[band])
        if key is None:
            missing.append(band)
        else:
            out[band] = key
    if missing:
        raise AcquireError(
            f"item {item.id} has no asset for band {', '.join(missing)} (its assets: "
            f"{', '.join(sorted(item.assets))}); the cube needs all ten bands and SCL"
        )
    return out


def s1_asset_keys(item: pystac.Item, names: tuple[str, str]) -> dict[str, str]:
    keys = {k.lower(): k for k in item.assets}
    missing = [n for n in names if n.lower() not in keys]
    if missing:
        raise AcquireError(
            f"item {item.id} has no asset for polarisation {', '.join(missing)} (its assets: "
            f"{', '.join(sorted(item.assets))})"
        )
    return {n.upper(): keys[n.lower()] for n in names}
