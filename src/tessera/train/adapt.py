"""Adapting a pretrained model to a user's own region, without labels.

Real TESSERA is pretrained on the whole world, so a user's region lies inside its training
distribution; a model pretrained elsewhere does not. ``adapt`` continues self-supervised training
on shards drawn from the region's own cubes and keeps the checkpoint with the highest RankMe
(the effective rank of the embeddings of a fixed set of the region's pixels) — a label-free
criterion, so evaluation labels never steer it. The starting weights compete as step 0: by that
criterion an adapted model is never worse than the one it started from.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tessera.progress import Progress


def adaptation_projector(cfg):
    """A fresh projector for continued training: the checkpoint's preset's, but never the 16384 × 5
    of v1 pretraining (1.3 B parameters, not published with the weights): 1024 × 2 keeps a short
    adaptation run within a CPU's memory."""
    from tessera.model import preset_name
    from tessera.train.projector import PROJECTORS

    return PROJECTORS.get(preset_name(cfg) if preset_name(cfg) in ("tiny", "small") else "small")


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


@dataclass(frozen=True)
class AdaptResult:
    checkpoint: Path  # the best by RankMe (possibly the starting weights)
    rankme_start: float
    rankme_best: float
    best_step: int


def adapt(cubes: list[str | os.PathLike], init: str | os.PathLike, out: str | os.PathLike,
          config: AdaptConfig = AdaptConfig(), progress: Progress | None = None) -> AdaptResult:  # fmt: skip
    """Shards from ``cubes`` → training from ``init`` → ``out/adapted.safetensors`` (best RankMe)."""
    from tessera.model import load
    from tessera.train.loop import TrainConfig, read_metrics, train, trainable
    from tessera.train.shards import ShardConfig, write_shards

    out = Path(out)
    model = trainable(load(init), init)  # a readable checkpoint of a trainable family, before any work
    shards = out / "shards"
    if not (shards / "shards.json").exists():
        write_shards([Path(c) for c in cubes], shards,
                     ShardConfig(samples_per_epoch=config.samples_per_epoch, shard_size=config.samples_per_epoch // 2,
                                 epochs=config.epochs, seed=config.seed), progress=progress)  # fmt: skip
    tcfg = TrainConfig(model=model.cfg, projector=adaptation_projector(model.cfg), init=str(init), steps=config.steps, batch_size=config.batch_size,
                       lr=config.lr, warmup_steps=config.warmup_steps, eval_every=config.eval_every,
                       checkpoint_every=config.eval_every, val_cube=str(cubes[0]), seed=config.seed,
                       time_limit_s=config.minutes * 60 if config.minutes else None)  # fmt: skip
    train(tcfg, shards, out / "run", progress=progress)
    scores = [(r["rankme"], r["step"]) for r in read_metrics(out / "run") if "rankme" in r]
    best, step = max(scores, key=lambda s: (s[0], -s[1]))
    target = out / "adapted.safetensors"
    shutil.copyfile(out / "run" / "best.safetensors", target)
    return AdaptResult(target, scores[0][0], best, step)
