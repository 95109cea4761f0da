"""The ``tessera`` command: a shell over the library. Each command parses its options, calls one
library function and prints; shared options live in ``options``. Nothing imports this package."""

from tessera.cli import (  # noqa: F401  (registers the commands)
    acquire_cmd,
    adapt_cmd,
    audit_cmd,
    change_cmd,
    coverage_cmd,
    cube_cmd,
    cube_tif_cmd,
    embed_cmd,
    explore_cmd,
    export_cmd,
    heads_cmd,
    heads_map_cmd,
    heads_predict_cmd,
    heads_suggest_cmd,
    quickstart_cmd,
    similar_cmd,
    simulate_cmd,
    store_cmd,
    train_cmd,
    viz_cmd,
    weights_cmd,
)
from tessera.cli.app import app, main

__all__ = ["app", "main"]
