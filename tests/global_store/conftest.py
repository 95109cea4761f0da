"""Local replicas of the published global store (built once per session by the official client's
interpreter, which has Icechunk 2), and the Python ≥ 3.12 environment tessera reads the Icechunk
form in (Icechunk 2 does not install on 3.11)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="session")
def replica(official_python, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("global")
    r = subprocess.run(
        [official_python, str(HERE / "replica.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "ICECHUNK_LOG": "error"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def reader312() -> str:
    """An interpreter ≥ 3.12 with tessera (reader, heads) and icechunk ≥ 2.2 installed:
    ``make .venv-312``; CI names it in ``TESSERA_PY312``."""
    python = os.environ.get("TESSERA_PY312") or str(ROOT / ".venv-312/bin/python")
    probe = "import icechunk, tessera, sys; sys.exit(int(icechunk.__version__.split('.')[0]) < 2)"
    ok = Path(python).exists() and subprocess.run([python, "-c", probe], capture_output=True).returncode == 0
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"no Python >= 3.12 with tessera and icechunk 2 at {python}; .ci/run must build it")
        pytest.skip("the Python 3.12 reader environment is not built (make .venv-312)")
    return python


class Truth:
    """What the replica holds: its blocks (group, year, first row and column, size) and values."""

    def __init__(self, root: Path) -> None:
        doc = json.loads((root / "truth.json").read_text())
        self.blocks, self.top = doc["blocks"], doc["top"]
        self.arrays = dict(np.load(root / "truth.npz"))

    def lonlat(self, i: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(N, 2) lon/lat of pixel centres at rows/cols inside block ``i``."""
        b = self.blocks[i]
        epsg = (32600 if b["group"].endswith("N") else 32700) + b["zone"]
        e = 163_840.0 + (b["col"] + np.asarray(cols) + 0.5) * 10
        n = self.top[b["group"]] - (b["row"] + np.asarray(rows) + 0.5) * 10
        lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(e, n)
        return np.stack([lon, lat], axis=1)

    def vectors(self, i: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        q = self.arrays[f"{i}/embeddings"][rows, cols].astype(np.float32)
        s = self.arrays[f"{i}/scales"][rows, cols]
        return q * np.where(np.isfinite(s), s, np.nan)[:, None]

    def layer(self, i: int, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.arrays[f"{i}/{name}"][rows, cols]


@pytest.fixture(scope="session")
def truth(replica) -> Truth:
    return Truth(replica)


def run_script(python: str, script: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [python, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "ICECHUNK_LOG": "error"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r
