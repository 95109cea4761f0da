"""Fitted heads on disk without pickle: scikit-learn pipelines through skops (loaded only when
every type in the file is one our heads use), the UNet as safetensors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tessera.atomic import atomic_file
from tessera.errors import DatasetMismatchError, HeadFileError

# Types skops does not trust by default but our heads (make_head) are built from.
HEAD_TYPES = {
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.tree._tree.Tree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
}


ARRAY_PREFIX = "arrays."  # safetensors keys of the arrays saved beside a UNet's weights


def save_head(path: str | os.PathLike, model: Any, meta: dict, arrays: dict[str, Any] | None = None) -> Path:
    """Write ``model`` with ``meta`` (head name, task, legend, year, embedding size …) and numpy
    ``arrays`` (the area of applicability's training sample) atomically; ``load_head`` returns
    the arrays as ``meta["arrays"]``."""
    path = Path(path)
    arrays = arrays or {}
    if hasattr(model, "state_dict_for_file"):
        import numpy as np
        import torch

        tensors, info = model.state_dict_for_file()
        tensors |= {ARRAY_PREFIX + k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
        from safetensors.torch import save_file

        with atomic_file(path) as tmp:
            save_file(tensors, str(tmp), metadata={"tessera_head": _dumps({**meta, **info})})
        return path
    import skops.io as sio

    with atomic_file(path) as tmp:
        sio.dump({"model": model, "meta": meta, "arrays": arrays}, tmp)
    return path


def load_head(path: str | os.PathLike) -> tuple[Any, dict]:
    """(model, meta) of a file written by :func:`save_head`."""
    path = Path(path)
    if not path.is_file():
        raise HeadFileError(f"no saved head at {path}; write one with `tessera heads fit`")
    if path.suffix == ".safetensors":
        return _load_unet(path)
    import skops.io as sio

    try:
        foreign = set(sio.get_untrusted_types(file=path)) - HEAD_TYPES
        if foreign:
            raise HeadFileError(
                f"{path} holds types no tessera head uses ({', '.join(sorted(foreign))}); refusing to load it"
            )
        obj = sio.load(path, trusted=sorted(HEAD_TYPES))
    except HeadFileError:
        raise
    except Exception as exc:  # skops raises zipfile/json/type errors for damaged files
        raise HeadFileError(f"{path} is not a readable head file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict) or "model" not in obj or not isinstance(obj.get("meta"), dict):
        raise HeadFileError(f"{path} is a skops file but not a tessera head")
    if not callable(getattr(obj["model"], "predict", None)):
        raise HeadFileError(
            f"{path} holds a {type(obj['model']).__name__} where a fitted head should be; "
            "refit it with `tessera heads fit`"
        )
    arrays = obj.get("arrays") or {}
    return obj["model"], {**obj["meta"], "arrays": arrays} if arrays else obj["meta"]


def _load_unet(path: Path):
    import json

    from safetensors import SafetensorError, safe_open

    from tessera.heads.unet import UNetHead

    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("tessera_head", "null"))
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
    except (SafetensorError, OSError, ValueError) as exc:
        raise HeadFileError(f"{path} is not a readable head file ({exc})") from exc
    if not meta:
        raise HeadFileError(f"{path} is a safetensors file but not a tessera head")
    arrays = {k[len(ARRAY_PREFIX) :]: tensors.pop(k).numpy() for k in list(tensors) if k.startswith(ARRAY_PREFIX)}
    return UNetHead.from_file(tensors, meta), {**meta, "arrays": arrays} if arrays else meta


def _dumps(meta: dict) -> str:
    import json

    return json.dumps(meta, sort_keys=True)


def embedding_model(store: object) -> dict[str, str]:
    """The dataset a store's embeddings belong to: its ``geoemb:model`` (preset and checkpoint
    hash for ours) and, where the store says, its ``checkpoint_id`` (the published global store's
    ``tessera_v1_1_aws_encoder``); empty where the store does not say (geotessera tile folders)."""
    attrs = getattr(store, "attrs", None) or {}
    fields = (("model", attrs.get("geoemb:model")), ("checkpoint_id", attrs.get("checkpoint_id")))
    return {k: str(v) for k, v in fields if v}


def _named(dataset: dict[str, str]) -> str:
    return dataset.get("model", "?") + (
        f" (checkpoint {dataset['checkpoint_id']})" if "checkpoint_id" in dataset else ""
    )


def check_model(meta: dict, dataset: dict[str, str], allow_other: bool) -> None:
    """Refuse to apply a head to embeddings of another dataset than it was fitted on (another
    model, or another checkpoint of it): the numbers mean different things, and the map would be
    wrong without any error."""
    fitted = meta.get("dataset") or ({"model": meta["model"]} if meta.get("model") else {})
    clash = [k for k in ("model", "checkpoint_id") if k in fitted and k in dataset and fitted[k] != dataset[k]]
    if clash and not allow_other:
        raise DatasetMismatchError(
            f"this head was fitted on embeddings of {_named(fitted)}, but the store's are {_named(dataset)}; "
            "refit it on this store (or pass --allow-other-model)"
        )
