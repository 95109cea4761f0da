"""The d-pixel cube on disk: a Zarr v3 group, written atomically and read lazily by window.

Layout (the contract in ``shared/DESIGN.md``)::

    cube.zarr/
      zarr.json                 attrs: tessera_cube, crs, transform, height, width, year, bands
      s2/bands                  uint16 (T, H, W, 10)
      s2/mask                   uint8  (T, H, W)       1 = valid observation
      s2/doy                    uint16 (T,)
      s1/ascending              int16  (T', H, W, 2)   VV, VH; 0 = no data
      s1/ascending_doy          uint16 (T',)
      s1/descending             int16  (T'', H, W, 2)
      s1/descending_doy         uint16 (T'',)
      aoi                       uint8  (H, W)          optional: 1 = wanted (``acquire --mask``)

The cube's ``year`` is its period's code (``tessera.period``): 2024 for a calendar year, 202406
for the 12 months ending June 2024, whose cube also has a ``period`` attribute with its bounds
and, on each ``doy`` array, the calendar year of every date (``years``).

Chunks are small in space and short in time, so a window read touches only the chunks that
intersect it, and writers that go date by date (acquisition) touch only their own chunks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import zarr
import zarr.abc.store

from tessera import sensors
from tessera.atomic import atomic_dir, check_output
from tessera.cube.data import (
    N_S1,
    N_S2,
    CubeData,
    S1Series,
    check_doy,
    check_s1_shape,
    check_s2_shapes,
    check_year,
    coerce_s1,
    coerce_s2_bands,
    coerce_s2_mask,
)
from tessera.errors import (
    CubeValidationError,
    GeoreferenceError,
    InputNotFoundError,
    NotACubeError,
    TesseraError,
)
from tessera.grid import Grid, Window
from tessera.period import Period, parse_period

FORMAT_KEY = "tessera_cube"
FORMAT_VERSION = 1
AOI = "aoi"
_ARRAYS = {
    "s2/bands": ("uint16", ("time", "y", "x", "band")),
    "s2/mask": ("uint8", ("time", "y", "x")),
    "s2/doy": ("uint16", ("time",)),
    "s1/ascending": ("int16", ("time", "y", "x", "band")),
    "s1/ascending_doy": ("uint16", ("time",)),
    "s1/descending": ("int16", ("time", "y", "x", "band")),
    "s1/descending_doy": ("uint16", ("time",)),
}


@dataclass(frozen=True)
class CubeChunks:
    """Chunk shape of the cube's data arrays."""

    # 16 dates × 128² px × 10 bands × 2 B ≈ 5 MB raw: a window read wastes little at the edges
    # and a date-chunked writer (acquisition) rewrites no other dates' chunks.
    time: int = 16
    space: int = 128


def period_attrs(period: Period) -> dict:
    return {"label": period.label, "start": period.start.isoformat(), "stop": period.stop.isoformat()}


def is_cube(path: str | os.PathLike) -> bool:
    """True if ``path`` opens as a Zarr group carrying the d-pixel cube marker."""
    try:
        return FORMAT_KEY in zarr.open_group(str(path), mode="r").attrs
    except Exception:  # any unreadable path simply is not a cube
        return False


class CubeWriter:
    """Create a cube of known grid and dates, fill it window by window, then :meth:`commit`.

    Nothing appears at ``path`` until commit; an exception inside the ``with`` block removes the
    partial data. Use :func:`write_cube` for a cube already in memory.

    >>> with CubeWriter(path, grid, 2024, s2_doy, asc_doy, desc_doy) as w:   # doctest: +SKIP
    ...     w.write_s2(window, bands, mask)
    ...     w.write_s1("ascending", window, values)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        grid: Grid,
        year: int,
        s2_doy: np.ndarray,
        s1_ascending_doy: np.ndarray,
        s1_descending_doy: np.ndarray,
        *,
        overwrite: bool = False,
        chunks: CubeChunks = CubeChunks(),
        years: dict[str, np.ndarray] | None = None,
        aoi: np.ndarray | None = None,
    ) -> None:
        self.path = Path(path)
        check_output(self.path, overwrite, is_cube)
        self.grid = grid
        self.year = check_year(year)
        self.period = period = parse_period(self.year)
        given = {"s2": s2_doy, "ascending": s1_ascending_doy, "descending": s1_descending_doy}
        # A window's dates come from two years: each date's year is kept beside its day of year
        # (given by the caller, who knows the dates, else derived from the window).
        self.years = {
            k: np.asarray((years or {}).get(k, period.calendar_years_of(np.asarray(v))), np.int64)
            for k, v in given.items()
        }
        names = {"s2": "S2 DOY", "ascending": "S1 ascending DOY", "descending": "S1 descending DOY"}
        self.doy = {k: check_doy(v, names[k], self.years[k]) for k, v in given.items()}
        if aoi is not None and np.shape(aoi) != grid.shape:
            raise CubeValidationError(f"area mask {np.shape(aoi)} does not match the grid {grid.shape}")
        self.aoi = None if aoi is None else np.asarray(aoi, bool)
        self.chunks = chunks
        self._ctx = atomic_dir(self.path)
        self._tmp: Path | None = None
        # Any: zarr types every member as Array | Group and every read as a union of scalars
        self._root: Any = None

    def __enter__(self) -> CubeWriter:
        self._tmp = self._ctx.__enter__()
        self._root = self._create(self._tmp)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._ctx.__exit__(kind, exc, tb)

    def _create(self, where: Path) -> zarr.Group:
        period = self.period
        root = zarr.open_group(str(where), mode="w")
        h, w = self.grid.shape
        c = self.chunks
        sizes = {
            "s2/bands": (len(self.doy["s2"]), h, w, N_S2),
            "s2/mask": (len(self.doy["s2"]), h, w),
            "s1/ascending": (len(self.doy["ascending"]), h, w, N_S1),
            "s1/descending": (len(self.doy["descending"]), h, w, N_S1),
        }
        for name, shape in sizes.items():
            dtype, dims = _ARRAYS[name]
            chunk = (c.time, min(c.space, h), min(c.space, w), *shape[3:])
            root.create_array(name, shape=shape, dtype=dtype, chunks=chunk, dimension_names=dims, fill_value=0)
        for name, key in (("s2/doy", "s2"), ("s1/ascending_doy", "ascending"), ("s1/descending_doy", "descending")):
            doy = self.doy[key]
            arr = root.create_array(
                name, shape=doy.shape, dtype="uint16", chunks=(max(len(doy), 1),), dimension_names=("time",)
            )
            arr[:] = doy
            if not period.calendar:
                arr.attrs["years"] = [int(y) for y in self.years[key]]
        if self.aoi is not None:
            a = root.create_array(
                AOI,
                shape=self.aoi.shape,
                dtype="uint8",
                chunks=(min(c.space, h), min(c.space, w)),
                dimension_names=("y", "x"),
                fill_value=0,
            )
            a[:] = self.aoi.astype(np.uint8)
        root.attrs.update(
            {
                FORMAT_KEY: {"version": FORMAT_VERSION},
                **self.grid.to_attrs(),
                "year": self.year,
                **({} if period.calendar else {"period": period_attrs(period)}),
                "s2_bands": list(sensors.S2_BANDS),
                "s1_bands": list(sensors.S1_BANDS),
                "s2_mask": "1 = valid (SCL not in 0, 1, 2, 3, 8, 9)",
                "s1_encoding": "clip((20*log10(amplitude) + 50) * 200, 0, 30000); 0 = no data",
            }
        )
        return root

    def _check_window(self, window: Window) -> tuple[slice, slice]:
        self.grid.window(window)  # raises if the window falls outside the grid
        return window.slices

    def write_s2(self, window: Window, bands: np.ndarray, mask: np.ndarray, t0: int = 0) -> None:
        """Write S2 (t, h, w, 10) bands and (t, h, w) mask for dates ``t0 … t0+t`` in ``window``."""
        rows, cols = self._check_window(window)
        n = len(self.doy["s2"])
        t = np.shape(bands)[0]
        check_s2_shapes(np.shape(bands), np.shape(mask), t, (window.height, window.width))
        if t0 < 0 or t0 + t > n:
            raise CubeValidationError(f"S2 dates {t0}…{t0 + t} exceed the cube's {n} dates")
        self._root["s2/bands"][t0 : t0 + t, rows, cols] = coerce_s2_bands(bands)
        self._root["s2/mask"][t0 : t0 + t, rows, cols] = coerce_s2_mask(mask)

    def write_s1(self, orbit: str, window: Window, values: np.ndarray, t0: int = 0) -> None:
        """Write encoded S1 (t, h, w, 2) for one orbit direction, dates ``t0 … t0+t``."""
        if orbit not in sensors.S1_ORBITS:
            raise CubeValidationError(f"orbit {orbit!r} is not one of {sensors.S1_ORBITS}")
        rows, cols = self._check_window(window)
        n = len(self.doy[orbit])
        t = np.shape(values)[0]
        check_s1_shape(np.shape(values), t, (window.height, window.width), orbit)
        if t0 < 0 or t0 + t > n:
            raise CubeValidationError(f"S1 {orbit} dates {t0}…{t0 + t} exceed its {n} dates")
        if t:
            self._root[f"s1/{orbit}"][t0 : t0 + t, rows, cols] = coerce_s1(values, orbit)


def write_cube(
    path: str | os.PathLike,
    data: CubeData,
    *,
    overwrite: bool = False,
    chunks: CubeChunks = CubeChunks(),
) -> Path:
    """Write an in-memory cube to ``path`` atomically. Returns the path."""
    full = Window(0, 0, *data.grid.shape)
    asc, desc = data.s1_ascending, data.s1_descending
    with CubeWriter(
        path, data.grid, data.year, data.s2_doy, asc.doy, desc.doy, overwrite=overwrite, chunks=chunks
    ) as w:
        w.write_s2(full, data.s2_bands, data.s2_mask)
        w.write_s1("ascending", full, asc.values)
        w.write_s1("descending", full, desc.values)
    return Path(path)


class Cube:
    """A d-pixel cube opened lazily: metadata now, pixel data only when a window is read."""

    def __init__(self, path: str, group: zarr.Group) -> None:
        self.path = path
        root: Any = group  # members typed Array | Group by zarr: the checks below are what we trust
        self._root = root
        attrs = dict(root.attrs)
        self.grid = Grid.from_attrs(attrs)
        self.year = check_year(attrs.get("year"))
        self.period = parse_period(self.year)
        self.years: dict[str, np.ndarray] = {}
        doys = {}
        for key, name, label in (
            ("s2", "s2/doy", "S2 DOY"),
            ("ascending", "s1/ascending_doy", "S1 ascending DOY"),
            ("descending", "s1/descending_doy", "S1 descending DOY"),
        ):
            doy = np.asarray(root[name][:])
            stored = root[name].attrs.get("years")
            years = self.period.calendar_years_of(doy) if stored is None else np.asarray(stored, np.int64)
            if len(years) != len(doy):
                raise NotACubeError(f"{path}: {name} has {len(doy)} dates but {len(years)} years")
            doys[key], self.years[key] = check_doy(doy, label, years), years
        self.s2_doy, self.s1_ascending_doy, self.s1_descending_doy = doys["s2"], doys["ascending"], doys["descending"]
        bands, mask = root["s2/bands"], root["s2/mask"]
        check_s2_shapes(bands.shape, mask.shape, len(self.s2_doy), self.grid.shape)
        for orbit, doy in (("ascending", self.s1_ascending_doy), ("descending", self.s1_descending_doy)):
            check_s1_shape(root[f"s1/{orbit}"].shape, len(doy), self.grid.shape, orbit)
        for name, (dtype, _) in _ARRAYS.items():
            if root[name].dtype != np.dtype(dtype):
                raise NotACubeError(f"{path}: {name} is {root[name].dtype}, the contract says {dtype}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    def months(self, sensor: str) -> np.ndarray:
        """Calendar month (0 = January) of each date of ``sensor`` (s2, ascending, descending)."""
        doy = {"s2": self.s2_doy, "ascending": self.s1_ascending_doy, "descending": self.s1_descending_doy}[sensor]
        return self.period.months_of(doy, self.years[sensor])

    def aoi(self, window: Window | None = None) -> np.ndarray | None:
        """The cube's area mask over a window (True = wanted), or None where it has none."""
        if AOI not in self._root:
            return None
        rows, cols = (window or Window(0, 0, *self.grid.shape)).slices
        return np.asarray(self._root[AOI][rows, cols]).astype(bool)

    @property
    def chunk_shape(self) -> tuple[int, int]:
        """(rows, cols) of one storage chunk: block work aligned to it reads nothing twice."""
        return tuple(self._root["s2/bands"].chunks[1:3])

    def read(self, window: Window | None = None) -> CubeData:
        """Read a window (default: everything) into memory. Only intersecting chunks are read."""
        window = window or Window(0, 0, *self.grid.shape)
        rows, cols = window.slices
        sub = self.grid.window(window)
        r = self._root

        def part(name: str) -> np.ndarray:
            try:
                return r[name][:, rows, cols]
            except TesseraError:
                raise
            except Exception as exc:
                raise NotACubeError(
                    f"{self.path}: {name} cannot be read in rows {rows.start}–{rows.stop}, "
                    f"cols {cols.start}–{cols.stop} ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:100] if str(exc) else ''}); a chunk is damaged — "
                    "re-create or re-import the cube"
                ) from exc

        def s1(orbit: str, doy: np.ndarray) -> S1Series:
            if len(doy) == 0:
                return S1Series(np.zeros((0, window.height, window.width, N_S1), np.int16), doy)
            return S1Series(part(f"s1/{orbit}"), doy)

        return CubeData(
            grid=sub,
            year=self.year,
            s2_bands=part("s2/bands"),
            s2_mask=part("s2/mask"),
            s2_doy=self.s2_doy,
            s1_ascending=s1("ascending", self.s1_ascending_doy),
            s1_descending=s1("descending", self.s1_descending_doy),
        )

    def iter_windows(self, size: int | None = None) -> Iterator[Window]:
        """Chunk-aligned windows tiling the cube in row-major order."""
        step = size or self.chunk_shape[0]
        h, w = self.grid.shape
        for row in range(0, h, step):
            for col in range(0, w, step):
                yield Window(row, col, min(step, h - row), min(step, w - col))

    def valid_fraction(self) -> float:
        """Fraction of (date, pixel) S2 observations that are valid, read window by window."""
        mask = self._root["s2/mask"]
        if mask.shape[0] == 0:
            return 0.0
        valid = sum(int(mask[:, w.slices[0], w.slices[1]].sum()) for w in self.iter_windows(512))
        return valid / float(np.prod(mask.shape))

    def summary(self) -> dict:
        """Facts for ``tessera cube info``: grid, dates per sensor, valid fraction."""
        b = self.grid.bounds

        def dates(doy: np.ndarray) -> dict:
            first, last = (int(doy[0]), int(doy[-1])) if len(doy) else (None, None)
            return {"count": len(doy), "first_doy": first, "last_doy": last}

        return {
            "path": self.path,
            "year": self.year,
            "period": self.period.describe(),
            "crs": self.grid.crs,
            "size": list(self.grid.shape),
            "resolution_m": list(self.grid.resolution),
            "bounds": [b.left, b.bottom, b.right, b.top],
            "lonlat_bounds": [round(float(v), 6) for v in self.grid.lonlat_bounds()],
            "s2_dates": dates(self.s2_doy),
            "s1_ascending_dates": dates(self.s1_ascending_doy),
            "s1_descending_dates": dates(self.s1_descending_doy),
            "s2_valid_fraction": round(self.valid_fraction(), 4),
        }


SCENE_CUBE = "cube.zarr"  # a scene directory (``tessera simulate``, a labelled region) holds its cube here


def cube_location(path: str | os.PathLike) -> Path:
    """A cube's path as given, or the cube inside a scene directory: the one place that rule lives
    (every command taking a cube takes a scene directory too)."""
    path = Path(path)
    if (path / SCENE_CUBE).is_dir() and not (path / "zarr.json").exists():
        return path / SCENE_CUBE
    return path


def open_cube(path: str | os.PathLike | zarr.abc.store.Store) -> Cube:
    """Open a d-pixel cube lazily; raises a ``TesseraError`` if ``path`` is not a valid cube.

    ``path`` is a local path, an fsspec URL, or any Zarr store object.
    """
    store = path if isinstance(path, zarr.abc.store.Store) else str(path)
    location = str(path)
    if isinstance(store, str) and "://" not in location and not Path(location).exists():
        raise InputNotFoundError(f"no cube at {location}: the path does not exist")
    if isinstance(store, str) and cube_location(location) != Path(location):
        raise NotACubeError(f"{location} is a scene directory; its cube is {cube_location(location)}")
    try:
        root = zarr.open_group(store, mode="r")
    except Exception as exc:
        raise NotACubeError(
            f"{location} is not a Zarr group ({type(exc).__name__}); give the path of a cube written by tessera"
        ) from exc
    if FORMAT_KEY not in root.attrs:
        raise NotACubeError(
            f"{location} is a Zarr group but not a d-pixel cube "
            f"(no '{FORMAT_KEY}' attribute); create cubes with tessera"
        )
    missing = []
    for name in _ARRAYS:
        try:
            if name not in root:
                missing.append(name)
        except Exception as exc:
            raise NotACubeError(
                f"{location}: the metadata of {name} is unreadable ({type(exc).__name__}); "
                "the cube is damaged — re-create or re-import it"
            ) from exc
    if missing:
        raise NotACubeError(f"{location} lacks {', '.join(missing)}; the cube is incomplete")
    try:
        return Cube(location, root)
    except GeoreferenceError as exc:
        raise GeoreferenceError(f"{location}: {exc}") from exc
    except TesseraError:
        raise
    except Exception as exc:
        raise NotACubeError(
            f"{location} cannot be opened as a cube ({type(exc).__name__}: {exc}); the cube "
            "is damaged — re-create or re-import it"
        ) from exc
