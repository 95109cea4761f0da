"""Cubes → per-pixel int8 embeddings in the store, block by block, on Dask, resumable.

>>> from tessera.embed import EmbedConfig, embed_cube
>>> summary = embed_cube("scene/cube.zarr", "model.safetensors", "embeddings.zarr")  # doctest: +SKIP
>>> summary.pixels, summary.pixels_per_second                                       # doctest: +SKIP
"""

from tessera.embed.cluster import LocalShape, SchedulerError, local_shape
from tessera.embed.run import EmbedConfig, EmbedSummary, embed_cube, plan
from tessera.embed.worker import BlockResult, BlockTask, JobSpec, block_rng, embed_block

__all__ = [
    "BlockResult",
    "BlockTask",
    "EmbedConfig",
    "EmbedSummary",
    "JobSpec",
    "LocalShape",
    "SchedulerError",
    "block_rng",
    "embed_block",
    "embed_cube",
    "local_shape",
    "plan",
]
