"""Local replicas of the published global store (built once per session by the official client's
interpreter, which has Icechunk 2), and the Python ≥ 3.12 environment tessera reads the Icechunk
form in (Icechunk 2 does not install on 3.11)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import interpreter_or_skip
from tests.global_store.truth import Truth

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
    """An interpreter ≥ 3.12 with tessera (reader, heads) and icechunk ≥ 2.2 installed: the official
    client's environment, tessera installed beside it by ``make test`` (``TESSERA_PY312`` names
    another)."""
    python = os.environ.get("TESSERA_PY312") or str(ROOT / ".venv-geotessera/bin/python")
    probe = "import icechunk, tessera, sys; sys.exit(int(icechunk.__version__.split('.')[0]) < 2)"
    return interpreter_or_skip(
        python,
        probe,
        f"no Python >= 3.12 with tessera and icechunk 2 at {python}; .ci/run must build it",
        "tessera is not installed in the Python 3.12 environment (make .venv-geotessera/.tessera)",
    )


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
