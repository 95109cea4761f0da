"""Data-parallel training under torchrun: two CPU processes on the gloo backend."""

import json
import subprocess
import sys

from tessera.train import read_metrics

from .test_resume import shards  # noqa: F401  (fixture)


def test_two_process_gloo_run_trains_and_checkpoints(shards, tmp_path):  # noqa: F811
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "tessera",
        "train",
        "--shards",
        str(shards),
        "--out",
        str(out),
        "--preset",
        "tiny",
        "--steps",
        "6",
        "--batch-size",
        "16",
        "--checkpoint-every",
        "3",
        "--warmup-steps",
        "2",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [r for r in read_metrics(out) if "loss" in r]
    assert records[-1]["step"] == 6
    assert all(r["loss"] == r["loss"] and r["loss"] < 1e6 for r in records)  # finite
    # each step consumed the global batch: 2 processes × 16
    assert json.loads((out / "train_config.json").read_text())["batch_size"] == 16
    assert (out / "checkpoints" / "step_00000006.safetensors").exists()
