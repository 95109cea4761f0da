"""Adapting a pretrained model to a user's own region, without labels.

Real TESSERA is pretrained on the whole world, so a user's region lies inside its training
distribution; a model pretrained elsewhere does not. ``adapt`` continues self-supervised training
on shards drawn from the region's own cubes and keeps the best checkpoint by a label-free
criterion measured on pixels the shards held back (one in 16), so evaluation labels never steer
it. The starting weights are scored too and compete as step 0. Criteria (``loop.CRITERIA``):
``rankme`` (the default: on the ``dev`` scene family it picked the step with the best held-out
field accuracy on every scene; see benchmarks/RESULTS.md), ``view_loss`` (the Barlow Twins loss
between the embeddings of two independent date draws of each pixel, no projector),
``view_corr`` (their mean per-dimension correlation) and ``last``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tessera.errors import ConfigError
from tessera.progress import Progress

if TYPE_CHECKING:
    from tessera.model import TesseraConfig
    from tessera.train.projector import ProjectorConfig


def adaptation_projector(cfg: TesseraConfig) -> ProjectorConfig:
    """A fresh projector for continued training: the checkpoint's preset's, but never the 16384 × 5
    of v1 pretraining (1.3 B parameters, not published with the weights): 1024 × 2 keeps a short
    adaptation run within a CPU's memory."""
    from tessera.model import preset_name
    from tessera.train.projector import PROJECTORS

    name = preset_name(cfg)
    return PROJECTORS[name if name in ("tiny", "small") else "small"]


def continue_from(init: str | os.PathLike) -> dict[str, Any]:
    """The ``TrainConfig`` fields that continue training from ``init`` (a path or a shipped name):
    its weights, its shapes, and a projector sized for continued training."""
    from tessera.model import load
    from tessera.pretrained import locate
    from tessera.train.loop import trainable

    path = locate(init)
    cfg = trainable(load(path), path).cfg
    return {"init": str(path), "model": cfg, "projector": adaptation_projector(cfg)}


@dataclass(frozen=True)
class AdaptConfig:
    steps: int = 300  # a short run: the encoder is already trained
    batch_size: int = 256
    lr: float = 2e-4  # a fifth of pretraining's: move the weights, do not erase them
    warmup_steps: int = 30
    eval_every: int = 50
    samples_per_epoch: int = 30_000
    epochs: int = 2
    minutes: float | None = None  # stop early (checkpointed) after this long
    seed: int = 0
    criterion: str = "rankme"  # chosen on the dev family (benchmarks/RESULTS.md): it agreed with held-out labels
    holdout: int = 16  # one pixel in this many is held back from training, for the criterion
    keep_evaluated: bool = False  # keep every evaluated step's encoder (to compare criteria afterwards)

    def __post_init__(self) -> None:
        from tessera.train.loop import CRITERIA, check_schedule

        check_schedule(self.steps, self.lr, self.warmup_steps, self.minutes)

        label_free = [c for c in CRITERIA if c != "probe_acc"]  # adaptation never sees labels
        if self.criterion not in label_free:
            raise ConfigError(f"criterion {self.criterion!r} must be one of {', '.join(label_free)}")


@dataclass(frozen=True)
class AdaptResult:
    checkpoint: Path  # the best by the criterion (possibly the starting weights)
    criterion: str
    score_start: float
    score_best: float
    best_step: int


def adapt(
    cubes: list[str | os.PathLike],
    init: str | os.PathLike,
    out: str | os.PathLike,
    config: AdaptConfig = AdaptConfig(),
    progress: Progress | None = None,
) -> AdaptResult:
    """Shards from ``cubes`` → training from ``init`` → ``out/adapted.safetensors`` (the best
    checkpoint by ``config.criterion``)."""
    from tessera.model import load
    from tessera.pretrained import locate
    from tessera.train.loop import TrainConfig, read_metrics, train, trainable
    from tessera.train.shards import ShardConfig, write_shards

    out, init = Path(out), locate(init)  # a path, or the name of a shipped checkpoint
    model = trainable(load(init), init)  # a readable checkpoint of a trainable family, before any work
    shards = out / "shards"
    if not (shards / "shards.json").exists():
        write_shards(
            [Path(c) for c in cubes],
            shards,
            ShardConfig(
                samples_per_epoch=config.samples_per_epoch,
                shard_size=config.samples_per_epoch // 2,
                epochs=config.epochs,
                seed=config.seed,
                holdout=config.holdout,
            ),
            progress=progress,
        )
    tcfg = TrainConfig(
        model=model.cfg,
        projector=adaptation_projector(model.cfg),
        init=str(init),
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        warmup_steps=config.warmup_steps,
        eval_every=config.eval_every,
        checkpoint_every=config.eval_every,
        val_cube=str(cubes[0]),
        seed=config.seed,
        criterion=config.criterion,
        keep_evaluated=config.keep_evaluated,
        time_limit_s=config.minutes * 60 if config.minutes else None,
    )
    train(tcfg, shards, out / "run", progress=progress)
    from tessera.model.checkpoint import read_metadata

    target = out / "adapted.safetensors"
    best = out / "run" / "best.safetensors"
    meta = read_metadata(best)
    start = next(r for r in read_metrics(out / "run") if "rankme" in r)
    crit = config.criterion
    shutil.copyfile(best, target)
    return AdaptResult(
        target, crit, float(start["step"] if crit == "last" else start[crit]), float(meta[crit]), int(meta["step"])
    )
