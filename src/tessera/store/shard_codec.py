"""Decoding Zarr v3 arrays straight from their bytes: sharded arrays chunk by chunk, and small
plain arrays whole. NumPy + numcodecs; no I/O (bytes come from a ``sources.ByteSource``).

Zarr's generic pipeline spends ~0.3 ms of Python per inner chunk and, for a shard whose index
fails its checksum, has no way to say which file is damaged. Reading the index ourselves lets
every path (points, regions, verify, remote range reads) check the index's crc32c, fetch only
the inner chunks it needs, check each chunk's crc32c where the array has one, and name the shard
key in every error. Layouts we do not decode are refused with the codec's name, never guessed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tessera.errors import StoreDamageError, StoreError

EMPTY = np.uint64(2**64 - 1)  # (offset, nbytes) of an absent inner chunk
_SPECIAL_FILLS = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}
_DTYPES = {
    "int8": "i1",
    "uint8": "u1",
    "int16": "i2",
    "uint16": "u2",
    "int32": "i4",
    "uint32": "u4",
    "int64": "i8",
    "uint64": "u8",
    "float32": "f4",
    "float64": "f8",
}


def crc32c(data: bytes | memoryview) -> int:
    import google_crc32c

    return google_crc32c.value(bytes(data))


def _codec_pipeline(codecs: list[dict], where: str) -> tuple[str, Any, list[tuple[str, dict]]]:
    """(endianness, array→bytes codec or None for plain ``bytes``, bytes→bytes codecs in encode
    order) of a chunk's pipeline."""
    first = codecs[0].get("name") if codecs else None
    serializer = None
    if first == "bytes":
        endian = (codecs[0].get("configuration") or {}).get("endian", "little")
    elif isinstance(first, str) and first.startswith("numcodecs."):
        # An array→bytes codec of numcodecs (PCodec for the published store's scales): decoded by
        # numcodecs itself, never by hand.
        serializer = _numcodec(first.removeprefix("numcodecs."), codecs[0].get("configuration") or {}, where)
        endian = "little"
    else:
        names = [c.get("name") for c in codecs]
        raise StoreError(
            f"{where} uses codecs {names}; tessera reads arrays serialised by 'bytes' or a numcodecs codec"
        )
    rest = [(c["name"], c.get("configuration") or {}) for c in codecs[1:]]
    for name, _ in rest:
        if name not in ("blosc", "zstd", "gzip", "crc32c"):
            raise StoreError(f"{where} uses the codec {name!r}, which tessera's reader does not decode")
    return ("<" if endian == "little" else ">"), serializer, rest


# The module each numcodecs serialiser needs beyond numcodecs, and what installs it.
_CODEC_PACKAGES = {"pcodec": ("pcodec", "'tessera[pcodec]' (the pcodec package)"), "zfpy": ("zfpy", "zfpy")}


def _numcodec(codec_id: str, config: dict, where: str) -> Any:
    import importlib.util

    import numcodecs

    module, install = _CODEC_PACKAGES.get(codec_id, (None, None))
    if module is not None and importlib.util.find_spec(module) is None:
        raise StoreError(f"{where} is encoded with {codec_id}; reading it needs pip install {install}")
    try:
        return numcodecs.get_codec({"id": codec_id, **config})
    except (ImportError, ValueError, TypeError, KeyError) as exc:
        raise StoreError(
            f"{where} uses the numcodecs codec {codec_id!r}, which numcodecs cannot build ({exc})"
        ) from exc


def _fill(value: Any, dtype: np.dtype) -> Any:
    return dtype.type(_SPECIAL_FILLS.get(value, value)) if isinstance(value, str) else dtype.type(value)


@dataclass(frozen=True)
class ArraySpec:
    """What a reader needs of one array's ``zarr.json``: shape, dtype, fill, chunking, codecs."""

    path: str  # store-relative, e.g. "utm31/embeddings"
    shape: tuple[int, ...]
    dtype: np.dtype
    fill: Any
    dims: tuple[str, ...]
    outer: tuple[int, ...]  # the chunk grid's chunk: a shard, or a plain chunk
    inner: tuple[int, ...] | None  # inner chunk of a sharded array; None for a plain array
    codecs: tuple[tuple[str, dict], ...]  # bytes→bytes codecs of a (inner) chunk, encode order
    serializer: Any = field(compare=False)  # a numcodecs array→bytes codec, or None where the chunk is plain ``bytes``
    index_codecs: tuple[tuple[str, dict], ...]
    index_at_end: bool
    separator: str
    default_keys: bool

    @classmethod
    def from_metadata(cls, path: str, meta: dict) -> ArraySpec:
        try:
            dtype = np.dtype(_DTYPES[meta["data_type"]])
            outer = tuple(int(v) for v in meta["chunk_grid"]["configuration"]["chunk_shape"])
            keys = meta.get("chunk_key_encoding") or {"name": "default"}
            separator = (keys.get("configuration") or {}).get("separator", "/" if keys["name"] == "default" else ".")
            codecs = meta["codecs"]
            inner = index_codecs = None
            index_at_end = True
            if len(codecs) == 1 and codecs[0]["name"] == "sharding_indexed":
                cfg = codecs[0]["configuration"]
                inner = tuple(int(v) for v in cfg["chunk_shape"])
                index_at_end = cfg.get("index_location", "end") == "end"
                index_codecs = cfg["index_codecs"]
                codecs = cfg["codecs"]
            endian, serializer, chain = _codec_pipeline(codecs, path)
            dtype = dtype.newbyteorder(endian) if dtype.itemsize > 1 else dtype  # type: ignore[arg-type]
            index_chain: list = []
            if index_codecs is not None:
                _, _, index_chain = _codec_pipeline(index_codecs, f"{path} (shard index)")
            return cls(
                path,
                tuple(int(v) for v in meta["shape"]),
                dtype,
                _fill(meta["fill_value"], dtype),
                tuple(meta.get("dimension_names") or ()),
                outer,
                inner,
                tuple(chain),
                serializer,
                tuple(index_chain),
                index_at_end,
                separator,
                keys["name"] == "default",
            )
        except StoreError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StoreError(f"{path}/zarr.json is not Zarr v3 array metadata tessera can read ({exc})") from exc

    # -- geometry -----------------------------------------------------------------------------
    @property
    def spatial(self) -> tuple[int, int]:
        """Axes of (rows, columns): named ``y``/``x`` or ``northing``/``easting``, else the last two
        (the published repository's arrays keep the band axis last)."""
        names = [{"northing": "y", "easting": "x"}.get(d, d) for d in self.dims]
        if "y" in names and "x" in names:
            return names.index("y"), names.index("x")
        return len(self.shape) - 2, len(self.shape) - 1

    @property
    def planes(self) -> tuple[int, ...]:
        """Sizes of the axes besides time and the two spatial ones (a band or month axis), in order."""
        return tuple(n for i, n in enumerate(self.shape) if i and i not in self.spatial)

    @property
    def sharded(self) -> bool:
        return self.inner is not None

    @property
    def per_shard(self) -> tuple[int, ...]:
        """Inner chunks per shard along each axis."""
        inner = self.inner or self.outer
        return tuple(o // i for o, i in zip(self.outer, inner, strict=True))

    @property
    def index_nbytes(self) -> int:
        crc = any(name == "crc32c" for name, _ in self.index_codecs)
        return 16 * math.prod(self.per_shard) + (4 if crc else 0)

    def key(self, coords: tuple[int, ...]) -> str:
        """Store key of the outer chunk (shard) at grid coordinates ``coords``."""
        body = self.separator.join(str(c) for c in coords)
        return f"{self.path}/c{self.separator}{body}" if self.default_keys else f"{self.path}/{body}"

    # -- decoding -----------------------------------------------------------------------------
    def decode_index(self, raw: bytes, key: str, file_size: int | None = None) -> np.ndarray:
        """(n_inner, 2) uint64 (offset, nbytes) of a shard's index; damage if it fails its checks."""
        if len(raw) != self.index_nbytes:
            raise StoreDamageError(
                f"shard {key} is truncated ({file_size} bytes, smaller than its "
                f"{self.index_nbytes}-byte index); restore it, or `tessera verify --repair` and rerun `tessera embed`"
            )
        body = _strip_crc(raw, self.index_codecs, key, "index")
        index = np.frombuffer(body, "<u8").reshape(-1, 2)
        if file_size is not None:
            used = index[index[:, 0] != EMPTY]
            if len(used) and int((used[:, 0] + used[:, 1]).max()) > file_size:
                raise StoreDamageError(f"shard {key}'s index points past its end: the file is truncated")
        return index

    def decode_chunk(self, raw: bytes, where: str) -> np.ndarray:
        """One inner (or plain) chunk's values, shape ``inner`` (``outer`` for a plain array)."""
        data: bytes | memoryview = raw
        for name, cfg in reversed(self.codecs):
            if name == "crc32c":
                data = _strip_crc(data, ((name, cfg),), where, "chunk")
            else:
                data = _decompress(name, data, where)
        shape = self.inner or self.outer
        try:
            if self.serializer is not None:
                decoded = np.asarray(self.serializer.decode(data))
                return decoded.view(self.dtype).reshape(shape)
            return np.frombuffer(data, self.dtype).reshape(shape)
        except ValueError as exc:
            raise StoreDamageError(f"chunk {where} decodes to {len(data)} bytes, not {shape} of {self.dtype}") from exc
        except Exception as exc:  # a serialiser's own failure on damaged bytes
            raise StoreDamageError(f"chunk {where} cannot be decoded ({exc}): the shard is damaged") from exc


def _strip_crc(data: bytes | memoryview, codecs, key: str, what: str) -> bytes | memoryview:
    if not any(name == "crc32c" for name, _ in codecs):
        return data
    if len(data) < 4:
        raise StoreDamageError(f"{what} of {key} is shorter than its crc32c: the file is damaged")
    body, stored = data[:-4], bytes(data[-4:])
    if crc32c(body) != int.from_bytes(stored, "little"):
        raise StoreDamageError(
            f"{what} of {key} fails its crc32c checksum: the file is damaged; "
            "restore it, or `tessera verify --repair` and rerun `tessera embed`"
        )
    return body


@functools.cache
def _codec(name: str):
    import numcodecs

    # Decoders keep no state between calls (blosc takes a fresh context per call off the main
    # thread), so one instance serves every thread; making one per chunk cost more than decoding.
    return {"blosc": numcodecs.Blosc, "zstd": numcodecs.Zstd, "gzip": numcodecs.GZip}[name]()


def _decompress(name: str, data, where: str) -> bytes:
    try:
        return _codec(name).decode(data)
    except Exception as exc:
        raise StoreDamageError(f"chunk {where} cannot be decompressed ({name}): the shard is damaged") from exc
