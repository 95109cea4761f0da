"""The ``tessera`` command. The only module that knows every part; nothing imports it."""

from tessera.cli import cube_cmd, embed_cmd, quickstart_cmd, simulate_cmd, store_cmd, train_cmd  # noqa: F401  (registers the commands)
from tessera.cli.app import app, main

__all__ = ["app", "main"]
