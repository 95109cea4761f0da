"""Running an app: a socket bound first (so port 0 works and the printed URL is the real one),
then uvicorn serving it until Ctrl-C."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

from tessera.errors import ExploreError


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ExploreError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port (0: any free one) or --host"
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def not_a_cancelled_lifespan(record: logging.LogRecord) -> bool:
    """A filter for ``uvicorn.error``: Ctrl-C soon after the start cancels the app's lifespan
    task, and uvicorn logs Starlette's report of that (the traceback as text) as an error, though
    stopping then is as ordinary as stopping later."""
    import asyncio

    if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
        return False
    text = str(record.msg)
    return not (text.startswith("Traceback") and text.rstrip().endswith("CancelledError"))


def serve(app_for_port: Callable[[int], Any], sock: socket.socket, announce: Callable[[], None]) -> None:
    """Serve the app made for the socket's port until Ctrl-C (or SIGTERM), the way such a server
    is stopped: not an interruption. ``announce`` runs once the app has started, so the URL it
    prints answers."""
    import uvicorn

    from tessera.explore.tiles import quiet_warp_warnings

    class Announcing(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                announce()

    quiet_warp_warnings()
    logging.getLogger("uvicorn.error").addFilter(not_a_cancelled_lifespan)
    config = uvicorn.Config(app_for_port(sock.getsockname()[1]), log_level="warning", access_log=False)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn shuts down gracefully, then re-raises the signal
        Announcing(config).run(sockets=[sock])
