"""The fast inference path: batches of pixel tokens in, float32 embeddings out.

Eval mode, no autograd (``inference_mode``), fused attention (``scaled_dot_product_attention``),
an FFN run in cache-sized token chunks, and bf16 autocast as the reduced-precision option on CPU
(AVX-512 BF16 / AMX) and GPU. LayerNorm, softmax and the output stay float32 under autocast,
which keeps embeddings within ~0.999 cosine of fp32.

PyTorch's dynamic int8 quantisation was the other candidate for CPUs; it is deprecated upstream
(torch ≥ 2.10 warns that quantised tensors will be removed), so bf16 is the one supported path.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from tessera.errors import ConfigError
from tessera.model.binning import BinnedTokens
from tessera.model.student import PixelStudent
from tessera.model.tessera_model import Tessera

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class InferenceConfig:
    precision: str = "fp32"  # "bf16": ~3× faster on CPUs with AVX-512 BF16, and on GPUs
    batch_size: int = 512  # pixels per forward; 512 × 40 tokens keeps v1 matmuls large
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {PRECISIONS}")
        if self.batch_size <= 0:
            raise ConfigError(f"batch_size must be positive, got {self.batch_size}")


class Embedder:
    """Runs a model over any number of pixels in batches.

    >>> emb = Embedder(model, InferenceConfig(precision="bf16"))   # doctest: +SKIP
    >>> emb(tokens.s2, tokens.s1).shape                             # doctest: +SKIP
    (N, 128)
    """

    def __init__(self, model: Tessera | PixelStudent, config: InferenceConfig = InferenceConfig()) -> None:
        self.config = config
        self.device = torch.device(config.device)
        if config.precision == "bf16" and self.device.type == "cpu" and isinstance(model, PixelStudent):
            # bf16 matmuls on cached weight copies; LayerNorms and the residual stream stay
            # float32, which the students' cosine-0.9999 parity with fp32 needs.
            model = copy.deepcopy(model).set_gemm_dtype(torch.bfloat16)
        elif config.precision == "bf16" and self.device.type == "cpu":
            # A bf16 copy of the weights, not autocast: autocast re-casts every activation at
            # every linear, extra passes over memory that cost ~15 % on a 2-core CPU. The GRU
            # state stays float32 (see GRUCell.scan), the output is returned as float32.
            model = copy.deepcopy(model).to(torch.bfloat16)
        self.model = model.to(self.device).eval()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.precision == "bf16" and self.device.type != "cpu":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward_tensors(self, s2: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """One batch already on the device → (B, embed_dim) float32."""
        # Tokens stay float32 whatever the weights: bf16 cannot hold DOY > 256 exactly.
        with torch.inference_mode(), self._autocast():
            return self.model(s2.float(), s1.float()).float()

    def binned(self, tokens: BinnedTokens, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """A v2 student's grouped inputs → (ok pixels, embed_dim) float32, in pixel order."""
        out = np.empty((tokens.pixels, self.model.cfg.embed_dim), np.float32)
        for g in tokens.groups:
            out[g.pixels] = self(g.s2, g.s1, on_batch)
        return out

    def __call__(
        self, s2_tokens: np.ndarray, s1_tokens: np.ndarray, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """(N, T, 11), (N, T′, 3) float32 → (N, embed_dim) float32; ``on_batch(n)`` after each
        batch of ``n`` pixels (progress for long blocks)."""
        n = len(s2_tokens)
        out = np.empty((n, self.model.cfg.embed_dim), np.float32)
        step = self.config.batch_size
        pin = self.device.type == "cuda"
        for i in range(0, n, step):
            s2 = torch.from_numpy(np.ascontiguousarray(s2_tokens[i : i + step], np.float32))
            s1 = torch.from_numpy(np.ascontiguousarray(s1_tokens[i : i + step], np.float32))
            if pin:
                s2, s1 = s2.pin_memory(), s1.pin_memory()
            res = self.forward_tensors(s2.to(self.device, non_blocking=True), s1.to(self.device, non_blocking=True))
            out[i : i + step] = res.cpu().numpy()
            if on_batch is not None:
                on_batch(len(s2))
        return out
