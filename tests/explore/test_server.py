"""How the explorer's and the tile server's process stops: Ctrl-C is not an error."""

import asyncio
import logging

from tessera.explore.server import not_a_cancelled_lifespan


def _record(msg: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, msg, None, info)


def test_a_lifespan_cancelled_by_ctrl_c_is_not_logged_but_other_errors_are():
    # What Starlette sends uvicorn when Ctrl-C cancels the lifespan task: the traceback as text.
    starlette = "Traceback (most recent call last):\n  ...\n    await receive()\nasyncio.exceptions.CancelledError\n"
    assert not not_a_cancelled_lifespan(_record(starlette))
    assert not not_a_cancelled_lifespan(_record("Exception in 'lifespan' protocol\n", asyncio.CancelledError()))
    assert not_a_cancelled_lifespan(_record("Traceback (most recent call last):\nValueError: broken app\n"))
    assert not_a_cancelled_lifespan(_record("Exception in 'lifespan' protocol\n", ValueError("broken")))
