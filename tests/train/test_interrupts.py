"""kill -9 and Ctrl-C (SIGINT) in the middle of ``tessera train`` and of adaptation, then a rerun:
the final weights equal an uninterrupted run's, bit for bit."""

import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import tessera.model as tm
from tessera.cube import write_cube
from tessera.simulate import SimulationConfig, simulate
from tessera.train import ShardConfig, write_shards
from tessera.train.state import list_checkpoints
from tests.tessera_cli import default_sigint, run_tessera, tessera_argv

STEPS = 24  # a checkpoint every 5: the interrupt lands after step 10, before the last
TRAIN = ["--preset", "tiny", "--steps", STEPS, "--batch-size", 32, "--checkpoint-every", 5, "--warmup-steps", 5]
TRAIN += ["--eval-every", 1000]

# Adaptation from Python in a child process (the CLI's sizes are for real regions): the same
# library call `tessera adapt` makes, small enough to interrupt mid-run.
ADAPT = f"""
import sys
from tessera.train.adapt import AdaptConfig, adapt
cfg = AdaptConfig(steps={STEPS}, batch_size=32, eval_every=5, warmup_steps=2, samples_per_epoch=800, epochs=1)
adapt([sys.argv[1]], sys.argv[2], sys.argv[3], cfg)
"""


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("interrupts")
    cube = write_cube(root / "c.zarr", simulate(SimulationConfig(height=40, width=40, seed=9)).cube)
    shards = write_shards([cube], root / "shards", ShardConfig(samples_per_epoch=800, shard_size=400, epochs=2))
    torch.manual_seed(0)
    init = tm.save(tm.Tessera(tm.preset("tiny")), root / "init.safetensors")
    return cube, shards, init


def _interrupt(argv: list[str], run_dir, how: signal.Signals, cli: bool = True) -> int:
    """Start ``argv``, send ``how`` once a checkpoint past step 10 exists; the last checkpoint step."""
    # As from a terminal: a shell without job control (CI scripts, `cmd &`) starts its background
    # children with SIGINT ignored, and Python then never turns Ctrl-C into KeyboardInterrupt.
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_sigint)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not [s for s, _ in list_checkpoints(run_dir) if s >= 10]:
        time.sleep(0.02)
    if proc.poll() is not None:
        raise AssertionError(f"the run ended before it could be interrupted:\n{proc.stderr.read().decode()[-3000:]}")
    proc.send_signal(how)
    _, err = proc.communicate(timeout=120)
    if how == signal.SIGINT and cli:  # Ctrl-C: one line, the CLI's exit status for an interrupt, no traceback
        assert proc.returncode == 130 and b"Traceback" not in err and b"rerun to resume" in err, err.decode()[-2000:]
    steps = [s for s, _ in list_checkpoints(run_dir)]
    assert steps and 10 <= max(steps) < STEPS, f"the interrupt must land mid-run (checkpoints {steps})"
    return max(steps)


def _equal(a, b) -> bool:
    x, y = load_file(str(a)), load_file(str(b))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.fixture(scope="module")
def trained(region, tmp_path_factory):
    """The uninterrupted training run both interruptions are compared with."""
    out = tmp_path_factory.mktemp("train-ref") / "run"
    run_tessera("train", "--shards", region[1], "--out", out, *TRAIN, "--threads", 1, check=True)
    return out


@pytest.fixture(scope="module")
def adapted(region, tmp_path_factory):
    cube, _, init = region
    out = tmp_path_factory.mktemp("adapt-ref") / "out"
    subprocess.run([sys.executable, "-c", ADAPT, str(cube), str(init), str(out)], check=True, capture_output=True)
    return out


# Each signal is tried on one of the two commands by default and on both under ``-m slow``.
@pytest.mark.parametrize(
    "how", [signal.SIGKILL, pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["kill-9", "ctrl-c"]
)
def test_train_interrupted_then_rerun_equals_an_uninterrupted_run(region, trained, tmp_path, how):
    shards, cut = region[1], tmp_path / "cut"
    _interrupt(tessera_argv("train", "--shards", shards, "--out", cut, *TRAIN, "--threads", 1), cut, how)
    # Resumed where the machine has become quieter: the run keeps the one thread it began with,
    # since two split the gradients' sums otherwise and change the weights' last bits.
    done = run_tessera("train", "--shards", shards, "--out", cut, *TRAIN, "--threads", 2, check=True)
    assert "PyTorch 1 threads, as the run was started with" in done.stdout + done.stderr
    assert _equal(trained / "model.safetensors", cut / "model.safetensors")


@pytest.mark.parametrize(
    "how", [pytest.param(signal.SIGKILL, marks=pytest.mark.slow), signal.SIGINT], ids=["kill-9", "ctrl-c"]
)
def test_adaptation_interrupted_then_rerun_equals_an_uninterrupted_run(region, adapted, tmp_path, how):
    cube, _, init = region
    argv, cut = [sys.executable, "-c", ADAPT, str(cube), str(init)], tmp_path / "cut"
    _interrupt([*argv, str(cut)], cut / "run", how, cli=False)
    subprocess.run([*argv, str(cut)], check=True, capture_output=True)
    for name in ("run/model.safetensors", "adapted.safetensors"):  # the last weights and the chosen ones
        assert _equal(adapted / name, cut / name), name
