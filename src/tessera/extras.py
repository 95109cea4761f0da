"""Which optional dependency group ("extra") each optional import comes from, so a missing one is
reported as the install command that fixes it rather than as a ``ModuleNotFoundError``.

A plain ``pip install tessera`` reads stores (``info``, ``sample``, ``export``, ``verify``,
``serve``); the rest comes with the extras named in ``pyproject.toml``.
"""

from __future__ import annotations

from tessera.errors import MissingExtraError

# Each extra → the top-level modules it installs and their distributions, as
# pyproject.toml's [project.optional-dependencies] lists them (a test keeps the two in step).
PROVIDES: dict[str, dict[str, str]] = {
    "model": {"torch": "torch", "safetensors": "safetensors"},
    "heads": {"sklearn": "scikit-learn", "skops": "skops", "scipy": "scipy"},
    "viz": {"matplotlib": "matplotlib", "folium": "folium"},
    "simulate": {"scipy": "scipy"},
    "dask": {"dask": "dask", "distributed": "distributed"},
    "acquire": {
        "pystac": "pystac",
        "pystac_client": "pystac-client",
        "odc": "odc-stac",
        "dask": "dask",
        "distributed": "distributed",
    },
    "geotessera": {"geopandas": "geopandas", "pyarrow": "pyarrow"},
    "s3": {"s3fs": "s3fs"},
    "pcodec": {"pcodec": "pcodec"},
    "icechunk": {"icechunk": "icechunk", "pcodec": "pcodec"},
    "planetary-computer": {"planetary_computer": "planetary-computer"},
    "explore": {"starlette": "starlette", "uvicorn": "uvicorn", "morecantile": "morecantile", "PIL": "pillow"},
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
    "audit": ("model", "heads", "viz", "dask"),
    "simulate": ("simulate",),
    "explore": ("explore", "heads", "viz"),
    "tiles": ("explore", "heads", "viz"),
}


def missing_extra(exc: ModuleNotFoundError, command: str | None = None) -> MissingExtraError | None:
    """The one-line error for an import that an extra would satisfy; None for any other module
    (a genuinely broken install should keep its traceback). Names every extra the command needs,
    adding the module's own only when none of those installs it."""
    module = (exc.name or "").split(".")[0]
    providers = [extra for extra, modules in PROVIDES.items() if module in modules]
    if not providers:
        return None
    needs = COMMAND_EXTRAS.get(command or "", ())
    wanted = needs if any(p in needs for p in providers) else (*needs, providers[0])
    who = f"`tessera {command}`" if command else "this"
    return MissingExtraError(
        f"{who} needs the extra{'s' if len(wanted) > 1 else ''} {', '.join(wanted)} ({module} is not installed): "
        f"pip install 'tessera[{','.join(wanted)}]'"
    )
