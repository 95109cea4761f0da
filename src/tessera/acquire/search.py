"""Finding items: a STAC API through pystac-client, or a static catalog (a ``catalog.json`` on
disk or over HTTP) walked with pystac and filtered the same way. Bounded retries on both."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from tessera.acquire.catalogs import AcquireError
from tessera.grid import BBox
from tessera.period import Period

RETRIES = 3


def is_static(location: str) -> bool:
    return Path(location).exists() or location.endswith(".json") or location.startswith("file://")


T = TypeVar("T")


def with_retries(what: str, fn: Callable[[], T], retries: int = RETRIES, backoff_s: float = 0.5) -> T:
    """``fn()``, retried on network errors with doubling waits; then one clear error."""
    import urllib.error

    import requests
    import urllib3
    from pystac_client.exceptions import APIError

    last = None
    for attempt in range(retries):
        try:
            return fn()
        except (
            OSError,
            urllib.error.URLError,
            urllib3.exceptions.HTTPError,
            requests.RequestException,
            APIError,
        ) as exc:
            last = exc
            if attempt + 1 < retries:
                time.sleep(backoff_s * 2**attempt)
    raise AcquireError(
        f"{what} failed after {retries} attempts ({type(last).__name__}: {last}); check the URL and your connection"
    )


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _in_period(item, period: Period) -> bool:
    when = item.datetime or datetime.fromisoformat(item.properties["start_datetime"].replace("Z", "+00:00"))
    return period.contains(when.astimezone(UTC).date())


def search(
    location: str,
    collection: str,
    bbox: BBox,
    period: Period,
    max_cloud: float | None = None,
    modifier: Callable | None = None,
) -> list:
    """Items of ``collection`` meeting ``bbox`` (lon/lat) in ``period`` (a calendar year or a
    12-month window), sorted by (time, id): the order that decides which granule's pixel a
    per-date mosaic takes first."""
    if is_static(location):
        import pystac

        href = location[7:] if location.startswith("file://") else location
        if "://" not in href and not Path(href).is_file():  # a path: nothing to retry, no network to blame
            raise AcquireError(f"no static STAC catalog at {href}; give the path of its catalog.json")
        catalog = with_retries(f"reading the static catalog {location}", lambda: pystac.Catalog.from_file(href))
        found = with_retries(f"walking {location}", lambda: list(catalog.get_items(recursive=True)))
        items = [
            i
            for i in found
            if i.collection_id == collection and i.bbox and _overlaps(i.bbox, bbox) and _in_period(i, period)
        ]
        if max_cloud is not None:
            items = [i for i in items if i.properties.get("eo:cloud_cover", 0) <= max_cloud]
    else:
        import pystac_client

        client = with_retries(
            f"opening the STAC API {location}", lambda: pystac_client.Client.open(location, modifier=modifier)
        )
        query = {"eo:cloud_cover": {"lte": max_cloud}} if max_cloud is not None else None
        last = period.stop - timedelta(days=1)
        search = client.search(
            collections=[collection], bbox=list(bbox), datetime=f"{period.start}/{last}", query=query
        )
        items = [
            i for i in with_retries(f"searching {location}", lambda: list(search.items())) if _in_period(i, period)
        ]
    return sorted(items, key=lambda i: (i.datetime or datetime.min.replace(tzinfo=UTC), i.id))
