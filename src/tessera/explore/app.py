"""The explorer's and the tile server's HTTP side (Starlette): routes that turn requests into
``Workspace`` calls, the token that guards them, and errors as a 4xx with a one-line message.

Safety: the server answers only the hosts it was started for (a page elsewhere that resolves its
own name to 127.0.0.1 is refused); a random token guards every state-changing request, and every
request when the server listens beyond loopback. No request names a path on disk except a file
name inside the project folder (``Project.path``). A failure inside a handler is logged with its
traceback and answered 500 with one line; the page never sees a traceback.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tessera.errors import ExploreError, NoTileError, TesseraError

log = logging.getLogger("tessera.explore")
STATIC = Path(__file__).parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 8 << 20  # a request body above this is refused: no label is that large
PNG_HEADERS = {"Cache-Control": "no-cache"}  # versions are in the URL: the browser revalidates cheaply


class Guard:
    """Which hosts and which token a server accepts."""

    def __init__(self, host: str, port: int, token: str | None = None, everywhere: bool = False) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.everywhere = everywhere  # the token on every request, not only state-changing ones
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"} if host in LOOPBACK else None

    def check(self, request: Any) -> str | None:
        """Why ``request`` is refused (None if it is not)."""
        if self.hosts is not None and request.headers.get("host") not in self.hosts:
            return "this server answers only to its loopback address"
        needs = self.everywhere or request.method not in ("GET", "HEAD")
        given = (
            request.query_params.get("token")
            or request.headers.get("x-tessera-token")
            or request.cookies.get("tessera_token")
        )
        if needs and not (given and secrets.compare_digest(given, self.token)):
            return "missing or wrong token: open the URL the server printed (it carries ?token=…)"
        return None


def _error(status: int, message: str, request: Any) -> Any:
    from starlette.responses import JSONResponse

    log.warning("%d %s %s: %s", status, request.method, request.url.path, message)
    return JSONResponse({"error": message}, status_code=status)


def guarded(guard: Guard, handler: Callable) -> Callable:
    """``handler(request)`` behind the guard, with every error said in one line."""

    async def endpoint(request: Any) -> Any:
        refused = guard.check(request)
        if refused:
            return _error(403, refused, request)
        try:
            return await handler(request)
        except NoTileError as exc:
            return _error(404, str(exc), request)
        except TesseraError as exc:
            return _error(400, str(exc), request)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return _error(500, "internal error; the server's log has the details", request)

    return endpoint


async def body(request: Any) -> dict:
    """A request's JSON object, refused in one line if it is not one."""
    import json

    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ExploreError(f"the request body is {len(raw)} bytes; at most {MAX_BODY}")
    try:
        obj = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExploreError(f"the request body is not JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise ExploreError("the request body must be a JSON object")
    return obj


def field(obj: dict, name: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ExploreError(f"the request needs {name!r} ({names})")
    return value


def tile_coords(request: Any) -> tuple[int, int, int]:
    p = request.path_params
    try:
        return int(p["z"]), int(p["x"]), int(p["y"])
    except ValueError as exc:
        raise ExploreError("tile coordinates are whole numbers: /{z}/{x}/{y}.png") from exc


def png(data: bytes) -> Any:
    from starlette.responses import Response

    return Response(data, media_type="image/png", headers=PNG_HEADERS)
