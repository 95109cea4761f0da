"""Safetensors files whose bytes depend only on their content.

The safetensors writer keeps string metadata in a hash map whose order changes from process to
process, so the same weights saved twice (a resumed run and an uninterrupted one) hash
differently, and stores and heads, which know a model by its file's SHA-256, take them for two
models. The header is rewritten here with the metadata's keys in sorted order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save

from tessera.atomic import atomic_file


def canonical_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors encoding of ``tensors`` + ``metadata``, its header in a fixed order."""
    data = save(tensors, metadata=metadata)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    # Tensors first by their offsets (where they lie in the file), then the metadata: the order
    # the reader does not care about, fixed here so the bytes are.
    ordered = {"__metadata__": header.pop("__metadata__")}
    ordered.update(sorted(header.items(), key=lambda kv: (*kv[1]["data_offsets"], kv[0])))
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the writer aligns the data to 8 bytes
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


def write_safetensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, str]) -> Path:
    """Write ``tensors`` with ``metadata`` to ``path`` atomically, the same bytes for the same content."""
    path = Path(path)
    data = canonical_bytes(tensors, metadata)
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return path
