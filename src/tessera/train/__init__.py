"""Self-supervised pretraining: globally shuffled two-view shards, Barlow Twins + mix loss, DDP.

tessera shards a.zarr b.zarr c.zarr shards/ --epochs 4
tessera train --preset tiny --shards shards/ --out run/ --val-scene val/
torchrun --nproc-per-node 2 -m tessera train ...      # data-parallel
"""

from tessera.train.data import ShardSet
from tessera.train.loop import TrainConfig, read_metrics, train
from tessera.train.losses import barlow_twins_loss, cross_correlation, mix_loss, rankme
from tessera.train.projector import PROJECTORS, Projector, ProjectorConfig
from tessera.train.schedule import learning_rate
from tessera.train.shards import ShardConfig, write_shards

__all__ = [
    "PROJECTORS",
    "Projector",
    "ProjectorConfig",
    "ShardConfig",
    "ShardSet",
    "TrainConfig",
    "barlow_twins_loss",
    "cross_correlation",
    "learning_rate",
    "mix_loss",
    "rankme",
    "read_metrics",
    "train",
    "write_shards",
]
