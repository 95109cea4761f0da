"""A plain install reads stores; every other part names the extra it needs, in one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tessera.extras import COMMAND_EXTRAS, PROVIDES, missing_extra
from tests.tessera_cli import one_line_error, run_tessera

ROOT = Path(__file__).parents[1]


def test_a_missing_optional_module_names_its_extra_and_the_commands_others():
    err = missing_extra(ModuleNotFoundError("No module named 'torch'", name="torch"), "embed")
    assert err is not None and "pip install 'tessera[model,dask]'" in str(err) and "torch" in str(err)
    err = missing_extra(ModuleNotFoundError("No module named 'sklearn.linear_model'", name="sklearn.linear_model"))
    assert err is not None and "tessera[heads]" in str(err)


def test_a_command_is_told_its_own_extras_not_another_that_also_has_the_module():
    # scipy comes with [heads] as well as [simulate]: `tessera change` needs heads, not simulate
    err = missing_extra(ModuleNotFoundError("No module named 'scipy'", name="scipy"), "change")
    assert err is not None and "pip install 'tessera[heads,viz]'" in str(err)


def test_the_extras_table_matches_pyproject():
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, modules in PROVIDES.items():
        names = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0] for r in declared[extra]}
        assert names == set(modules.values()), f"[{extra}] in pyproject.toml: {sorted(names)}"
    assert set(declared) - {"all", "dev"} == set(PROVIDES)
    assert all(set(needs) <= set(PROVIDES) for needs in COMMAND_EXTRAS.values())


def test_all_and_dev_are_written_out_unions_not_self_references():
    """pip 23.2 (Python 3.11's own) cannot resolve extras that name tessera itself: [all] and [dev]
    list their requirements, and those lists are exactly the unions they stand for."""
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not [r for reqs in declared.values() for r in reqs if r.startswith("tessera")]
    union = lambda names: {r for n in names for r in declared[n]}  # noqa: E731
    users = (
        "model",
        "heads",
        "viz",
        "simulate",
        "dask",
        "acquire",
        "planetary-computer",
        "geotessera",
        "pcodec",
        "explore",
    )
    assert set(declared["all"]) == union(users)
    assert union((*users, "s3", "icechunk")) <= set(declared["dev"])


def test_a_module_no_extra_provides_keeps_its_own_error():
    assert missing_extra(ModuleNotFoundError("No module named 'nonesuch'", name="nonesuch"), "embed") is None


def test_embed_without_the_model_extra_says_which_to_install(tmp_path):
    # torch and safetensors made unimportable in a fresh interpreter, as in a reader-only install
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['safetensors'] = None; "
        "sys.argv = ['tessera', 'embed', 'cube.zarr', '-c', 'tiny-broad', '-s', 'store.zarr']; "
        "from tessera.cli import main; main()"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "pip install 'tessera[model,dask]'" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def reader_tessera() -> Path:
    """``tessera`` of a plain ``pip install .`` (no extras): ``make test`` builds it."""
    exe = ROOT / ".venv-reader/bin/tessera"
    if not exe.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no reader-only install at {exe}; `make test` must build it")
        pytest.skip("reader-only install not built (make .venv-reader/.installed)")
    return exe


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    from tessera.cube import write_cube
    from tessera.embed import embed_cube
    from tessera.simulate import SimulationConfig, simulate

    d = tmp_path_factory.mktemp("reader")
    write_cube(d / "cube.zarr", simulate(SimulationConfig(height=24, width=24, seed=3)).cube)
    embed_cube(d / "cube.zarr", "tiny-broad", d / "store.zarr")
    return d / "store.zarr"


def test_the_reader_install_has_no_model_and_reads_a_store(reader_tessera, store, tmp_path):
    python = reader_tessera.parent / "python"
    lacks = subprocess.run([python, "-c", "import torch"], capture_output=True)
    assert lacks.returncode != 0, "the reader-only install must not pull torch"

    def tessera(*args: str) -> subprocess.CompletedProcess:
        return run_tessera(*args, cwd=tmp_path, python=python)

    assert tessera("info", str(store), "--json").returncode == 0
    (tmp_path / "pts.csv").write_text("lon,lat,id\n0.12,52.2,a\n")
    r = tessera("sample", str(store), "pts.csv", "--year", "2024", "-o", "out.csv")
    assert r.returncode == 0, r.stderr
    assert "e127" in (tmp_path / "out.csv").read_text().splitlines()[0]
    r = tessera("export", str(store), "out.tif", "--bbox", "0.119,52.199,0.121,52.201", "--year", "2024")
    assert r.returncode == 0 and (tmp_path / "out.tif").stat().st_size > 0, r.stderr
    r = tessera("embed", str(store.parent / "cube.zarr"), "-c", "tiny-broad", "-s", "again.zarr")
    assert r.returncode == 2 and "pip install 'tessera[model,dask]'" in r.stderr and "Traceback" not in r.stderr


def test_the_reader_install_names_what_the_global_store_needs(reader_tessera, official_python, tmp_path):
    """The published global store's two forms on a plain install: its Icechunk repository needs the
    icechunk extra, its plain copy's PCodec scales the pcodec one; each said in one line."""
    made = subprocess.run(
        [official_python, str(ROOT / "tests/global_store/replica.py"), str(tmp_path / "rep")],
        capture_output=True,
        text=True,
        env={**os.environ, "ICECHUNK_LOG": "error"},
    )
    assert made.returncode == 0, made.stderr[-2000:]
    python = reader_tessera.parent / "python"
    for missing in ("icechunk", "pcodec"):
        assert subprocess.run([python, "-c", f"import {missing}"], capture_output=True).returncode != 0
    (tmp_path / "pts.csv").write_text("lon,lat\n3.0122,0.0067\n")
    sample = ["sample", "--year", "2024", "-o", "out.csv"]
    r = run_tessera(
        sample[0], str(tmp_path / "rep/dclimate.icechunk"), "pts.csv", *sample[1:], cwd=tmp_path, python=python
    )
    one_line_error(r, "pip install 'tessera[icechunk]'")
    r = run_tessera(sample[0], str(tmp_path / "rep/v1.1-dclimate"), "pts.csv", *sample[1:], cwd=tmp_path, python=python)
    one_line_error(r, "pip install 'tessera[pcodec]'")
