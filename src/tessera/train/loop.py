"""The pretraining loop: Barlow Twins + mix regulariser, exact resume, DDP under torchrun.

Everything a step does is a function of the step number — its batch (``ShardSet.batch``), its
learning rate (``schedule``), its mix coefficient and permutation, its dropout seed — so a run
resumed from the checkpoint of step N repeats, bit for bit on the same machine, what the
uninterrupted run did from step N on. It runs with the thread count the run began with (recorded in each
checkpoint): gradients are sums split over threads, so another count would change their last bits.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from tessera.atomic import atomic_file
from tessera.errors import ConfigError, InputNotFoundError
from tessera.model import Tessera, TesseraConfig, preset
from tessera.model.checkpoint import save as save_model
from tessera.progress import Progress
from tessera.train.data import ShardSet
from tessera.train.losses import LAMBDA, barlow_twins_loss, gather_batch, mix_loss
from tessera.train.projector import PROJECTORS, Projector, ProjectorConfig
from tessera.train.schedule import learning_rate
from tessera.train.state import latest_loadable, load_training_state, recorded_threads, save_training_state

log = logging.getLogger(__name__)
METRICS = "metrics.jsonl"
# training.png is redrawn at a checkpoint at most this often, and at the end: a drawing takes
# about 0.6 s, more than a few dozen steps of a small model.
PLOT_EVERY_S = 30.0
# Selection criteria for best.safetensors, and whether higher is better. ``last``: the schedule's end.
CRITERIA = {"probe_acc": True, "rankme": True, "view_loss": False, "view_corr": True, "last": True}


def check_schedule(steps: int, lr: float, warmup_steps: int, minutes: float | None = None) -> None:
    """One line for optimiser settings no run can use (AdamW itself raises a bare ValueError,
    after the shards are written)."""
    if not steps > 0:
        raise ConfigError(f"--steps {steps} must be a positive number of optimiser steps")
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"--lr {lr} must be a positive learning rate (pretraining uses 1e-3)")
    if warmup_steps < 0:
        raise ConfigError(f"--warmup-steps {warmup_steps} must be 0 or more")
    if minutes is not None and not (math.isfinite(minutes) and minutes >= 0):
        raise ConfigError(f"a time limit of {minutes} minutes must be 0 or more")


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "tiny"
    model: TesseraConfig | None = None  # overrides the preset's shapes when given
    projector: ProjectorConfig | None = None  # default: the preset's (release: 16384 × 5)
    steps: int = 2000
    batch_size: int = 256  # per process
    lr: float = 1e-3  # AdamW peak learning rate
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    plateau_steps: int = 0
    final_lr: float = 1e-5
    grad_clip: float = 2.0  # published: gradient norm clipped at 2
    lambd: float = LAMBDA
    lambda_mix: float = 1.0
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    eval_every: int = 200
    probe_fraction: float = 0.01  # labels used by the validation linear probe
    val_scene: str | None = None  # a labelled scene directory for RankMe + probe
    val_cube: str | None = None  # or an unlabelled cube, for label-free selection (see criterion)
    init: str | None = None  # start from these weights (ours or published v1) instead of random ones
    criterion: str | None = (
        None  # best.safetensors by: probe_acc (val_scene's default), rankme (val_cube's), view_loss, view_corr, last
    )
    keep_evaluated: bool = False  # also keep the encoder of every evaluated step (evaluated/step_N.safetensors)
    time_limit_s: float | None = None  # stop (with a checkpoint) after this long
    precision: str = "auto"  # "auto": bf16 autocast on CUDA, fp32 on CPU

    def __post_init__(self) -> None:
        check_schedule(
            self.steps, self.lr, self.warmup_steps, None if self.time_limit_s is None else self.time_limit_s / 60
        )
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay {self.weight_decay} must be 0 or more")
        if min(self.steps, self.batch_size, self.checkpoint_every, self.log_every, self.eval_every) <= 0:
            raise ConfigError("steps, batch_size and the *_every intervals must be positive")
        if self.batch_size < 2:
            raise ConfigError("Barlow Twins standardises over the batch: batch_size must be ≥ 2")
        if self.criterion is not None and self.criterion not in CRITERIA:
            raise ConfigError(f"criterion {self.criterion!r} must be one of {', '.join(CRITERIA)}")
        if self.criterion == "probe_acc" and not self.val_scene:
            raise ConfigError("criterion probe_acc needs a labelled --val-scene")
        if self.criterion in ("view_loss", "view_corr") and not self.val_cube:
            raise ConfigError(f"criterion {self.criterion} needs --val-cube (two date draws of its pixels)")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision {self.precision!r} must be auto, fp32 or bf16")

    def selection(self) -> str:
        return self.criterion or ("rankme" if self.val_cube else "probe_acc")

    def model_config(self) -> TesseraConfig:
        return self.model or preset(self.preset)

    def projector_config(self) -> ProjectorConfig:
        return self.projector or PROJECTORS.get(self.preset, PROJECTORS["tiny"])

    @classmethod
    def from_toml(cls, path: str | os.PathLike, defaults: dict[str, Any] | None = None) -> TrainConfig:
        """``defaults`` overridden by the fields of a TOML file."""
        import tomllib

        path = Path(path)
        if not path.is_file():
            raise InputNotFoundError(f"no config file at {path}")
        try:
            fields = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc})") from exc
        return cls.from_dict({**(defaults or {}), **fields})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        if isinstance(d.get("model"), dict):
            d["model"] = TesseraConfig.from_dict(d["model"])
        if isinstance(d.get("projector"), dict):
            d["projector"] = ProjectorConfig(**d["projector"])
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown training settings {sorted(unknown)}")
        return cls(**d)


class Trainee(nn.Module):
    """Encoder + projector, with all three forwards of a step in one call (one DDP forward)."""

    def __init__(self, model: Tessera, projector: Projector) -> None:
        super().__init__()
        self.model = model
        self.projector = projector

    def forward(self, views: list[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
        return [self.projector(self.model(s2, s1)) for s2, s1 in views]


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _step_rng(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, 77])


def train(
    config: TrainConfig, shards: str | os.PathLike, out: str | os.PathLike, progress: Progress | None = None
) -> dict:
    """Pretrain (or resume) into ``out``; returns the last metrics. Under ``torchrun`` (env
    ``WORLD_SIZE`` > 1) joins the process group and trains data-parallel."""
    out = Path(out)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = _dist_info()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    data = ShardSet(shards)
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model = Tessera(config.model_config()).to(device)
    projector = Projector(config.model_config().embed_dim, config.projector_config()).to(device)
    trainee = Trainee(model, projector)
    net = nn.parallel.DistributedDataParallel(trainee) if world > 1 else trainee
    opt = torch.optim.AdamW(trainee.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")

    start = 0
    resume = latest_loadable(out)
    if resume is not None:
        start = load_training_state(resume, model, projector, opt)
        log.info("resuming from %s at step %d", resume, start)
        threads = recorded_threads(resume)
        if threads and threads != torch.get_num_threads():
            torch.set_num_threads(threads)
            log.info("PyTorch %d threads, as the run was started with: another count changes the weights", threads)
    elif rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2, default=str))

    if resume is None and config.init:
        _initialise(model, config)
    val = None
    if config.val_cube and rank == 0:
        from tessera.train.probe import load_unlabelled

        holdout = data.manifest["config"].get("holdout", 0)  # score on the pixels the shards held back
        val = load_unlabelled(config.val_cube, seed=config.seed, holdout=holdout)
    elif config.val_scene and rank == 0:
        from tessera.train.probe import load_validation

        val = load_validation(config.val_scene, seed=config.seed)
    criterion = config.selection()
    best = _best_score(out, criterion)
    if val is not None and resume is None:  # the starting weights compete too
        best, _ = _evaluate(model, val, config, out, start, best=None)
    meta = {"train_config": json.dumps(asdict(config), default=str)}
    t0, seen, last, plotted = time.time(), 0, {}, -math.inf
    step = start
    while step < config.steps:
        lr = learning_rate(step, config.steps, config.lr, config.warmup_steps, config.plateau_steps, config.final_lr)
        for group in opt.param_groups:
            group["lr"] = lr
        b2, b1, _, _ = data.batch(step, config.batch_size, rank, world)
        s2 = torch.from_numpy(np.ascontiguousarray(b2)).to(device)
        s1 = torch.from_numpy(np.ascontiguousarray(b1)).to(device)
        rng = _step_rng(config.seed, step)
        alpha = float(rng.beta(1.0, 1.0))
        perm = torch.from_numpy(rng.permutation(len(s2))).to(device)
        mixed = (alpha * s2[:, 0] + (1 - alpha) * s2[perm, 1], alpha * s1[:, 0] + (1 - alpha) * s1[perm, 1])
        torch.manual_seed(config.seed * 1_000_003 + step)  # dropout: a function of the step
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            z1, z2, zm = net([(s2[:, 0], s1[:, 0]), (s2[:, 1], s1[:, 1]), mixed])
        z1, z2, zm = (gather_batch(z.float()) for z in (z1, z2, zm))
        global_perm = torch.cat([r * len(perm) + perm for r in range(world)])
        loss_bt = barlow_twins_loss(z1, z2, config.lambd)
        loss_mix = mix_loss(z1, z2, zm, alpha, global_perm, config.lambd, config.lambda_mix)
        loss = loss_bt + loss_mix
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(trainee.parameters(), config.grad_clip)
        opt.step()
        step += 1
        seen += len(s2) * world
        if progress and rank == 0:
            progress("training steps", step, config.steps)

        timed_out = config.time_limit_s is not None and time.time() - t0 >= config.time_limit_s
        if rank == 0 and (step % config.log_every == 0 or step == config.steps or timed_out):
            last = {
                "step": step,
                "loss": loss.item(),
                "loss_bt": loss_bt.item(),
                "loss_mix": loss_mix.item(),
                "lr": lr,
                "grad_norm": grad_norm.item(),
                "samples_per_s": seen / max(time.time() - t0, 1e-9),
                "time": time.time(),
            }
            _append(out, last)
        if rank == 0 and val is not None and (step % config.eval_every == 0 or step == config.steps or timed_out):
            best, scores = _evaluate(model, val, config, out, step, best)
            last.update(scores)
        if rank == 0 and (step % config.checkpoint_every == 0 or step == config.steps or timed_out):
            save_training_state(out, step, model, projector, opt, meta)
            save_model(model, out / "model.safetensors", step=step)
            if step == config.steps or timed_out or time.monotonic() - plotted >= PLOT_EVERY_S:
                _plot(out)
                plotted = time.monotonic()
        if timed_out:
            log.info("time limit reached at step %d", step)
            break
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return last


def _append(out: Path, record: dict) -> None:
    with open(out / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")


def _evaluate(
    model: Tessera, val, config: TrainConfig, out: Path, step: int, best: float | None
) -> tuple[float, dict[str, float]]:
    """Score ``model``, log it, and make it best.safetensors if the criterion says so (``best``
    None: nothing to beat yet); returns the best score so far and this step's scores."""
    from tessera.train.probe import evaluate

    criterion = config.selection()
    scores = evaluate(model, val, config.probe_fraction)
    _append(out, {"step": step, **scores})
    if config.keep_evaluated:
        (out / "evaluated").mkdir(exist_ok=True)
        save_model(model, out / "evaluated" / f"step_{step:08d}.safetensors", step=step)
    score = float(step) if criterion == "last" else scores[criterion]
    if best is None or (score > best if CRITERIA[criterion] else score < best):
        save_model(model, out / "best.safetensors", step=step, extra={criterion: f"{score:.6f}"})
        return score, scores
    return best, scores


def _best_score(out: Path, criterion: str) -> float | None:
    """The best score logged so far (a resumed run continues from it); ``None`` if none."""
    if criterion == "last":
        steps = [float(r["step"]) for r in read_metrics(out) if "rankme" in r]
        return max(steps, default=None)
    scores = [r[criterion] for r in read_metrics(out) if criterion in r]
    if not scores:
        return None
    return max(scores) if CRITERIA[criterion] else min(scores)


def trainable(model: torch.nn.Module, path: str | os.PathLike) -> Tessera:
    """``model`` if this loop can train it (the v1 architecture), else a one-line error."""
    if not isinstance(model, Tessera):
        raise ConfigError(
            f"{path} is a v2 student; `tessera train` and `adapt` continue v1-architecture "
            "models only (ours or the published v1)"
        )
    return model


def _initialise(model: Tessera, config: TrainConfig) -> None:
    """Load ``config.init``'s weights; its shapes must be the run's (the CLI takes them from it)."""
    from tessera.model import load

    assert config.init is not None, "only called for a run that continues from weights"
    init = trainable(load(config.init), config.init)
    if init.cfg != model.cfg:
        raise ConfigError(
            f"{config.init} has shapes {init.cfg}, the run {model.cfg}; leave --preset out "
            "with --init (the run takes the checkpoint's shapes)"
        )
    model.load_state_dict(init.state_dict())
    log.info("initialised from %s", config.init)


def read_metrics(out: str | os.PathLike) -> list[dict]:
    path = Path(out) / METRICS
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash mid-write
            continue
    return records


def _plot(out: Path) -> None:
    """Loss terms, LR and (if any) RankMe / probe accuracy against step, as ``training.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = read_metrics(out)
    train_rec = [r for r in rec if "loss" in r]
    eval_rec = [r for r in rec if "rankme" in r]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    steps = [r["step"] for r in train_rec]
    for key in ("loss", "loss_bt", "loss_mix"):
        axes[0].plot(steps, [r[key] for r in train_rec], label=key)
    axes[0].set_yscale("log")
    axes[0].legend()
    axes[0].set_xlabel("step")
    axes[1].plot(steps, [r["lr"] for r in train_rec])
    axes[1].set_title("learning rate")
    if eval_rec:
        ax = axes[2]
        probe = [r for r in eval_rec if "probe_acc" in r]
        if probe:
            ax.plot([r["step"] for r in probe], [r["probe_acc"] for r in probe], "o-", label="probe acc")
            ax.legend(loc="lower right")
        ax2 = ax.twinx()
        ax2.plot([r["step"] for r in eval_rec], [r["rankme"] for r in eval_rec], "s--", color="C1", label="RankMe")
        ax.set_title("validation")
    fig.tight_layout()
    with atomic_file(out / "training.png") as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


__all__ = ["TrainConfig", "Trainee", "read_metrics", "train"]
