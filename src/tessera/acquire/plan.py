"""What ``tessera acquire`` would read, without reading a pixel (``--dry-run``): the catalogue's
Sentinel-2 and Sentinel-1 items for the region and period, grouped into the cube's dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tessera.acquire.catalogs import PROFILES
from tessera.acquire.run import AcquireConfig, by_day, profile_for, signer
from tessera.acquire.search import search
from tessera.grid import BBox
from tessera.period import Period, day_of_year, parse_period


@dataclass(frozen=True)
class PlannedDate:
    day: dt.date
    items: tuple[str, ...]  # item ids mosaicked into this date
    cloud: float | None  # mean eo:cloud_cover of the items (S2), where they say

    @property
    def doy(self) -> int:
        return day_of_year(self.day)


@dataclass
class AcquirePlan:
    location: str
    period: Period
    s2: list[PlannedDate]
    s1: dict[str, list[PlannedDate]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _dates(groups: dict) -> list[PlannedDate]:
    out = []
    for key, items in groups.items():
        clouds = [i.properties["eo:cloud_cover"] for i in items if "eo:cloud_cover" in i.properties]
        out.append(PlannedDate(key[-1], tuple(i.id for i in items), sum(clouds) / len(clouds) if clouds else None))
    return out


def plan_acquire(bbox: BBox, year: int | str | Period, config: AcquireConfig = AcquireConfig()) -> AcquirePlan:
    """The dates ``acquire`` would mosaic (before its per-date valid-coverage filter, which needs
    the SCL pixels) and the items behind each."""
    period = parse_period(year).check_acquirable()
    profile = profile_for(config)
    location = config.catalog if config.catalog not in PROFILES else profile.url
    _, modifier = signer(profile, config)
    lon = (bbox[0] + bbox[2]) / 2
    s2 = _dates(by_day(search(location, profile.s2_collection, bbox, period, config.max_cloud, modifier), lon, period))
    plan = AcquirePlan(location, period, s2)
    if profile.s1_collection:
        s1_items = search(location, profile.s1_collection, bbox, period, None, modifier)
        for orbit in ("ascending", "descending"):
            mine = [i for i in s1_items if i.properties.get("sat:orbit_state") == orbit]
            plan.s1[orbit] = _dates(by_day(mine, lon, period))
    else:
        plan.notes.append(f"{profile.name} has no Sentinel-1 RTC collection: the cube would hold S2 only")
    return plan
