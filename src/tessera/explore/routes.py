"""The explorer's routes: the page, its static files, its tiles and TileJSON, and the JSON API the
page calls (each a ``Workspace`` method, run on a worker thread)."""

from __future__ import annotations

from typing import Any

from tessera.explore.app import STATIC, Guard, body, field, guarded, png, tile_coords
from tessera.explore.tiles import tilejson
from tessera.explore.tileserver import TileService
from tessera.explore.workspace import Workspace
from tessera.viz.geo import LEAFLET


def _starlette(routes: list) -> Any:
    """An app whose worker threads (tiles and API calls run there) are sized from the cores this
    process may use: more would only queue behind each other and thrash the caches."""
    import contextlib

    import anyio.to_thread
    from starlette.applications import Starlette

    from tessera.cpus import cores_for_work

    @contextlib.asynccontextmanager
    async def lifespan(app):
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2 * cores_for_work() + 2
        yield

    return Starlette(routes=routes, lifespan=lifespan)


def explorer_app(ws: Workspace, guard: Guard) -> Any:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse
    from starlette.routing import Route

    async def page(request):
        html = (STATIC / "index.html").read_text()
        response = HTMLResponse(html)
        if request.query_params.get("token") == guard.token:  # later requests carry it as a cookie
            response.set_cookie("tessera_token", guard.token, httponly=True, samesite="strict")
        return response

    async def static(request):
        name = request.path_params["path"]
        root = LEAFLET if name.startswith("vendor/leaflet/") else STATIC
        path = (root / name.removeprefix("vendor/leaflet/")).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            return JSONResponse({"error": "no such file"}, status_code=404)
        return FileResponse(path)

    async def state(request):
        return JSONResponse(await run_in_threadpool(ws.state))

    async def tile(request):
        z, x, y = tile_coords(request)
        params = {k: v for k, v in request.query_params.items() if k in ("min",)}
        return png(await run_in_threadpool(ws.tile, request.path_params["layer"], z, x, y, params))

    async def layer_json(request):
        name = request.path_params["layer"]
        if name not in ws.layers:
            return JSONResponse({"error": f"no layer {name!r}"}, status_code=404)
        base = str(request.base_url).rstrip("/")
        token = f"?token={guard.token}" if guard.everywhere else ""
        doc = tilejson(name, f"{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.png{token}", ws.zooms, ws.area.bounds)
        return JSONResponse(doc)

    def call(method, *names_kinds):
        async def handler(request):
            obj = await body(request)
            args = [field(obj, n, k) for n, k in names_kinds]
            return JSONResponse({"ok": True, "result": await run_in_threadpool(method, *args)})

        return handler

    num = (int, float)
    api = {
        "classes": call(lambda n, c: ws.add_class(n, c or None), ("name", str), ("colour", (str, type(None)))),
        "labels": call(ws.add_label, ("class", int), ("geometry", dict)),
        "undo": call(ws.undo),
        "query": call(ws.query, ("geometry", dict)),
        "expand": call(lambda c, t: ws.expand(c, float(t)), ("class", int), ("threshold", num)),
        "suggest": call(ws.suggest, ("k", int)),
        "adopt": call(ws.adopt, ("cluster", int), ("class", int)),
        "next": call(ws.label_next, ("n", int)),
        "train": call(ws.train, ("head", str)),
        "export": call(ws.export),
        "head": call(ws.load_head, ("name", str)),
        "change": call(ws.change, ("from", int), ("to", int)),
        "settings": call(ws.settings, ("updates", dict)),
    }
    routes = [
        Route("/", guarded(guard, page)),
        Route("/api/state", guarded(guard, state)),
        Route("/tiles/{layer}/{z}/{x}/{y}.png", guarded(guard, tile)),
        Route("/tiles/{layer}.json", guarded(guard, layer_json)),
        *(Route(f"/api/{name}", guarded(guard, h), methods=["POST"]) for name, h in api.items()),
        Route("/static/{path:path}", guarded(guard, static)),
    ]
    return _starlette(routes)


def tiles_app(service: TileService, guard: Guard) -> Any:
    """``tessera tiles``: ``/{z}/{x}/{y}.png`` and ``/tilejson.json`` of one layer."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def tile(request):
        z, x, y = tile_coords(request)
        return png(await run_in_threadpool(service.tile, z, x, y))

    async def document(request):
        base = str(request.base_url).rstrip("/")
        return JSONResponse(service.tilejson(base, guard.token if guard.everywhere else None))

    routes = [
        Route("/{z}/{x}/{y}.png", guarded(guard, tile)),
        Route("/tilejson.json", guarded(guard, document)),
        Route("/", guarded(guard, document)),
    ]
    return _starlette(routes)
