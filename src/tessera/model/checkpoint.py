"""Checkpoints: ours (safetensors with the config in its header) and the published ``.pt`` files —
v1 state dicts and the v2 students' ``{"model": state_dict, "args": {...}}`` payloads.

Never pickle: safetensors holds only tensors plus string metadata, and ``.pt`` files are read with
``torch.load(weights_only=True)``, which refuses arbitrary objects. A checkpoint describes itself
(family, config, preset, step, software version), so loading never guesses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open

from tessera import __version__
from tessera.errors import CheckpointError, ConfigError, InputNotFoundError
from tessera.model.canonical import write_safetensors
from tessera.model.config import PRESETS, TesseraConfig, preset, preset_name
from tessera.model.student import FAMILY as STUDENT
from tessera.model.student import PixelStudent, StudentConfig
from tessera.model.tessera_model import Tessera

ModelConfig = TesseraConfig | StudentConfig

log = logging.getLogger(__name__)
FORMAT = "tessera-checkpoint/1"
# Wrappers that prefix parameter names: DDP ("module.") and torch.compile ("_orig_mod.").
_PREFIXES = ("module.", "_orig_mod.")


def config_from_dict(d: dict) -> ModelConfig:
    """A model config from its ``to_dict()`` (run specs, store provenance): v1 or a v2 student."""
    return StudentConfig.from_dict(d) if d.get("family") == STUDENT else TesseraConfig.from_dict(d)


def build(cfg: ModelConfig) -> Tessera | PixelStudent:
    return PixelStudent(cfg) if isinstance(cfg, StudentConfig) else Tessera(cfg)


def save(
    model: Tessera | PixelStudent,
    path: str | os.PathLike,
    *,
    step: int | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """Write weights + config to ``path`` (.safetensors) atomically."""
    path = Path(path)
    meta = {
        "format": FORMAT,
        "config": json.dumps(model.cfg.to_dict()),
        **({"family": STUDENT} if isinstance(model, PixelStudent) else {}),
        "preset": preset_name(model.cfg) or "custom",
        "software_version": __version__,
        **({"step": str(step)} if step is not None else {}),
        **(extra or {}),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return write_safetensors(tensors, path, meta)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of one of our safetensors checkpoints."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc})") from exc


def file_sha256(path: str | os.PathLike) -> str:
    """Content hash, recorded as provenance wherever embeddings are written."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _published_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """The state dict of a published ``.pt`` file and the payload's ``args`` (v2), if any."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only raises UnpicklingError for anything but tensors
        # PyTorch's own message suggests weights_only=False, i.e. running the file's code: never.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = "it holds objects other than tensors" if "weights_only" in str(exc) else first[:120]
        raise CheckpointError(
            f"{path} is not a weights-only PyTorch file ({reason}); tessera never runs "
            "code from a checkpoint: re-save it as a plain tensor state dict"
        ) from exc
    args = obj.get("args") if isinstance(obj, dict) and isinstance(obj.get("args"), dict) else None
    if isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("model_state_dict", "state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            f"{path} holds no tensor state dict (looked at the top level and 'model_state_dict', 'state_dict', 'model')"
        )
    out = {}
    for k, v in obj.items():
        for prefix in _PREFIXES:
            k = k.removeprefix(prefix)
        out[k] = v
    return out, args


def _family(state: dict[str, torch.Tensor], path: Path) -> str:
    """Which published model a state dict is, from its parameter names."""
    if any(k.startswith(("fusion_transformer.", "fusion_modality_embed")) for k in state):
        raise CheckpointError(
            f"{path} is the TESSERA v2 teacher (2 B parameters, 1024-d output), a "
            "distillation source, not a deployment model: use a v2 student "
            "(student_nano/small/medium/large.pt) or a v1 checkpoint"
        )
    if "s2_backbone.attn_pool.query.weight" in state and "dim_reducer.4.weight" in state:
        return STUDENT
    return "v1"


# torchgeo's TESSERA weights (``Tessera_Weights.TESSERA``, ``model-*.pth``): the first TESSERA code's
# model, whose pooling is PyTorch's nn.GRU, with 8 layers of width 512 per encoder.
TORCH_GRU_KEY = "s2_backbone.attn_pool.temporal_context.weight_ih_l0"
TORCHGEO_SHAPES = dict(d_model=512, n_layers=8, d_ffn=4096, embed_dim=128, s2_bands=10, s1_bands=2)


def infer_config(state: dict[str, torch.Tensor], n_heads: int | None = None) -> TesseraConfig:
    """Recover the model shapes from a state dict's tensor shapes.

    Head count leaves no trace in shapes; it is taken from the preset with the same shapes (or
    torchgeo's 8 for its file's shapes), or must be given. nn.GRU parameter names mean the
    first TESSERA code's pooling (``pooling="gru"``).
    """
    try:
        emb2 = state["s2_backbone.embedding.0.weight"]
        emb1 = state["s1_backbone.embedding.0.weight"]
        ffn = state["s2_backbone.transformer_encoder.layers.0.linear1.weight"]
        fuse = state["dim_reducer.0.weight"]
    except KeyError as exc:
        raise CheckpointError(f"state dict lacks {exc.args[0]}; it is not a TESSERA model") from exc
    pat = re.compile(r"s2_backbone\.transformer_encoder\.layers\.(\d+)\.")
    layers = {int(m.group(1)) for k in state if (m := pat.match(k))}
    shapes = dict(
        d_model=emb2.shape[0],
        n_layers=len(layers),
        d_ffn=ffn.shape[0],
        embed_dim=fuse.shape[0],
        s2_bands=emb2.shape[1],
        s1_bands=emb1.shape[1],
    )
    pooling = "gru" if TORCH_GRU_KEY in state else "qat"
    if n_heads is None and pooling == "gru" and shapes == TORCHGEO_SHAPES:
        n_heads = 8  # torchgeo's Tessera(): nhead=8 in both encoders (heads leave no trace in shapes)
    if n_heads is None:
        for p in PRESETS.values():
            if all(getattr(p, k) == v for k, v in shapes.items()):
                n_heads = p.n_heads
                break
        else:
            raise ConfigError(
                f"shapes {shapes} match no preset and the head count cannot be read "
                "from weights; pass config=TesseraConfig(...) or n_heads="
            )
    return TesseraConfig(n_heads=n_heads, pooling=pooling, **shapes)


def check_state_dict(model: Tessera | PixelStudent, state: dict[str, torch.Tensor], source: str) -> None:
    """Name every missing, unexpected or reshaped tensor instead of a generic load failure."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    reshaped = [
        f"{k} {tuple(state[k].shape)} (model needs {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {', '.join(missing[:5])}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {', '.join(unexpected[:5])}")
    if reshaped:
        problems.append(f"wrong shape: {', '.join(reshaped[:5])}")
    if problems:
        raise CheckpointError(f"{source} does not fit the model — " + "; ".join(problems))


def _training_model_config(meta: dict, path: Path) -> TesseraConfig:
    """The model config recorded in a training checkpoint's ``train_config`` header."""
    try:
        tc = json.loads(meta["train_config"])
        return TesseraConfig.from_dict(tc["model"]) if tc.get("model") else preset(tc["preset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{path} is a training checkpoint whose train_config header is unreadable ({exc})"
        ) from exc


def load(
    path: str | os.PathLike, config: ModelConfig | None = None, n_heads: int | None = None
) -> Tessera | PixelStudent:
    """Load our ``.safetensors`` checkpoints or a published ``.pt`` (v1 state dict, v2 student).

    The config comes from the checkpoint header (ours), the payload's ``args`` (v2 students),
    ``config``, or is inferred from tensor shapes (v1). The model is returned in eval mode, on
    the CPU.
    """
    from tessera.pretrained import SHIPPED, locate

    path = locate(path)
    if not path.is_file():
        raise InputNotFoundError(f"no checkpoint at {path} (or name a shipped one: {', '.join(SHIPPED)})")
    if path.suffix == ".safetensors":
        meta = read_metadata(path)
        training = "config" not in meta and "train_config" in meta  # a `tessera train` checkpoint
        if "config" not in meta and not training:
            raise CheckpointError(
                f"{path} has no tessera config in its header; it was written neither by "
                "tessera.model.save nor by `tessera train`"
            )
        stored: ModelConfig
        if training:
            stored = _training_model_config(meta, path)
        else:
            try:
                stored = config_from_dict(json.loads(meta["config"]))  # a student's config names its family
            except (ValueError, TypeError) as exc:
                raise CheckpointError(f"{path} has an unreadable config in its header ({exc})") from exc
        if config is not None and {**config.to_dict(), "dropout": 0} != {**stored.to_dict(), "dropout": 0}:
            raise ConfigError(f"{path} holds a {stored} model, not the requested {config}")
        named = meta.get("preset", "custom")
        if named != "custom" and (named in PRESETS or named.startswith("student-")) and preset_name(stored) != named:
            raise CheckpointError(
                f"{path} says preset {named!r} but its config is {stored}; the file was edited or corrupted"
            )
        state = load_file(str(path))
        if training:  # model weights only: the projector and optimiser state stay behind
            state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
            meta = {**meta, "preset": preset_name(stored) or "custom"}
        cfg, source = config or stored, str(path)
    else:
        state, args = _published_state_dict(path)
        if _family(state, path) == STUDENT:
            student = StudentConfig.from_args(args or {})
            if config is not None and config != student:
                raise ConfigError(f"{path} holds a {student} student, not the requested {config}")
            cfg = student
            source = f"{path} (a v2 student whose args say {student.to_args()})"
        else:
            cfg = config or infer_config(state, n_heads)
            source = str(path)
    bad = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:  # one NaN weight turns every embedding into no data
        raise CheckpointError(f"{path}: tensor {bad} holds NaN or infinite values; the file is damaged or diverged")
    model = build(cfg)
    check_state_dict(model, state, source)
    model.load_state_dict(state, strict=True)
    log.info("loaded %s (%s)", path, preset_name(cfg) or "custom shapes")
    return model.eval()
