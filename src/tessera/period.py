"""What one embedding covers in time: a calendar year, or any 12 months ending in a chosen month.

A period is named by its last month. December is the calendar year, labelled ``2025`` and coded
``2025`` (the convention's integer years, so every published store and reader stays as it is);
any other end month is a rolling window, labelled ``2025-06`` (July 2024 to June 2025, as
dClimate's single-area path labels its entries by the month the window ended) and coded
``202506`` on a store's integer ``time`` axis. Readers take either the label or the code wherever
they take a year.

Model inputs: each observation's day of year is the day of its own calendar year (1–366), as the
published pipeline computes it (dClimate ``storage.time_axis.compute_doy``) and as every training
pixel had. A July–June window is therefore seen as one seasonal cycle, January to December, whose
months come from two years; dates are ordered by that day (ties, one day a year apart at a leap
year's edge, in date order). No I/O here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from tessera.errors import ConfigError

#: Sentinel-1A's first data (2014) and a bound past which a year is a typo.
FIRST_YEAR, LAST_YEAR = 2014, 2100
#: Sentinel-2A's first Level-1C products: a period ending before it has no optical data at all.
S2_FIRST_DAY = dt.date(2015, 6, 23)
CALENDAR = "calendar_year"  # the published stores' time convention (``time_convention``)
WINDOW = "window_end_month"  # 12 months ending in a month, labelled by it

_LABEL = re.compile(r"\s*(\d{4})(?:-(\d{1,2}))?\s*")


@dataclass(frozen=True, order=True)
class Period:
    """Twelve months ending with month ``end_month`` of ``end_year`` (12: the calendar year)."""

    end_year: int
    end_month: int = 12

    def __post_init__(self) -> None:
        if not 1 <= self.end_month <= 12:
            raise ConfigError(f"month {self.end_month} of {self.end_year} is not a month 1–12")
        if not FIRST_YEAR <= self.end_year <= LAST_YEAR:
            raise ConfigError(
                f"{self.label} is not a Sentinel period; give a year (or YYYY-MM) in {FIRST_YEAR}–{LAST_YEAR}"
            )

    @property
    def calendar(self) -> bool:
        return self.end_month == 12

    @property
    def convention(self) -> str:
        return CALENDAR if self.calendar else WINDOW

    @property
    def code(self) -> int:
        """The integer a store's ``time`` axis holds: ``2025`` or ``202506``."""
        return self.end_year if self.calendar else self.end_year * 100 + self.end_month

    @property
    def label(self) -> str:
        return str(self.end_year) if self.calendar else f"{self.end_year}-{self.end_month:02d}"

    @property
    def start(self) -> dt.date:
        """First day covered."""
        y, m = (self.end_year, 1) if self.calendar else (self.end_year - 1, self.end_month + 1)
        return dt.date(y, m, 1)

    @property
    def stop(self) -> dt.date:
        """First day after the period (bounds are half-open, as the convention's ``time_bnds``)."""
        return dt.date(self.end_year + 1, 1, 1) if self.calendar else dt.date(self.end_year, self.end_month + 1, 1)

    @property
    def years(self) -> tuple[int, ...]:
        return (self.end_year,) if self.calendar else (self.end_year - 1, self.end_year)

    def describe(self) -> str:
        last = self.stop - dt.timedelta(days=1)
        return f"{self.label} ({self.start:%d %b %Y} – {last:%d %b %Y})"

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.stop

    def bounds_days(self) -> tuple[int, int]:
        """(start, stop) as days since 1970-01-01, the ``time_bnds`` values."""
        epoch = dt.date(1970, 1, 1)
        return (self.start - epoch).days, (self.stop - epoch).days

    def check_ended(self, today: dt.date | None = None) -> Period:
        """Refuse a period that has not ended (its last months have no observations yet)."""
        today = today or dt.date.today()
        if self.stop > today:
            raise ConfigError(
                f"{self.describe()} has not ended (today is {today:%Y-%m-%d}); give a period whose last month is over"
            )
        return self

    def check_acquirable(self, today: dt.date | None = None) -> Period:
        """A period ``acquire`` can search: over, and not before Sentinel-2 began."""
        if self.stop <= S2_FIRST_DAY:
            raise ConfigError(
                f"{self.describe()} ends before Sentinel-2's first data ({S2_FIRST_DAY:%d %b %Y}); give a later period"
            )
        return self.check_ended(today)

    def calendar_years_of(self, doy: np.ndarray) -> np.ndarray:
        """Each date's calendar year from its day of year, for dates in DOY order (ties in date
        order): a day on or after the window's first day of year falls in its first year."""
        doy = np.asarray(doy, np.int64)
        if self.calendar or not len(doy):
            return np.full(len(doy), self.end_year, np.int64)
        first = self.start.timetuple().tm_yday
        years = np.where(doy >= first, self.end_year - 1, self.end_year)
        # A day of year present twice is the leap-edge pair a year apart: the earlier year first.
        repeat = np.r_[False, np.diff(doy) == 0]
        years[repeat] = self.end_year
        return years

    def months_of(self, doy: np.ndarray, years: np.ndarray | None = None) -> np.ndarray:
        """Calendar month index (0 = January) of each date."""
        years = self.calendar_years_of(doy) if years is None else np.asarray(years, np.int64)
        jan1 = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
        days = jan1 + (np.asarray(doy, np.int64) - 1).astype("timedelta64[D]")
        return (days.astype("datetime64[M]").astype(np.int64) % 12).astype(np.int64)


def day_of_year(day: dt.date) -> int:
    return day.timetuple().tm_yday


def parse_period(value: object) -> Period:
    """``2025``, ``"2025"``, ``"2025-06"``, a store code ``202506`` or a ``Period`` → a Period."""
    if isinstance(value, Period):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        v = int(value)
        return Period(v // 100, v % 100) if v > 9999 else Period(v)
    m = _LABEL.fullmatch(str(value))
    if m is None:
        raise ConfigError(f"{value!r} is not a year (2025) or the last month of a 12-month window (2025-06)")
    return Period(int(m.group(1)), int(m.group(2) or 12))


def period_code(value: object) -> int:
    """A CLI value (``2025`` or ``2025-06``) → the store code readers take."""
    return parse_period(value).code


def period_label(code: int) -> str:
    return parse_period(code).label


def check_convention(existing: list[int], new: int, where: str) -> None:
    """A store holds one time convention: calendar years, or windows labelled by end month."""
    if not existing:
        return
    theirs, mine = parse_period(existing[0]), parse_period(new)
    if theirs.calendar != mine.calendar:
        kinds = {True: "calendar years", False: "12-month windows labelled by their last month"}
        raise ConfigError(
            f"{where} holds {kinds[theirs.calendar]} ({', '.join(period_label(c) for c in existing)}); "
            f"{mine.describe()} is {'a calendar year' if mine.calendar else 'a window'}: write it to another store"
        )
