"""Which Sentinel-2 band is which in a file a user brings, and a check that the answer is right.

Tools hand Sentinel-2 in their own band orders (GEE, Theia, FORCE and SNAP in wavelength order
B2…B12; the TESSERA stacker in the published order B4, B2, B3, B8, …), name bands in their own
spellings (``B2``, ``B02``, ``SRE_B8A``, ``20240301_B4``) or not at all. A wrong order is not an
error anywhere downstream: it silently gives other embeddings. So an order is always named (an
option or the file's band descriptions), then checked against what reflectance looks like: the
per-band medians of the file, put in the order claimed, must fit the published band means
better than in any other common order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from tessera.errors import CubeValidationError
from tessera.sensors import S2_BANDS, S2_MEAN

#: Orders files come in, besides the published one, for the statistics check to test against.
COMMON_ORDERS: dict[str, tuple[str, ...]] = {
    "wavelength (GEE, Theia, FORCE, SNAP)": ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"),
    "published (TESSERA stacker)": S2_BANDS,
    "10 m bands first": ("B02", "B03", "B04", "B08", "B05", "B06", "B07", "B8A", "B11", "B12"),
}
#: How much better another order must fit before the named one is refused.
FIT_MARGIN = 0.1

_NAME = re.compile(r"(?<![A-Za-z0-9])B0?(1[0-2]|[1-9]|8A)(?![0-9A-Za-z])", re.IGNORECASE)


def band_name(text: str) -> str | None:
    """``"B02"``-style name of a band named in ``text`` (``B2``, ``b02``, ``SRE_B8A``,
    ``20240301_B4``), or None."""
    found = _NAME.findall(text.replace("_", " "))
    if len(found) != 1:
        return None
    n = found[0].upper()
    return "B8A" if n == "8A" else f"B{int(n):02d}"


def parse_order(text: str) -> tuple[str, ...]:
    """``--bands B2,B3,B4,…`` → ten names, each band once."""
    names = [band_name(t.strip()) for t in text.split(",")]
    if None in names:
        bad = [t for t, n in zip(text.split(","), names, strict=True) if n is None]
        raise CubeValidationError(f"--bands {text!r}: {', '.join(bad)} is not a Sentinel-2 band (B2…B12, B8A)")
    return check_order(names)  # type: ignore[arg-type]


def check_order(names: Sequence[str]) -> tuple[str, ...]:
    """The ten bands TESSERA reads, each once, in a file's order."""
    names = tuple(names)
    if sorted(names) != sorted(S2_BANDS):
        missing = sorted(set(S2_BANDS) - set(names))
        extra = sorted(set(names) - set(S2_BANDS))
        repeated = sorted({n for n in names if names.count(n) > 1})
        said = "; ".join(
            s
            for s in (
                f"missing {', '.join(missing)}" if missing else "",
                f"not used by TESSERA: {', '.join(extra)}" if extra else "",
                f"repeated: {', '.join(repeated)}" if repeated else "",
            )
            if s
        )
        raise CubeValidationError(
            f"the band order {','.join(names)} is not the ten TESSERA bands ({','.join(S2_BANDS)}): {said}"
        )
    return names


def to_published(order: Sequence[str]) -> np.ndarray:
    """Indices that take a file's bands (in ``order``) to the published order."""
    return np.array([list(order).index(b) for b in S2_BANDS])


def fit(medians: np.ndarray, order: Sequence[str]) -> float:
    """Correlation of per-band medians (in the file's ``order``) with the published band means."""
    m = np.asarray(medians, np.float64)[to_published(order)]
    if np.std(m) == 0:
        return 0.0
    return float(np.corrcoef(m, S2_MEAN.astype(np.float64))[0, 1])


def check_statistics(medians: np.ndarray, order: Sequence[str], where: str) -> None:
    """Refuse an order another common order fits clearly better (see the module's docstring)."""
    claimed = fit(medians, order)
    for name, other in COMMON_ORDERS.items():
        if tuple(other) == tuple(order):
            continue
        if fit(medians, other) > claimed + FIT_MARGIN:
            raise CubeValidationError(
                f"{where}: the bands' reflectance fits the {name} order {','.join(other)} better than the "
                f"order given ({','.join(order)}); name the file's order with --bands (or --no-band-check "
                "if you are sure)"
            )


def suggest(medians: np.ndarray) -> str:
    """The common order the statistics fit best, for a message asking for ``--bands``."""
    name, order = max(COMMON_ORDERS.items(), key=lambda kv: fit(medians, kv[1]))
    return f"their statistics fit the {name} order: --bands {','.join(order)}"


#: Median L2A DN (reflectance × 10 000) of real scenes lie in the hundreds to thousands.
DN_MEDIAN_RANGE = (100.0, 20_000.0)


def implausible_dn(median: float, fix: str) -> str | None:
    """Why a median of valid band values is not L2A DN (percent or 8-bit reflectance below, no
    known scale above), ending in ``fix``; None when it is plausible."""
    lo, hi = DN_MEDIAN_RANGE
    if median < lo:
        return (
            f"the median value is {median:.3g}: that looks like reflectance in percent or 8-bit, not L2A DN "
            f"(reflectance × 10 000, medians in the hundreds to thousands); {fix}"
        )
    if median > hi:
        return f"the median value is {median:.3g}, above any L2A DN (reflectance × 10 000); {fix}"
    return None
