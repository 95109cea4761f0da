"""Training checkpoints: model + projector + optimizer in one safetensors file, written atomically.

``OUT/checkpoints/step_{N:08d}.safetensors`` holds everything needed to continue at step N:
tensors under ``model.``, ``projector.`` and ``optim.{i}.{name}`` and, in the header, the
training config, the step and the optimizer's hyper-parameters. A crash mid-write leaves only a
hidden temporary file, which resuming ignores and deletes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open

from tessera import __version__
from tessera.model.canonical import write_safetensors

CKPT_DIR = "checkpoints"
_NAME = re.compile(r"^step_(\d{8})\.safetensors$")


def save_training_state(
    out: Path,
    step: int,
    model: torch.nn.Module,
    projector: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    meta: dict,
    keep: int = 2,
) -> Path:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"projector.{k}": v for k, v in projector.state_dict().items()}
    opt = optimizer.state_dict()
    for i, state in opt["state"].items():
        for name, value in state.items():
            tensors[f"optim.{i}.{name}"] = torch.as_tensor(value)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    header = {
        "step": str(step),
        "param_groups": json.dumps(opt["param_groups"]),
        "software_version": __version__,
        # Part of the state: the weights' gradients are sums split over threads, so another
        # count changes their last bits, and a resumed run would no longer repeat the original.
        "torch_threads": str(torch.get_num_threads()),
        **{k: str(v) for k, v in meta.items()},
    }
    folder = out / CKPT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:08d}.safetensors"
    write_safetensors(tensors, path, header)
    for old in sorted(list_checkpoints(out))[:-keep]:
        old[1].unlink(missing_ok=True)
    return path


def list_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """(step, path) of the complete checkpoints, oldest first. Read-only: a process watching a
    live run (a monitor, a test) must never touch the temporary file the run is writing."""
    folder = out / CKPT_DIR
    if not folder.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)))


def remove_strays(out: Path) -> None:
    """Delete temporary checkpoint files a crash left mid-write; only the run that is about to
    write there (``latest_loadable``, at its start) may call this."""
    folder = out / CKPT_DIR
    for stray in folder.glob(".step_*.tmp-*") if folder.is_dir() else ():
        stray.unlink(missing_ok=True)


def load_training_state(
    path: Path, model: torch.nn.Module, projector: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> int:
    """Restore all three in place; returns the step to continue from."""
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    projector.load_state_dict({k[10:]: v for k, v in tensors.items() if k.startswith("projector.")})
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, i, name = k.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(header["param_groups"])})
    return int(header["step"])


def recorded_threads(path: Path) -> int | None:
    """The PyTorch thread count the run that wrote ``path`` trained with (None: an older file)."""
    with safe_open(str(path), framework="pt") as f:
        value = (f.metadata() or {}).get("torch_threads")
    return int(value) if value and value.isdigit() else None


def latest_loadable(out: Path) -> Path | None:
    """The newest checkpoint whose header reads; a damaged file is skipped, not trusted. Called by
    the run that resumes in ``out``, so a crash's temporary files are cleared first."""
    remove_strays(out)
    for _, path in reversed(list_checkpoints(out)):
        try:
            with safe_open(str(path), framework="pt") as f:
                if "step" in (f.metadata() or {}):
                    return path
        except (SafetensorError, OSError):
            continue
    return None
