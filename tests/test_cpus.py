import pytest

from tessera.cpus import available_cores, cgroup_quota


def test_cgroup_quota_v2_and_v1(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert cgroup_quota(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    assert cgroup_quota(tmp_path) is None


def test_override_and_quota_cap(monkeypatch):
    import tessera.cpus as cpus

    monkeypatch.setattr(cpus, "_affinity", lambda: 8)
    monkeypatch.setattr(cpus, "cgroup_quota", lambda: 2.5)
    assert available_cores() == 3
    monkeypatch.setenv("TESSERA_CPUS", "1")
    assert available_cores() == 1


def test_torchruns_processes_share_the_cores(monkeypatch):
    import tessera.cpus as cpus

    monkeypatch.setattr(cpus, "available_cores", lambda: 8)
    monkeypatch.setattr(cpus, "_others_at_start", lambda: 0.0)
    monkeypatch.delenv("TESSERA_CPUS", raising=False)
    assert cpus.cores_for_work() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert cpus.cores_for_work() == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert cpus.cores_for_work() == 1


def test_a_busy_machine_gets_fewer_threads_never_none():
    from tessera.cpus import busy_threads

    assert [busy_threads(2, others) for others in (0, 0.4, 1, 3, 10)] == [2, 2, 1, 1, 1]
    assert busy_threads(16, 4) == 12 and busy_threads(4, -1) == 4


def test_runnable_others_reads_the_instant_run_queue_less_the_reader(tmp_path):
    from tessera.cpus import runnable_others

    f = tmp_path / "loadavg"
    f.write_text("11.50 9.00 4.00 7/412 12345\n")  # the 1-minute average is not what counts
    assert runnable_others(samples=3, every_s=0, loadavg=f) == 6
    f.write_text("0.10 0.10 0.10 1/300 1\n")
    assert runnable_others(samples=1, every_s=0, loadavg=f) == 0
    assert runnable_others(loadavg=tmp_path / "missing") == 0


def test_openmp_waits_sleep_on_a_busy_machine_unless_the_user_said_otherwise():
    from tessera.cpus import calm_openmp

    busy = calm_openmp({}, busy=True)
    assert busy["OMP_WAIT_POLICY"] == "PASSIVE" and busy["KMP_BLOCKTIME"] == "0" and int(busy["OMP_NUM_THREADS"]) >= 1
    assert "OMP_WAIT_POLICY" not in calm_openmp({}, busy=False)  # a quiet machine keeps the runtime's spin
    assert calm_openmp({"OMP_WAIT_POLICY": "ACTIVE"}, busy=True)["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.mark.parametrize("others, expect", [(5.0, ["1", "PASSIVE", "0", "False"]), (0.0, ["2", "-", "-", "False"])])
def test_the_cli_sets_openmp_before_torch_loads(tmp_path, others, expect):
    """In a fresh interpreter on 2 cores: after the CLI's root callback (and before torch loads),
    a busy machine has one OpenMP thread that sleeps while it waits; a quiet one both cores and the
    runtime's default waits."""
    import os
    import subprocess
    import sys

    code = (
        f"import os, sys; import tessera.cpus as c; c._others_at_start = lambda: {others!r}\n"
        "from tessera.cli import main; sys.argv = ['tessera', 'cube', 'info', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(*(os.environ.get(k, '-') for k in ('OMP_NUM_THREADS', 'OMP_WAIT_POLICY', 'KMP_BLOCKTIME')), "
        "'torch' in sys.modules)"
    )
    drop = ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OMP_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in (*drop, "TESSERA_CPUS")}
    code = code.replace("import tessera.cpus as c;", "import tessera.cpus as c; c.available_cores = lambda: 2;")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.stdout.split()[-4:] == expect, out.stderr


def test_the_thread_count_never_changes_the_stored_bytes(tmp_path, small_cube):
    """Runs stay bit-reproducible whatever threads a busy machine leaves: the seed fixes every
    date drawn, and the GEMMs split rows and columns over threads, never the summed dimension.
    Stores embedded with 1 and with 2 cores are byte-identical."""
    import hashlib

    import torch

    from tessera.cube import write_cube
    from tessera.embed import EmbedConfig, embed_cube
    from tessera.model import Tessera, preset, save
    from tessera.store import StoreLayout

    cube = write_cube(tmp_path / "cube.zarr", small_cube)
    torch.manual_seed(0)
    ckpt = save(Tessera(preset("tiny")), tmp_path / "tiny.safetensors")
    digests = []
    for cores in (1, 2):
        store = tmp_path / f"store{cores}"
        embed_cube(cube, ckpt, store, EmbedConfig(cores=cores, draws=2, layout=StoreLayout(shard=32)))
        chunks = sorted(p for p in store.rglob("*") if p.is_file() and "/c/" in p.as_posix())
        assert chunks
        digests.append(hashlib.sha256(b"".join(p.read_bytes() for p in chunks)).hexdigest())
    assert torch.get_num_threads() >= 1 and digests[0] == digests[1]
