"""The official client (geotessera 0.11, Python ≥ 3.12) in its own environment: CI builds it
(``.ci/run``) and names its interpreter in ``TESSERA_GEOTESSERA_PYTHON``."""

import os
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def official_python() -> str:
    python = os.environ.get("TESSERA_GEOTESSERA_PYTHON") or str(
        Path(__file__).parents[2] / ".venv-geotessera/bin/python"
    )
    ok = (
        Path(python).exists()
        and subprocess.run([python, "-c", "import geotessera.store"], capture_output=True).returncode == 0
    )
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"the official client is not installed at {python}; .ci/run must build it")
        pytest.skip("geotessera 0.11 environment not built (make .venv-geotessera)")
    return python
