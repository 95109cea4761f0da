"""The checkpoint shipped inside the package: present, loadable by name, and what it says it is."""

import pytest

import tessera.model as tm
from tessera.errors import InputNotFoundError
from tessera.model.checkpoint import read_metadata
from tessera.pretrained import SHIPPED, locate, shipped
from tests.tessera_cli import run_tessera


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_checkpoints_load_by_name(name):
    model = tm.load(name)
    assert isinstance(model, tm.Tessera) and model.cfg == tm.preset("tiny")
    meta = read_metadata(shipped(name))
    assert "pretrain_broad.py" in meta["recipe"] and int(meta["step"]) > 1000  # made as recorded, fully trained
    assert shipped(name).stat().st_size < 5_000_000


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_files_are_the_recorded_bytes(name):
    import hashlib

    file, recorded = SHIPPED[name]
    assert len(recorded) == 64 and hashlib.sha256(shipped(name).read_bytes()).hexdigest() == recorded
    assert shipped(name).name == file


def test_a_shipped_file_that_changed_is_refused(tmp_path, monkeypatch):
    import tessera.pretrained as pretrained
    from tessera.errors import CheckpointError

    file, _ = SHIPPED["tiny-broad"]
    monkeypatch.setitem(pretrained.SHIPPED, "tiny-broad", (file, "0" * 64))
    with pytest.raises(CheckpointError, match="not the file tessera shipped"):
        shipped("tiny-broad")


def test_a_real_path_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny-broad").write_text("mine")
    assert locate("tiny-broad").resolve() == tmp_path / "tiny-broad"
    assert locate(tmp_path / "other.safetensors") == tmp_path / "other.safetensors"


def test_unknown_names_are_one_line_errors(tmp_path):
    with pytest.raises(InputNotFoundError, match="shipped"):
        tm.load(tmp_path / "nope.safetensors")
    with pytest.raises(InputNotFoundError, match="no shipped checkpoint"):
        shipped("huge-broad")


def test_the_cli_embeds_with_a_shipped_name(tmp_path):
    from tessera.simulate import SimulationConfig, simulate, write_scene

    scene = write_scene(simulate(SimulationConfig(height=16, width=16, seed=2)), tmp_path / "s")
    r = run_tessera("embed", scene, "-c", "tiny-broad", "-s", tmp_path / "e.zarr", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "e.zarr" / "zarr.json").exists()
