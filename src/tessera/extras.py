"""Which optional dependency group ("extra") each optional import comes from, so a missing one is
reported as the install command that fixes it rather than as a ``ModuleNotFoundError``.

A plain ``pip install tessera`` reads stores (``info``, ``sample``, ``export``, ``verify``,
``serve``); the rest comes with the extras named in ``pyproject.toml``.
"""

from __future__ import annotations

from tessera.errors import MissingExtraError

# Top-level module → the extra that installs it.
EXTRA_OF: dict[str, str] = {
    "torch": "model",
    "safetensors": "model",
    "sklearn": "heads",
    "scipy": "simulate",
    "skops": "heads",
    "matplotlib": "viz",
    "folium": "viz",
    "dask": "dask",
    "distributed": "dask",
    "pystac": "acquire",
    "pystac_client": "acquire",
    "odc": "acquire",
    "geopandas": "geotessera",
    "pyarrow": "geotessera",
    "s3fs": "s3",
    "icechunk": "icechunk",
    "planetary_computer": "planetary-computer",
}

# What each command needs beyond the reader install: the message names all of it at once, so a
# user installs once rather than once per missing module.
COMMAND_EXTRAS: dict[str, tuple[str, ...]] = {
    "embed": ("model", "dask"),
    "shards": ("model",),
    "train": ("model", "viz"),
    "adapt": ("model", "viz"),
    "quickstart": ("model", "heads", "viz", "simulate", "dask"),
    "heads": ("heads", "viz"),
    "similar": ("heads", "viz"),
    "change": ("heads", "viz"),
    "viz": ("viz",),
    "acquire": ("acquire", "dask"),
    "simulate": ("simulate",),
    "cube": (),
}


def missing_extra(exc: ModuleNotFoundError, command: str | None = None) -> MissingExtraError | None:
    """The one-line error for an import that an extra would satisfy; None for any other module
    (a genuinely broken install should keep its traceback)."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(module)
    if extra is None:
        return None
    wanted = tuple(dict.fromkeys((*COMMAND_EXTRAS.get(command or "", ()), extra)))
    who = f"`tessera {command}`" if command else "this"
    return MissingExtraError(
        f"{who} needs the extra{'s' if len(wanted) > 1 else ''} {', '.join(wanted)} ({module} is not installed): "
        f"pip install 'tessera[{','.join(wanted)}]'"
    )
