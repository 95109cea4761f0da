"""The ``tessera`` command. The only module that knows every part; nothing imports it."""

from tessera.cli import (  # noqa: F401  (registers the commands)
    acquire_cmd,
    change_cmd,
    cube_cmd,
    embed_cmd,
    heads_cmd,
    quickstart_cmd,
    similar_cmd,
    simulate_cmd,
    store_cmd,
    train_cmd,
    viz_cmd,
)
from tessera.cli.app import app, main

__all__ = ["app", "main"]
