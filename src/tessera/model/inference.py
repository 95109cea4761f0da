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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tessera.errors import ConfigError
from tessera.model.binning import BinnedTokens
from tessera.model.student import PixelStudent
from tessera.model.tessera_model import Tessera

PRECISIONS = ("fp32", "bf16")
#: Device memory a batch may take (the rest: weights, the allocator's slack, a second batch in flight).
MEMORY_SHARE = 0.4
BATCH_STEP = 256


@dataclass(frozen=True)
class InferenceConfig:
    precision: str = "fp32"  # "bf16": ~3× faster on CPUs with AVX-512 BF16, and on GPUs
    batch_size: int = 512  # pixels per forward; 512 × 40 tokens keeps v1 matmuls large; 0: from free GPU memory
    device: str = "cpu"
    overlap: bool | None = None  # stage batch i+1's copy while batch i runs; None: on CUDA only
    compile: bool = False  # torch.compile the forward pass (GPUs: about 2× for v1, after a warm-up)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {PRECISIONS}")
        if self.batch_size < 0:
            raise ConfigError(f"batch_size must be positive (or 0: sized from free GPU memory), got {self.batch_size}")
        try:
            torch.device(self.device)
        except RuntimeError as exc:
            raise ConfigError(
                f"--device {self.device!r} is not a device PyTorch knows: give cpu, cuda or cuda:N"
            ) from exc


class Embedder:
    """Runs a model over any number of pixels in batches.

    >>> emb = Embedder(model, InferenceConfig(precision="bf16"))   # doctest: +SKIP
    >>> emb(tokens.s2, tokens.s1).shape                             # doctest: +SKIP
    (N, 128)
    """

    def __init__(self, model: Tessera | PixelStudent, config: InferenceConfig = InferenceConfig()) -> None:
        self.config = config
        try:
            self.device = torch.device(config.device)
        except RuntimeError as exc:
            raise ConfigError(f"--device {config.device!r} is not a device: give cpu, cuda or cuda:N") from exc
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                f"--device {config.device}: this PyTorch has no usable CUDA GPU (a CPU build, or no driver); "
                "install a CUDA build of torch, or use --device cpu"
            )
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
        self.overlap = self.device.type == "cuda" if config.overlap is None else config.overlap
        self.batch_size = config.batch_size or auto_batch(self.model, self.device, config.precision)
        self._forward = torch.compile(self.model, dynamic=True) if config.compile else self.model
        self.busy_s = 0.0  # seconds the device spent in forward passes (CUDA events; CPU: wall)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.precision == "bf16" and self.device.type != "cpu":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward_tensors(self, s2: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """One batch already on the device → (B, embed_dim) float32."""
        # Tokens stay float32 whatever the weights: bf16 cannot hold DOY > 256 exactly.
        with torch.inference_mode(), self._autocast():
            return self._forward(s2.float(), s1.float()).float()

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
        if self.overlap:
            return self._overlapped(s2_tokens, s1_tokens, on_batch)
        n = len(s2_tokens)
        out = np.empty((n, self.model.cfg.embed_dim), np.float32)
        step = self.batch_size
        for i in range(0, n, step):
            s2 = torch.from_numpy(np.ascontiguousarray(s2_tokens[i : i + step], np.float32))
            s1 = torch.from_numpy(np.ascontiguousarray(s1_tokens[i : i + step], np.float32))
            t = time.perf_counter()
            res = self.forward_tensors(s2.to(self.device), s1.to(self.device))
            out[i : i + step] = res.cpu().numpy()
            self.busy_s += time.perf_counter() - t
            if on_batch is not None:
                on_batch(len(s2))
        return out

    def _overlapped(
        self, s2_tokens: np.ndarray, s1_tokens: np.ndarray, on_batch: Callable[[int], None] | None
    ) -> np.ndarray:
        """Two batches in flight: batch i+1 is copied host → device (pinned memory, a copy
        stream) while batch i runs, and batch i's result comes back (pinned, asynchronously)
        while batch i+1 runs; the host waits only for a result it is about to store. On a CPU
        the same schedule runs with plain copies (the tests check it equals the serial loop)."""
        n = len(s2_tokens)
        out = np.empty((n, self.model.cfg.embed_dim), np.float32)
        step, cuda = self.batch_size, self.device.type == "cuda"
        copies = torch.cuda.Stream(self.device) if cuda else None

        def stage(i: int) -> tuple:
            s2 = torch.from_numpy(np.ascontiguousarray(s2_tokens[i : i + step], np.float32))
            s1 = torch.from_numpy(np.ascontiguousarray(s1_tokens[i : i + step], np.float32))
            if not cuda:
                return s2, s1, None
            s2, s1 = s2.pin_memory(), s1.pin_memory()
            with torch.cuda.stream(copies):
                d2, d1 = s2.to(self.device, non_blocking=True), s1.to(self.device, non_blocking=True)
                ready = torch.cuda.Event()
                ready.record(copies)
            return d2, d1, ready

        def land(i: int, host: torch.Tensor, done, began) -> None:
            if done is not None:
                done.synchronize()
                self.busy_s += began.elapsed_time(done) / 1000
            out[i : i + len(host)] = host.numpy()
            if on_batch is not None:
                on_batch(len(host))

        pending = None
        nxt = stage(0) if n else (None, None, None)
        for i in range(0, n, step):
            d2, d1, ready = nxt
            began = done = None
            if cuda:
                torch.cuda.current_stream(self.device).wait_event(ready)
                began = torch.cuda.Event(enable_timing=True)
                began.record()
            t = time.perf_counter()
            res = self.forward_tensors(d2, d1)
            if i + step < n:
                nxt = stage(i + step)  # the next copy overlaps this batch's compute
            if cuda:
                host = torch.empty(res.shape, dtype=res.dtype, pin_memory=True)
                host.copy_(res, non_blocking=True)
                done = torch.cuda.Event(enable_timing=True)
                done.record()
            else:
                host = res
                self.busy_s += time.perf_counter() - t
            if pending is not None:
                land(*pending)
            pending = (i, host, done, began)
        if pending is not None:
            land(*pending)
        return out


def auto_batch(model: torch.nn.Module, device: torch.device, precision: str) -> int:
    """Pixels per forward pass from the device's free memory: activations of one pixel (both
    encoders' tokens through the widest layer, with attention) against :data:`MEMORY_SHARE` of
    what is free, in steps of 256. CPUs: 512 (larger batches only cost cache)."""
    if device.type != "cuda":
        return 512
    cfg: Any = model.cfg
    d = getattr(cfg, "d_model", None) or 4 * cfg.latent_dim  # v1 encoders, or a student's tokens
    width = max(getattr(cfg, "d_ffn", None) or cfg.dim_feedforward, 4 * d)
    tokens = 2 * int(getattr(cfg, "max_seq_len", 40))  # both sensors; a student's longest bin
    per_pixel = tokens * (width + 8 * d) * (2 if precision == "bf16" else 4)
    free, _ = torch.cuda.mem_get_info(device)
    return int(max(BATCH_STEP, min(65536, MEMORY_SHARE * free / per_pixel // BATCH_STEP * BATCH_STEP)))
