"""The TESSERA v1 model: per-sensor transformer encoders, GRU-attention pooling, linear fusion.

>>> from tessera.model import Tessera, TesseraConfig, preset
>>> model = Tessera(preset("tiny"))                         # doctest: +SKIP
>>> model(s2_tokens, s1_tokens).shape                       # (B, 11), (B, 3) tokens → (B, 128)
>>> model = tessera.model.load("weights.pt")                # published .pt or our .safetensors

Needs PyTorch (the ``model`` extra); ``store`` and ``access`` do not.
"""

from tessera.model.checkpoint import CheckpointError, file_sha256, infer_config, load, save
from tessera.model.config import PRESETS, TesseraConfig, flops_per_pixel, preset, preset_name
from tessera.model.inference import Embedder, InferenceConfig
from tessera.model.sampling import N_TIMESTEPS, PixelTokens, pool_s1, sample_indices, sample_tokens
from tessera.model.tessera_model import Tessera, count_parameters

__all__ = [
    "N_TIMESTEPS",
    "PRESETS",
    "CheckpointError",
    "Embedder",
    "InferenceConfig",
    "PixelTokens",
    "Tessera",
    "TesseraConfig",
    "count_parameters",
    "file_sha256",
    "flops_per_pixel",
    "infer_config",
    "load",
    "pool_s1",
    "preset",
    "preset_name",
    "sample_indices",
    "sample_tokens",
    "save",
]
